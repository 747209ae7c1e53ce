package manifest

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"polc.dev/polc/internal/kschema"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// disableSubstitution is Flux's annotation that turns post-build substitution off for an object.
const disableSubstitution = "kustomize.toolkit.fluxcd.io/substitute"

// Renderer renders modules in memory with kustomize's krusty, then applies Flux post-build
// substitution, as Flux's kustomize-controller does.
type Renderer struct {
	// Root is the absolute repository root.
	Root string
	// Vars are the values for ${var} substitution.
	Vars map[string]string
	// Sources locates objects in their source files.
	Sources *Sources
	// Limits bound the work of one render; zero fields take the defaults.
	Limits Limits
	// Files, when set, is what the repository is read from instead of the working tree on disk
	// (the tree of a git revision); Sources must then read through the same Files (see
	// NewSourcesOf). RenderFlux needs the disk.
	Files Files

	// overlay holds, by repository-relative path, the kustomization files that kustomize reads
	// instead of the files on disk: copies without their remote references.
	overlay sync.Map
}

// Limits bound the time and size of rendering one module, so that a hostile repository cannot
// make polc run or grow without end. A module over a limit fails with module/render.
type Limits struct {
	// Timeout is the deadline of one module's render (default DefaultTimeout).
	Timeout time.Duration
	// MaxObjects caps the objects of one module, and the source documents its kustomizations
	// read, counted as kustomize processes them (default DefaultMaxObjects).
	MaxObjects int
	// MaxBuilds caps the kustomization builds of one module: kustomize builds a base again each
	// time it is listed, so nested bases listed several times multiply (default DefaultMaxBuilds).
	MaxBuilds int
	// MaxObjectBytes caps the size of one object after substitution (default module.MaxFileSize).
	MaxObjectBytes int
}

// Default limits of one module's render.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxObjects = 5000
	DefaultMaxBuilds  = 500
)

// withDefaults returns l with its zero fields set to the defaults.
func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = DefaultMaxObjects
	}
	if l.MaxBuilds <= 0 {
		l.MaxBuilds = DefaultMaxBuilds
	}
	if l.MaxObjectBytes <= 0 {
		l.MaxObjectBytes = module.MaxFileSize
	}
	return l
}

// RenderError is a module that does not render: kustomize's error, or variables without value.
type RenderError struct {
	Msg string
	// Pos is the file (and line, when known) the problem comes from.
	Pos Pos
	// Err is the underlying error, when there is one (a cancelled context, for instance).
	Err error
}

// Error returns the message, without the position.
func (e *RenderError) Error() string { return e.Msg }

// Unwrap returns the underlying error.
func (e *RenderError) Unwrap() error { return e.Err }

// options are the krusty options, set in one place: input order kept, plugins off, files limited
// to each kustomization's root.
func options() *krusty.Options {
	return &krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsRootOnly,
		PluginConfig:     types.DisabledPluginConfig(),
	}
}

// Render builds the kustomization in dir (relative to the root) and returns its objects in
// kustomize's output order, attributed to module mod, after Flux substitution with r.Vars, and
// the remote references it did not fetch. It never reaches the network: remote entries are
// dropped before kustomize sees the kustomization. It stops at ctx's end or at Limits.Timeout,
// whichever comes first.
func (r *Renderer) Render(ctx context.Context, dir, mod string) ([]*Object, []Remote, error) {
	objs, remotes, err := r.buildObjects(ctx, dir, mod, newWalk(), options())
	if err != nil {
		return nil, remotes, err
	}
	objs, err = r.SubstituteObjects(objs, r.Vars, Pos{File: r.kustomizationFile(dir)}, "set them in polc.yaml spec.substitute")
	return objs, remotes, err
}

// newWalk returns the state of one build's preflight walk.
func newWalk() *walk {
	return &walk{cost: map[string]*cost{}, local: map[string][]byte{}}
}

