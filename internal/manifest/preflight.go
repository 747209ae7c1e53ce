package manifest

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"polc.dev/polc/internal/kschema"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomizationRefs are the kustomization fields that name files or directories kustomize reads,
// as lists of strings (a path, or for some fields an inline YAML document).
var kustomizationRefs = []string{"resources", "components", "bases", "crds", "patchesStrategicMerge",
	"transformers", "generators", "validators", "configurations"}

// configRefs are the kustomization fields whose files (or inline documents) are transformer and
// generator configurations, which may themselves name files that kustomize loads.
var configRefs = map[string]bool{"transformers": true, "generators": true, "validators": true}

// kustomizationPathRefs are the kustomization fields that hold a list of objects with a path (or
// an inline patch).
var kustomizationPathRefs = []string{"patches", "patchesJson6902", "replacements"}

// walk is the state of one preflight walk over the kustomizations that one build reads.
type walk struct {
	// cost memoises, per kustomization directory, how many kustomization builds and source
	// documents kustomize will process for it (kustomize builds a directory again each time it is
	// listed, so a diamond of bases multiplies the work).
	cost map[string]*cost
	// remotes are the remote references dropped, in walk order.
	remotes []Remote
	// local holds, by repository-relative path, kustomization files that exist only for this
	// build: generated from a Flux Kustomization, or a file with a Flux Kustomization's settings
	// applied. They replace the file on disk, if any.
	local map[string][]byte
	// extraIndex are more files or directories (relative) to index for the positions of the
	// build's objects: the components that a Flux Kustomization adds.
	extraIndex []string
	// schema is how the build uses kustomize's OpenAPI schema.
	schema kschema.Use
}

// source returns the parsed kustomization file kfile as this build reads it.
func (r *Renderer) source(w *walk, kfile string) *File {
	if data, ok := w.local[kfile]; ok {
		return ParseFile(kfile, data)
	}
	return r.Sources.Get(kfile)
}

// cost is the work kustomize does for one directory.
type cost struct {
	builds, docs int
	done         bool
}

// preflight checks, before kustomize sees them, every local YAML file that the kustomization in
// dir reads (kustomization files, resources, components, patches, transformer configurations),
// following directories recursively, and returns the work kustomize will do for it:
//   - a remote reference (a URL, a git repository) is never fetched: it is dropped from an
//     in-memory copy of the kustomization, which is what kustomize then reads (Renderer.overlay),
//     and recorded in w.remotes;
//   - a reference that leaves the repository, directly or through a symlink, is refused with the
//     position of the reference (kustomize's own message would name an absolute path, or no
//     reason);
//   - a file with an alias bomb is refused: kustomize expands aliases when it decodes a file and
//     would spend minutes and gigabytes on a billion-laughs document. Files are parsed through
//     Sources, which the renderer reads again to locate objects, so nothing is parsed twice.
//
// Other problems (a missing or unparseable file) are left to kustomize, which reports them in
// its own words.
func (r *Renderer) preflight(dir string, w *walk) (cost, *RenderError) {
	if c, ok := w.cost[dir]; ok {
		return *c, nil // done, or a cycle in progress (kustomize reports cycles)
	}
	c := &cost{builds: 1}
	w.cost[dir] = c
	kfile := r.kustomizationFile(dir)
	f := r.source(w, kfile)
	if err := refused(f.Err, Pos{File: kfile}); err != nil {
		return *c, err
	}
	if f.Err != nil || len(f.Docs) == 0 {
		return *c, nil
	}
	k := f.Docs[0].Node.Copy()
	w.schema = max(w.schema, kschema.Of(k))
	remotes := len(w.remotes)
	for _, field := range kustomizationRefs {
		if err := r.filterRefs(k, field, dir, kfile, w, c); err != nil {
			return *c, err
		}
	}
	for _, field := range kustomizationPathRefs {
		if err := r.filterPathRefs(k, field, dir, kfile, w); err != nil {
			return *c, err
		}
	}
	w.remotes = append(w.remotes, dropRemote(k, kfile)...)
	if len(w.remotes) > remotes {
		if s, err := k.String(); err == nil {
			if _, ok := w.local[kfile]; ok {
				w.local[kfile] = []byte(s)
			} else {
				r.overlay.Store(kfile, []byte(s))
			}
		}
	}
	c.done = true
	return *c, nil
}

