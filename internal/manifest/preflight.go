package manifest

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomizationRefs are the kustomization fields that name files or directories kustomize reads,
// as lists of strings (a path, or for some fields an inline YAML document).
var kustomizationRefs = []string{"resources", "components", "bases", "crds", "patchesStrategicMerge",
	"transformers", "generators", "validators", "configurations"}

// kustomizationPathRefs are the kustomization fields that hold a list of objects with a path (or
// an inline patch).
var kustomizationPathRefs = []string{"patches", "patchesJson6902", "replacements"}

// preflight checks, before kustomize sees them, every local YAML file that the kustomization in
// dir reads (kustomization files, resources, components, patches, transformer configurations),
// following directories recursively:
//   - a reference that leaves the repository, directly or through a symlink, is refused with the
//     position of the reference (kustomize's own message would name an absolute path, or no
//     reason);
//   - a file with an alias bomb is refused: kustomize expands aliases when it decodes a file and
//     would spend minutes and gigabytes on a billion-laughs document. Files are parsed through
//     Sources, which the renderer reads again to locate objects, so nothing is parsed twice.
//
// Other problems (a missing or unparseable file) are left to kustomize, which reports them in
// its own words.
func (r *Renderer) preflight(dir string, seen map[string]bool) *RenderError {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	kfile := r.kustomizationFile(dir)
	f := r.Sources.Get(kfile)
	if err := refused(f.Err, Pos{File: kfile}); err != nil {
		return err
	}
	if f.Err != nil || len(f.Docs) == 0 {
		return nil
	}
	k := f.Docs[0].Node
	check := func(field string, n *yaml.Node) *RenderError {
		n = deref(n)
		if n.Kind != yaml.ScalarNode || n.Value == "" {
			return nil
		}
		at := Pos{File: kfile, Line: n.Line, Column: n.Column}
		if strings.Contains(n.Value, "\n") {
			// An inline document (patchesStrategicMerge, transformers, patches[].patch).
			return refused(ParseFile(kfile, []byte(n.Value)).Err, at)
		}
		if strings.Contains(n.Value, "://") || strings.HasPrefix(n.Value, "github.com/") {
			return nil // remote: kustomize refuses or fetches it, without polc's help
		}
		p := path.Join(dir, n.Value)
		abs, err := module.Resolve(r.Root, p)
		if errors.Is(err, module.ErrLeavesRepo) || errors.Is(err, module.ErrSymlinkOutside) {
			reason := module.ErrLeavesRepo
			if errors.Is(err, module.ErrSymlinkOutside) {
				reason = module.ErrSymlinkOutside
			}
			return &RenderError{Msg: fmt.Sprintf("%s: %s entry %q: %v", at, field, n.Value, reason), Pos: at}
		}
		if err != nil {
			return nil
		}
		if st, err := os.Stat(abs); err == nil && st.IsDir() {
			return r.preflight(p, seen)
		}
		return refused(r.Sources.Get(p).Err, Pos{File: p})
	}
	for _, field := range kustomizationRefs {
		for _, e := range listField(k, field) {
			if err := check(field, e); err != nil {
				return err
			}
		}
	}
	for _, field := range kustomizationPathRefs {
		for _, e := range listField(k, field) {
			if e = deref(e); e.Kind != yaml.MappingNode {
				continue
			}
			for _, key := range []string{"path", "patch"} {
				if v := yaml.NewRNode(e).Field(key); v != nil {
					if err := check(field+"."+key, v.Value.YNode()); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// refused turns a file error that must stop rendering (an alias bomb, a file outside the
// repository) into a RenderError; at is used when the error carries no position. Other errors
// give nil.
func refused(err error, at Pos) *RenderError {
	var ab *AliasBombError
	switch {
	case errors.As(err, &ab):
		if at.Line == 0 {
			at = ab.Pos
		}
		return &RenderError{Msg: fmt.Sprintf("%s: YAML aliases expand this document by more than %d nodes (alias bomb?)", at, maxAliasExpansion), Pos: at}
	case errors.Is(err, module.ErrLeavesRepo), errors.Is(err, module.ErrSymlinkOutside):
		return &RenderError{Msg: err.Error(), Pos: at}
	}
	return nil
}

// listField returns the items of a sequence field of a mapping node, or nil.
func listField(n *yaml.RNode, field string) []*yaml.Node {
	f := n.Field(field)
	if f == nil {
		return nil
	}
	list := deref(f.Value.YNode())
	if list.Kind != yaml.SequenceNode {
		return nil
	}
	return list.Content
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}