// buildObjects builds the kustomization in dir with krusty options opts (after the preflight
// checks and limits) and returns its objects before substitution, each located in its source
// document, and the remote references dropped. w.local may hold kustomization files that exist
// only for this build (generated from a Flux Kustomization).
func (r *Renderer) buildObjects(ctx context.Context, dir, mod string, w *walk, opts *krusty.Options) ([]*Object, []Remote, error) {
	lim := r.Limits.withDefaults()
	abs := filepath.Join(r.Root, filepath.FromSlash(dir))
	kfile := r.kustomizationFile(dir)
	c, perr := r.preflight(dir, w)
	slices.SortStableFunc(w.remotes, func(a, b Remote) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	if perr != nil {
		return nil, w.remotes, perr
	}
	switch {
	case c.builds > lim.MaxBuilds:
		return nil, w.remotes, &RenderError{Msg: fmt.Sprintf("kustomize would build %d kustomizations for this module (bases listed more than once are built again); the limit is %d", c.builds, lim.MaxBuilds), Pos: Pos{File: kfile}}
	case c.docs > lim.MaxObjects:
		return nil, w.remotes, &RenderError{Msg: fmt.Sprintf("kustomize would read %d documents for this module; the limit is %d objects", c.docs, lim.MaxObjects), Pos: Pos{File: kfile}}
	}
	resMap, err := r.build(ctx, abs, lim.Timeout, w, opts)
	if err != nil {
		return nil, w.remotes, &RenderError{Msg: strings.ReplaceAll(err.Error(), r.Root+string(filepath.Separator), ""), Pos: Pos{File: kfile}, Err: err}
	}
	if n := resMap.Size(); n > lim.MaxObjects {
		return nil, w.remotes, &RenderError{Msg: fmt.Sprintf("the module renders %d objects; the limit is %d", n, lim.MaxObjects), Pos: Pos{File: kfile}}
	}
	index := r.index(dir, w.extraIndex)
	objs := make([]*Object, 0, resMap.Size())
	release := kschema.Acquire(kschema.None) // CurId reads the schema for the kind's scope
	defer release()
	for _, res := range resMap.Resources() {
		stripInternal(&res.RNode)
		node := &res.RNode
		o := &Object{Node: node, Module: mod, Ref: RefOf(node), Pos: Pos{File: kfile}}
		// krusty drops the build annotations that keep earlier ids, so this is the id after
		// kustomize's transformers and before substitution.
		id := res.CurId()
		if d, ok := index.find(id.Kind, id.Name, id.Namespace); ok {
			o.Source, o.Pos = d.Node, d.Pos
		}
		objs = append(objs, o)
	}
	return objs, w.remotes, nil
}

// SubstituteObjects applies Flux post-build substitution with vars to each object in place of its
// node (objects that opt out are left as they are). Variables without a value or default make a
// RenderError at pos, listing them, whose message ends with hint; the objects are returned
// anyway, substituted as far as possible.
func (r *Renderer) SubstituteObjects(objs []*Object, vars map[string]string, pos Pos, hint string) ([]*Object, error) {
	lim := r.Limits.withDefaults()
	var unresolved []string
	for _, o := range objs {
		node, missing, err := substitute(o.Node, vars, lim.MaxObjectBytes)
		if err != nil {
			return nil, &RenderError{Msg: fmt.Sprintf("substitute variables in %s: %v", o.Ref, err), Pos: pos}
		}
		if node != o.Node {
			o.Node, o.Ref = node, RefOf(node)
		}
		for _, v := range missing {
			unresolved = append(unresolved, fmt.Sprintf("${%s} in %s", v, o.Ref))
		}
	}
	if len(unresolved) > 0 {
		slices.Sort(unresolved)
		unresolved = slices.Compact(unresolved)
		return objs, &RenderError{Msg: "variables without a value or default (" + hint + "): " + strings.Join(unresolved, ", "), Pos: pos}
	}
	return objs, nil
}

// build runs krusty on the absolute directory abs, over the read-only repository view with the
// overlay of kustomizations without remote references. krusty cannot be interrupted: past the
// deadline, build returns an error and leaves the build to finish (or the process to end) on its
// own; the preflight limits keep such builds rare and finite.
func (r *Renderer) build(ctx context.Context, abs string, timeout time.Duration, w *walk, opts *krusty.Options) (resmap.ResMap, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if ctx.Err() != nil { // ended before the build starts: never race the build against it
		return nil, buildStopped(ctx, timeout)
	}
	type result struct {
		m   resmap.ResMap
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() { done <- res }()
		release := kschema.Acquire(w.schema)
		defer release()
		defer func() {
			// kustomize panics on some input (a kustomization's openapi schema that does not
			// parse): that is the module's render error, not the end of the run.
			if p := recover(); p != nil {
				res = result{err: fmt.Errorf("kustomize failed: %v", p)}
			}
		}()
		res.m, res.err = krusty.MakeKustomizer(opts).Run(newRepoFSOf(r.Root, r.Files, w.overlaid(r), r.Sources), abs)
	}()
	select {
	case res := <-done:
		return res.m, res.err
	case <-ctx.Done():
		return nil, buildStopped(ctx, timeout)
	}
}

// buildStopped is the error of a build that ctx ended: past the render timeout, or cancelled.
func buildStopped(ctx context.Context, timeout time.Duration) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("kustomize did not finish within %s (limit: polc.yaml spec.render.timeout)", timeout)
	}
	return fmt.Errorf("render: %w", ctx.Err())
}

