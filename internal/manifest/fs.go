package manifest

import (
	"errors"
	"fmt"
	"path/filepath"

	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// errReadOnly is returned by every write: polc never writes into the repository it checks.
var errReadOnly = errors.New("polc does not write to the repository")

// repoFS is the file system kustomize renders from. It reads the repository on disk (or the
// Files it is given) but refuses paths and symlinks that leave it and files over the size cap,
// and refuses every write.
type repoFS struct {
	filesys.FileSystem
	root string
	// files, when set, is what the repository is read from instead of the disk.
	files Files
	// overlay returns the content that replaces a repository file (a kustomization without its
	// remote references), by relative path.
	overlay func(rel string) ([]byte, bool)
	// sources, when set, holds the files polc has already read (through the same checks), until
	// kustomize takes them.
	sources *Sources
}

var _ filesys.FileSystem = repoFS{}

func newRepoFS(root string, overlay func(rel string) ([]byte, bool), sources *Sources) repoFS {
	return repoFS{FileSystem: filesys.MakeFsOnDisk(), root: root, overlay: overlay, sources: sources}
}

// newRepoFSOf is newRepoFS over files instead of the disk; with nil files, it is newRepoFS.
func newRepoFSOf(root string, files Files, overlay func(rel string) ([]byte, bool), sources *Sources) repoFS {
	if files == nil {
		return newRepoFS(root, overlay, sources)
	}
	return repoFS{FileSystem: files.FileSystem(root), root: root, files: files, overlay: overlay, sources: sources}
}

// rel returns p relative to the repository root, slash-separated.
func (f repoFS) rel(p string) string {
	r, err := filepath.Rel(f.root, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}

// ReadFile reads a repository file through module.ReadFile's checks, or returns the content that
// the overlay or the run's Sources hold for it.
func (f repoFS) ReadFile(p string) ([]byte, error) {
	rel := f.rel(p)
	if f.overlay != nil {
		if data, ok := f.overlay(rel); ok {
			return data, nil
		}
	}
	if f.sources != nil {
		if data, ok := f.sources.take(rel); ok {
			return data, nil
		}
	}
	data, err := readFile(f.files, f.root, rel)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// Open is refused: kustomize reads through ReadFile. (Files hold no content behind their names,
// so there is nothing to open.)
func (f repoFS) Open(p string) (filesys.File, error) {
	if f.files != nil {
		return nil, fmt.Errorf("open %s: files of a git revision are read whole, not opened", f.rel(p))
	}
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