// filterRefs checks the entries of list field of kustomization k (a copy, read from kfile in
// dir), drops the remote ones from k, follows local directories and adds their cost to c.
func (r *Renderer) filterRefs(k *yaml.RNode, field, dir, kfile string, w *walk, c *cost) *RenderError {
	return filterItems(k, field, func(e *yaml.Node) (bool, *RenderError) {
		n := deref(e)
		if n.Kind != yaml.ScalarNode || n.Value == "" {
			return true, nil
		}
		at := Pos{File: kfile, Line: n.Line, Column: n.Column}
		if strings.Contains(n.Value, "\n") {
			// An inline document (patchesStrategicMerge, transformers).
			pf := ParseFile(kfile, []byte(n.Value))
			if err := refused(pf.Err, at); err != nil {
				return false, err
			}
			if rem := remoteIn(pf, field); rem != nil {
				w.remotes = append(w.remotes, Remote{Field: field, Ref: rem.Value, Pos: at})
				return false, nil
			}
			return true, nil
		}
		if IsRemote(n.Value) {
			w.remotes = append(w.remotes, remoteAt(field, n, kfile))
			return false, nil
		}
		p := path.Join(dir, n.Value)
		mode, err := r.stat(p)
		if err := leaves(err, field, n.Value, at); err != nil {
			return false, err
		}
		if err != nil {
			return true, nil // missing: kustomize reports it
		}
		if mode.IsDir() {
			sub, err := r.preflight(p, w)
			if err != nil {
				return false, err
			}
			c.builds += sub.builds
			c.docs += sub.docs
			return true, nil
		}
		pf := r.Sources.Get(p)
		if err := refused(pf.Err, Pos{File: p}); err != nil {
			return false, err
		}
		c.docs += len(pf.Docs)
		if rem := remoteIn(pf, field); rem != nil {
			// A transformer configuration that loads a remote file: drop the transformer.
			w.remotes = append(w.remotes, Remote{Field: field, Ref: rem.Value, Pos: Pos{File: p, Line: rem.Line, Column: rem.Column}})
			return false, nil
		}
		return true, nil
	})
}

// filterItems calls keep on each item of list field key of mapping n and removes the items it
// does not keep; it stops at the first error.
func filterItems(n *yaml.RNode, key string, keep func(item *yaml.Node) (bool, *RenderError)) *RenderError {
	f := n.Field(key)
	if f == nil || deref(f.Value.YNode()).Kind != yaml.SequenceNode {
		return nil
	}
	list := deref(f.Value.YNode())
	kept := list.Content[:0:0]
	for _, e := range list.Content {
		ok, err := keep(e)
		if err != nil {
			return err
		}
		if ok {
			kept = append(kept, e)
		}
	}
	if len(kept) != len(list.Content) {
		f.Value.YNode().Kind, f.Value.YNode().Alias, f.Value.YNode().Content = yaml.SequenceNode, nil, kept
	}
	return nil
}

// remoteIn returns the first remote path in the documents of a configuration file listed under a
// configRefs field, or nil.
func remoteIn(f *File, field string) *yaml.Node {
	if !configRefs[field] {
		return nil
	}
	for _, d := range f.Docs {
		if n := findRemote(d.Node.YNode(), ""); n != nil {
			return n
		}
	}
	return nil
}

// filterPathRefs checks the path (and inline patch) of each entry of list field of kustomization
// k, and drops the entries whose path is remote.
func (r *Renderer) filterPathRefs(k *yaml.RNode, field, dir, kfile string, w *walk) *RenderError {
	return filterItems(k, field, func(e *yaml.Node) (bool, *RenderError) {
		n := deref(e)
		if n.Kind != yaml.MappingNode {
			return true, nil
		}
		entry := yaml.NewRNode(n)
		if v := entry.Field("patch"); v != nil {
			at := Pos{File: kfile, Line: v.Value.YNode().Line, Column: v.Value.YNode().Column}
			if err := refused(ParseFile(kfile, []byte(v.Value.YNode().Value)).Err, at); err != nil {
				return false, err
			}
		}
		v := entry.Field("path")
		if v == nil || deref(v.Value.YNode()).Kind != yaml.ScalarNode {
			return true, nil
		}
		pn := deref(v.Value.YNode())
		if IsRemote(pn.Value) {
			w.remotes = append(w.remotes, remoteAt(field+".path", pn, kfile))
			return false, nil
		}
		p := path.Join(dir, pn.Value)
		err := r.resolve(p)
		if err := leaves(err, field+".path", pn.Value, Pos{File: kfile, Line: pn.Line, Column: pn.Column}); err != nil {
			return false, err
		}
		if err == nil {
			if err := refused(r.Sources.Get(p).Err, Pos{File: p}); err != nil {
				return false, err
			}
		}
		return true, nil
	})
}

// leaves turns a Resolve error for a path that leaves the repository into a RenderError at the
// reference; other errors (a missing file) give nil, for kustomize to report.
func leaves(err error, field, value string, at Pos) *RenderError {
	for _, reason := range []error{module.ErrLeavesRepo, module.ErrSymlinkOutside, ErrNotFollowed} {
		if errors.Is(err, reason) {
			return &RenderError{Msg: fmt.Sprintf("%s: %s entry %q: %v", at, field, value, reason), Pos: at}
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
	case errors.Is(err, module.ErrLeavesRepo), errors.Is(err, module.ErrSymlinkOutside), errors.Is(err, ErrNotFollowed):
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