// overlaid returns the function that gives, by repository-relative path, the in-memory content
// that kustomize reads instead of a file: the build's own kustomization files (w.local), then the
// run's copies of kustomization files without their remote references.
func (w *walk) overlaid(r *Renderer) func(rel string) ([]byte, bool) {
	return func(rel string) ([]byte, bool) {
		if data, ok := w.local[rel]; ok {
			return data, true
		}
		v, ok := r.overlay.Load(rel)
		if !ok {
			return nil, false
		}
		return v.([]byte), true
	}
}

// KustomizationFiles are the names kustomize accepts for a kustomization, in its order of
// preference.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomizationFile returns the kustomization file of dir (relative), or kustomization.yaml.
func (r *Renderer) kustomizationFile(dir string) string {
	for _, n := range KustomizationFiles {
		if p := path.Join(dir, n); r.isFile(p) {
			return p
		}
	}
	return path.Join(dir, "kustomization.yaml")
}

// sourceIndex finds where a rendered object is written by its kind, name and namespace as
// kustomize reports them, before Flux substitution, so that a name written with ${var} matches as
// written. An entry is the source document of a resource, or the configMapGenerator or
// secretGenerator entry that generates a ConfigMap or Secret.
type sourceIndex struct {
	// byName holds the entries by kind/name; byKind holds them by kind, for names that
	// kustomize changed.
	byName map[string][]indexed
	byKind map[string][]indexed
}

// indexed is one entry of a sourceIndex, with the name and namespace it is written with.
type indexed struct {
	doc      Doc
	name, ns string
}

// generators are the kustomization fields that generate objects, with the kind they generate.
var generators = []struct{ field, kind string }{
	{field: "configMapGenerator", kind: "ConfigMap"},
	{field: "secretGenerator", kind: "Secret"},
}

// find returns the entry of a rendered object. An entry of the same name is preferred, the one
// written in namespace ns first. Otherwise kustomize changed the name (namePrefix, nameSuffix,
// the hash suffix of generated objects), which keeps the written name inside the rendered one:
// the entry with the longest such name is taken, again preferring namespace ns.
func (x sourceIndex) find(kind, name, ns string) (Doc, bool) {
	if d, ok := pick(x.byName[kind+"/"+name], ns); ok {
		return d, true
	}
	var cands []indexed
	for _, c := range x.byKind[kind] {
		switch {
		case !strings.Contains(name, c.name):
		case len(cands) == 0 || len(c.name) > len(cands[0].name):
			cands = []indexed{c}
		case len(c.name) == len(cands[0].name):
			cands = append(cands, c)
		}
	}
	return pick(cands, ns)
}

// pick returns the candidate written in namespace ns, or else the first.
func pick(cands []indexed, ns string) (Doc, bool) {
	for _, c := range cands {
		if c.ns == ns {
			return c.doc, true
		}
	}
	if len(cands) > 0 {
		return cands[0].doc, true
	}
	return Doc{}, false
}

// add indexes an entry under its kind and name as written.
func (x sourceIndex) add(kind, name, ns string, d Doc) {
	if name == "" {
		return
	}
	e := indexed{doc: d, name: name, ns: ns}
	x.byName[kind+"/"+name] = append(x.byName[kind+"/"+name], e)
	x.byKind[kind] = append(x.byKind[kind], e)
}

// index reads the kustomization in dir and what it includes through resources, components and
// bases, recursively, and indexes the documents of the manifest files and the generator entries
// of the kustomizations.
func (r *Renderer) index(dir string, extra []string) sourceIndex {
	x := sourceIndex{byName: map[string][]indexed{}, byKind: map[string][]indexed{}}
	seen := map[string]bool{}
	r.indexDir(x, dir, seen)
	for _, p := range extra {
		r.indexEntry(x, p, seen)
	}
	return x
}

// indexDir indexes the kustomization in dir: its generator entries, then each file or directory
// it includes, in order. Remote and unreadable entries are skipped: kustomize reports those
// itself.
func (r *Renderer) indexDir(x sourceIndex, dir string, seen map[string]bool) {
	if seen[dir] {
		return
	}
	seen[dir] = true
	kfile := r.kustomizationFile(dir)
	f := r.Sources.Get(kfile)
	if f.Err != nil || len(f.Docs) == 0 || f.Docs[0].Node.YNode().Kind != yaml.MappingNode {
		return
	}
	k := f.Docs[0].Node
	indexGenerators(x, kfile, k)
	for _, field := range []string{"resources", "components", "bases"} {
		for _, e := range sequence(k, field) {
			if e.Kind != yaml.ScalarNode || strings.Contains(e.Value, "://") || strings.HasPrefix(e.Value, "github.com/") {
				continue
			}
			r.indexEntry(x, path.Join(dir, e.Value), seen)
		}
	}
}

