package manifest

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// originAnnotation is where kustomize records an object's source file.
const originAnnotation = "config.kubernetes.io/origin"

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
	fs := newRepoFS(r.Root)
	resMap, err := krusty.MakeKustomizer(options()).Run(fs, abs)
	if err != nil {
		return nil, &RenderError{Msg: strings.ReplaceAll(err.Error(), r.Root+string(filepath.Separator), ""), Pos: Pos{File: path.Join(dir, "kustomization.yaml")}}
	}
	var objs []*Object
	var unresolved []string
	for _, res := range resMap.Resources() {
		file := r.originFile(dir, res)
		if err := stripInternal(&res.RNode); err != nil {
			return nil, err
		}
		node, missing, err := r.substitute(&res.RNode)
		if err != nil {
			return nil, &RenderError{Msg: fmt.Sprintf("substitute variables: %v", err), Pos: Pos{File: file}}
		}
		o := &Object{Node: node, Module: mod, Ref: RefOf(node), Pos: Pos{File: file}}
		r.locate(o)
		for _, v := range missing {
			unresolved = append(unresolved, fmt.Sprintf("${%s} in %s", v, o.Ref))
		}
		objs = append(objs, o)
	}
	if len(unresolved) > 0 {
		slices.Sort(unresolved)
		unresolved = slices.Compact(unresolved)
		return objs, &RenderError{Msg: "variables without a value or default (set them in polc.yaml spec.substitute): " + strings.Join(unresolved, ", "), Pos: Pos{File: path.Join(dir, "kustomization.yaml")}}
	}
	return objs, nil
}

// originFile returns the repository-relative source file of a rendered resource.
func (r *Renderer) originFile(dir string, res *resource.Resource) string {
	origin, err := res.GetOrigin()
	if err != nil || origin == nil || origin.Repo != "" {
		return path.Join(dir, "kustomization.yaml")
	}
	if origin.Path != "" {
		return path.Join(dir, origin.Path)
	}
	if origin.ConfiguredIn != "" {
		return path.Join(dir, origin.ConfiguredIn)
	}
	return path.Join(dir, "kustomization.yaml")
}

// stripInternal removes the annotations kustomize and kyaml add for their own bookkeeping.
func stripInternal(n *yaml.RNode) error {
	for _, key := range []string{originAnnotation, kioutil.PathAnnotation, kioutil.IndexAnnotation,
		kioutil.LegacyPathAnnotation, kioutil.LegacyIndexAnnotation, kioutil.IdAnnotation, kioutil.LegacyIdAnnotation} {
		if _, err := n.Pipe(yaml.ClearAnnotation(key)); err != nil {
			return err
		}
	}
	return nil
}

// substitute applies Flux substitution to one object, unless the object opts out.
func (r *Renderer) substitute(n *yaml.RNode) (*yaml.RNode, []string, error) {
	if n.GetAnnotations()[disableSubstitution] == "disabled" {
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
		return nil, nil, err
	}
	return node, missing, nil
}

// locate finds the object's document in its source file, matching by kind and name (the name may
// have been changed by a prefix, suffix or substitution).
func (r *Renderer) locate(o *Object) {
	f := r.Sources.Get(o.Pos.File)
	if f.Err != nil {
		return
	}
	var sameKind []Doc
	for _, d := range f.Docs {
		if d.Node.GetKind() == o.Ref.Kind {
			sameKind = append(sameKind, d)
		}
	}
	pick := func(d Doc) { o.Source, o.Pos = d.Node, d.Pos }
	for _, d := range sameKind {
		if name, _ := Substitute(d.Node.GetName(), r.Vars); name == o.Ref.Name {
			pick(d)
			return
		}
	}
	for _, d := range sameKind {
		if name := d.Node.GetName(); name != "" && strings.Contains(o.Ref.Name, name) {
			pick(d)
			return
		}
	}
	if len(sameKind) > 0 {
		pick(sameKind[0])
	}
}
