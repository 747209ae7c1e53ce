package manifest

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/api/krusty"
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
}

// RenderError is a module that does not render: kustomize's error, or variables without value.
type RenderError struct {
	Msg string
	// Pos is the file (and line, when known) the problem comes from.
	Pos Pos
}

// Error returns the message, without the position.
func (e *RenderError) Error() string { return e.Msg }

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
// kustomize's output order, attributed to module mod.
func (r *Renderer) Render(dir, mod string) ([]*Object, error) {
	abs := filepath.Join(r.Root, filepath.FromSlash(dir))
	kfile := r.kustomizationFile(dir)
	if err := r.preflight(dir, map[string]bool{}); err != nil {
		return nil, err
	}
	resMap, err := krusty.MakeKustomizer(options()).Run(newRepoFS(r.Root), abs)
	if err != nil {
		return nil, &RenderError{Msg: strings.ReplaceAll(err.Error(), r.Root+string(filepath.Separator), ""), Pos: Pos{File: kfile}}
	}
	index := r.index(dir)
	var objs []*Object
	var unresolved []string
	for _, res := range resMap.Resources() {
		if err := stripInternal(&res.RNode); err != nil {
			return nil, err
		}
		node, missing, err := r.substitute(&res.RNode)
		if err != nil {
			return nil, &RenderError{Msg: fmt.Sprintf("substitute variables in %s: %v", RefOf(&res.RNode), err), Pos: Pos{File: kfile}}
		}
		o := &Object{Node: node, Module: mod, Ref: RefOf(node), Pos: Pos{File: kfile}}
		org := res.OrgId()
		if d, ok := index.find(org.Kind, org.Name, org.Namespace); ok {
			o.Source, o.Pos = d.Node, d.Pos
		}
		for _, v := range missing {
			unresolved = append(unresolved, fmt.Sprintf("${%s} in %s", v, o.Ref))
		}
		objs = append(objs, o)
	}
	if len(unresolved) > 0 {
		slices.Sort(unresolved)
		unresolved = slices.Compact(unresolved)
		return objs, &RenderError{Msg: "variables without a value or default (set them in polc.yaml spec.substitute): " + strings.Join(unresolved, ", "), Pos: Pos{File: kfile}}
	}
	return objs, nil
}

// kustomizationFiles are the names kustomize accepts, in its order of preference.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomizationFile returns the kustomization file of dir (relative), or kustomization.yaml.
func (r *Renderer) kustomizationFile(dir string) string {
	for _, n := range kustomizationFiles {
		p := path.Join(dir, n)
		if abs, err := module.Resolve(r.Root, p); err == nil {
			if st, err := os.Stat(abs); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return path.Join(dir, "kustomization.yaml")
}

// sourceIndex finds the source document of a rendered object by its original kind, name and
// namespace (before name prefixes, namespace transformers or substitution).
type sourceIndex struct {
	docs map[string][]Doc
	vars map[string]string
}

func (x sourceIndex) find(kind, name, ns string) (Doc, bool) {
	cands := x.docs[kind+"/"+name]
	for _, d := range cands {
		if d.Node.GetNamespace() == ns {
			return d, true
		}
	}
	if len(cands) > 0 {
		return cands[0], true
	}
	return Doc{}, false
}

// index reads the manifest files that the kustomization in dir includes through resources and
// components, recursively, and indexes their documents.
func (r *Renderer) index(dir string) sourceIndex {
	x := sourceIndex{docs: map[string][]Doc{}, vars: r.Vars}
	for _, file := range r.sourceFiles(dir, map[string]bool{}) {
		f := r.Sources.Get(file)
		for _, d := range f.Docs {
			name, _ := Substitute(d.Node.GetName(), r.Vars)
			key := d.Node.GetKind() + "/" + name
			x.docs[key] = append(x.docs[key], d)
		}
	}
	return x
}

// sourceFiles lists the files a kustomization includes, following directories recursively.
// Remote and unreadable entries are skipped: kustomize reports those itself.
func (r *Renderer) sourceFiles(dir string, seen map[string]bool) []string {
	if seen[dir] {
		return nil
	}
	seen[dir] = true
	f := r.Sources.Get(r.kustomizationFile(dir))
	if f.Err != nil || len(f.Docs) == 0 {
		return nil
	}
	var files []string
	for _, field := range []string{"resources", "components", "bases"} {
		list, err := f.Docs[0].Node.Pipe(yaml.Lookup(field))
		if err != nil || list == nil || list.YNode().Kind != yaml.SequenceNode {
			continue
		}
		for _, e := range list.Content() {
			if e.Kind != yaml.ScalarNode || strings.Contains(e.Value, "://") || strings.HasPrefix(e.Value, "github.com/") {
				continue
			}
			p := path.Join(dir, e.Value)
			abs, err := module.Resolve(r.Root, p)
			if err != nil {
				continue
			}
			if st, err := os.Stat(abs); err == nil && st.IsDir() {
				files = append(files, r.sourceFiles(p, seen)...)
			} else {
				files = append(files, p)
			}
		}
	}
	return files
}

// stripInternal removes the annotations kustomize and kyaml add for their own bookkeeping.
func stripInternal(n *yaml.RNode) error {
	for _, key := range []string{kioutil.PathAnnotation, kioutil.IndexAnnotation,
		kioutil.LegacyPathAnnotation, kioutil.LegacyIndexAnnotation, kioutil.IdAnnotation, kioutil.LegacyIdAnnotation} {
		if _, err := n.Pipe(yaml.ClearAnnotation(key)); err != nil {
			return err
		}
	}
	return nil
}

// substitute applies Flux substitution to one object, unless the object opts out with the label
// or the annotation kustomize.toolkit.fluxcd.io/substitute: disabled (Flux honours both).
func (r *Renderer) substitute(n *yaml.RNode) (*yaml.RNode, []string, error) {
	if !hasVariable(n.YNode()) || n.GetAnnotations()[disableSubstitution] == "disabled" || n.GetLabels()[disableSubstitution] == "disabled" {
		return n, nil, nil
	}
	s, err := n.String()
	if err != nil {
		return nil, nil, err
	}
	out, missing := Substitute(s, r.Vars)
	if out == s {
		return n, missing, nil
	}
	node, err := yaml.Parse(out)
	if err != nil {
		if len(missing) > 0 {
			// Empty values broke the YAML (b: ${x}-${y} became b: -): report the variables.
			return n, missing, nil
		}
		return nil, nil, err
	}
	return node, missing, nil
}

// hasVariable reports whether any key or value under n contains "${", without serialising.
func hasVariable(n *yaml.Node) bool {
	if strings.Contains(n.Value, "${") {
		return true
	}
	for _, c := range n.Content {
		if hasVariable(c) {
			return true
		}
	}
	return false
}