// indexEntry indexes the directory or the manifest file p (relative).
func (r *Renderer) indexEntry(x sourceIndex, p string, seen map[string]bool) {
	mode, err := r.stat(p)
	if err != nil {
		return
	}
	if mode.IsDir() {
		r.indexDir(x, p, seen)
	} else {
		r.indexFile(x, p)
	}
}

// indexFile indexes the objects of the manifest file rel.
func (r *Renderer) indexFile(x sourceIndex, rel string) {
	for _, d := range r.Sources.Get(rel).Docs {
		if NotObject(d.Node) != nil {
			continue
		}
		x.add(d.Node.GetKind(), d.Node.GetName(), d.Node.GetNamespace(), d)
	}
}

// indexGenerators indexes the configMapGenerator and secretGenerator entries of the kustomization
// k, read from kfile; each entry is found at the line of its list item.
func indexGenerators(x sourceIndex, kfile string, k *yaml.RNode) {
	for _, g := range generators {
		for _, e := range sequence(k, g.field) {
			if e.Kind != yaml.MappingNode {
				continue
			}
			n := yaml.NewRNode(e)
			x.add(g.kind, String(n, "name"), String(n, "namespace"), Doc{Node: n, Pos: Pos{File: kfile, Line: e.Line, Column: e.Column}})
		}
	}
}

// sequence returns the items of the sequence at field of the mapping n, or nil when it is
// missing or not a sequence.
func sequence(n *yaml.RNode, field string) []*yaml.Node {
	list, err := n.Pipe(yaml.Lookup(field))
	if err != nil || list == nil || list.YNode().Kind != yaml.SequenceNode {
		return nil
	}
	return list.Content()
}

// LegacyReaderAnnotations are the annotations that older kio readers and kustomize versions add to
// objects (kioutil's deprecated Legacy*Annotation names, spelled out): polc removes them and never
// reads them.
var LegacyReaderAnnotations = []string{"config.kubernetes.io/path", "config.kubernetes.io/index", "config.k8s.io/id"}

// internalAnnotations are the annotations kustomize and kyaml add for their own bookkeeping.
var internalAnnotations = append([]string{kioutil.PathAnnotation, kioutil.IndexAnnotation, kioutil.IdAnnotation}, LegacyReaderAnnotations...)

// stripInternal removes the internal annotations from the object n in place, as yaml.ClearAnnotation
// does for each (an annotations mapping left empty stays), without a filter pipeline per key:
// it runs on every rendered object.
func stripInternal(n *yaml.RNode) {
	ann := mappingAt(n.YNode(), yaml.MetadataField, yaml.AnnotationsField)
	if ann == nil || !slices.ContainsFunc(ann.Content, isInternalKey) {
		return
	}
	kept := ann.Content[:0]
	for i := 0; i+1 < len(ann.Content); i += 2 {
		if !slices.Contains(internalAnnotations, ann.Content[i].Value) {
			kept = append(kept, ann.Content[i], ann.Content[i+1])
		}
	}
	ann.Content = kept
}

// isInternalKey reports whether the node is (the key of) an internal annotation.
func isInternalKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && slices.Contains(internalAnnotations, k.Value)
}

// mappingAt returns the mapping at the path of keys below the mapping n, or nil when a step is
// missing or not a mapping.
func mappingAt(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		n = child(n, k)
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	return n
}

// substitute applies Flux substitution to one object, unless the object opts out with the label
// or the annotation kustomize.toolkit.fluxcd.io/substitute: disabled (Flux honours both).
func substitute(n *yaml.RNode, vars map[string]string, limit int) (*yaml.RNode, []string, error) {
	if !hasVariable(n.YNode()) || n.GetAnnotations()[disableSubstitution] == "disabled" || n.GetLabels()[disableSubstitution] == "disabled" {
		return n, nil, nil
	}
	s, err := n.String()
	if err != nil {
		return nil, nil, err
	}
	out, missing, err := SubstituteLimit(s, vars, limit)
	if err != nil {
		return nil, nil, err
	}
	if out == s {
		return n, missing, nil
	}
	node, err := ParseObject(out)
	if err != nil {
		if len(missing) > 0 {
			// Empty values broke the YAML (b: ${x}-${y} became b: -): report the variables.
			return n, missing, nil
		}
		return nil, nil, err
	}
	return node, missing, nil
}

// hasVariable reports whether any key or value under n contains "${" or the "$$" escape (Flux
// turns it into "$" wherever it is), without serialising.
func hasVariable(n *yaml.Node) bool {
	if strings.Contains(n.Value, "${") || strings.Contains(n.Value, "$$") {
		return true
	}
	for _, c := range n.Content {
		if hasVariable(c) {
			return true
		}
	}
	return false
}
