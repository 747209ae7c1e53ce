package manifest

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// errReadOnly is returned by every write: polc never writes into the repository it checks.
var errReadOnly = errors.New("polc does not write to the repository")

// repoFS is the file system kustomize renders from. It reads the repository on disk but refuses
// paths and symlinks that leave it and files over the size cap, refuses every write, and makes
// each kustomization record where its resources come from (origin annotations), so findings on
// rendered objects point at their source file.
type repoFS struct {
	filesys.FileSystem
	root string
}

var _ filesys.FileSystem = repoFS{}

func newRepoFS(root string) repoFS {
	return repoFS{FileSystem: filesys.MakeFsOnDisk(), root: root}
}

// rel returns p relative to the repository root, slash-separated.
func (f repoFS) rel(p string) string {
	r, err := filepath.Rel(f.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// ReadFile reads a repository file through module.ReadFile's checks.
func (f repoFS) ReadFile(p string) ([]byte, error) {
	rel := f.rel(p)
	data, err := module.ReadFile(f.root, rel)
	if err != nil {
		return nil, err
	}
	if isKustomizationFile(p) {
		return withOriginAnnotations(rel, data)
	}
	return data, nil
}

// Open is refused: kustomize reads through ReadFile.
func (f repoFS) Open(p string) (filesys.File, error) {
	if _, err := module.Resolve(f.root, f.rel(p)); err != nil {
		return nil, err
	}
	return f.FileSystem.Open(p)
}

// Create is refused.
func (repoFS) Create(string) (filesys.File, error) { return nil, errReadOnly }

// Mkdir is refused.
func (repoFS) Mkdir(string) error { return errReadOnly }

// MkdirAll is refused.
func (repoFS) MkdirAll(string) error { return errReadOnly }

// RemoveAll is refused.
func (repoFS) RemoveAll(string) error { return errReadOnly }

// WriteFile is refused.
func (repoFS) WriteFile(string, []byte) error { return errReadOnly }

func isKustomizationFile(p string) bool {
	switch filepath.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// withOriginAnnotations adds originAnnotations to a kustomization's buildMetadata.
func withOriginAnnotations(rel string, data []byte) ([]byte, error) {
	n, err := yaml.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, module.YAMLError(rel, err))
	}
	if n.YNode().Kind != yaml.MappingNode {
		return data, nil // kustomize reports the malformed file itself
	}
	var meta []string
	if f := n.Field("buildMetadata"); f != nil {
		if f.Value.YNode().Kind == yaml.SequenceNode {
			for _, e := range f.Value.Content() {
				meta = append(meta, e.Value)
			}
		}
	}
	if slices.Contains(meta, "originAnnotations") {
		return data, nil
	}
	meta = append(meta, "originAnnotations")
	if err := n.PipeE(yaml.SetField("buildMetadata", yaml.NewListRNode(meta...))); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	out, err := n.String()
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimSpace(out) + "\n"), nil
}
