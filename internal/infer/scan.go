package infer

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// doc is one YAML document of a repository file, before kustomize.
type doc struct {
	node *yaml.RNode
	pos  module.Pos
}

// file returns the repository file the document comes from.
func (d doc) file() string { return d.pos.File }

// scan is what infer reads from the whole repository: the kustomization directories and every
// YAML document.
type scan struct {
	// kustomizations maps each directory holding a kustomization (slash-separated, relative to
	// the root) to its kustomization file.
	kustomizations map[string]string
	// docs are every document of every .yaml and .yml file, in path order.
	docs []doc
	// dirs are every directory scanned, relative to the root.
	dirs []string
}

// scanRepo walks the repository, skipping hidden and excluded directories and not following
// symlinks, and parses every YAML file through sources. Files that do not parse are left out:
// rendering reports them.
func scanRepo(root string, sources *manifest.Sources, excluded func(string) bool) (*scan, error) {
	s := &scan{kustomizations: map[string]string{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable directory holds nothing to infer from
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || excluded(rel)) {
				return filepath.SkipDir
			}
			s.dirs = append(s.dirs, rel)
			return nil
		}
		if !d.Type().IsRegular() || excluded(rel) {
			return nil
		}
		dir := path.Dir(rel)
		if slices.Contains(manifest.KustomizationFiles, d.Name()) {
			if prev, ok := s.kustomizations[dir]; !ok || preference(d.Name()) < preference(path.Base(prev)) {
				s.kustomizations[dir] = rel
			}
		}
		if ext := path.Ext(rel); ext != ".yaml" && ext != ".yml" && d.Name() != "Kustomization" {
			return nil
		}
		f := sources.Get(rel)
		if f.Err != nil {
			return nil
		}
		for _, dd := range f.Docs {
			// Only mappings can be objects; kyaml's accessors index other nodes as if they were.
			if manifest.NotObject(dd.Node) == nil {
				s.docs = append(s.docs, doc{node: dd.Node, pos: dd.Pos})
			}
		}
		return nil
	})
	return s, err
}

// excludes returns the globs of paths never scanned: polc.yaml spec.exclude, then extra (from
// --exclude), without repeats. A glob that is empty, absolute, leaves the repository or does not
// parse is an error.
func excludes(cfg *module.Config, extra []string) ([]string, error) {
	out := slices.Clone(cfg.Spec.Exclude)
	for _, g := range extra {
		clean := path.Clean(filepath.ToSlash(strings.TrimSpace(g)))
		if g == "" || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("--exclude %q: a glob of repository paths (ci/**, .archive/**) is relative and stays in the repository", g)
		}
		for _, e := range strings.Split(clean, "/") {
			if _, err := path.Match(e, ""); e != "**" && err != nil {
				return nil, fmt.Errorf("--exclude %q: %v", g, err)
			}
		}
		if !slices.Contains(out, clean) {
			out = append(out, clean)
		}
	}
	return out, nil
}

// excluded reports whether the repository path rel, or a directory above it, matches one of the
// exclude globs.
func (in *inferrer) excluded(rel string) bool {
	c := module.Config{Spec: module.ConfigSpec{Exclude: in.exclude}}
	return c.Excluded(rel)
}

func preference(name string) int { return slices.Index(manifest.KustomizationFiles, name) }

// kustomization returns the parsed kustomization of dir, or nil.
func (s *scan) kustomization(sources *manifest.Sources, dir string) *yaml.RNode {
	file, ok := s.kustomizations[dir]
	if !ok {
		return nil
	}
	f := sources.Get(file)
	if f.Err != nil || len(f.Docs) == 0 {
		return nil
	}
	return f.Docs[0].Node
}

// under reports whether p is dir or inside it (slash-separated, relative paths; "." is the root).
func under(p, dir string) bool {
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}

// isKind reports whether n has the kind and an apiVersion in group ("" for the core group).
func isKind(n *yaml.RNode, group, kind string) bool {
	if n.GetKind() != kind {
		return false
	}
	g, _, found := strings.Cut(n.GetApiVersion(), "/")
	if !found {
		g = ""
	}
	return g == group
}

// str returns the string at a field path of n, or "".
func str(n *yaml.RNode, fields ...string) string {
	v, err := n.Pipe(yaml.Lookup(fields...))
	if err != nil || v == nil || v.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return v.YNode().Value
}

// list returns the elements of the sequence at a field path of n.
func list(n *yaml.RNode, fields ...string) []*yaml.RNode {
	v, err := n.Pipe(yaml.Lookup(fields...))
	if err != nil || v == nil || v.YNode().Kind != yaml.SequenceNode {
		return nil
	}
	var out []*yaml.RNode
	for _, c := range v.YNode().Content {
		out = append(out, yaml.NewRNode(c))
	}
	return out
}

// strings returns the scalar elements of the sequence at a field path of n.
func scalars(n *yaml.RNode, fields ...string) []string {
	var out []string
	for _, e := range list(n, fields...) {
		if e.YNode().Kind == yaml.ScalarNode {
			out = append(out, e.YNode().Value)
		}
	}
	return out
}
