// Package apitest tests modules against a real Kubernetes API server: each module is applied,
// with server-side apply and strict field validation, onto an API server that holds nothing but
// the objects of the module's declared hard dependencies. What the server refuses, and the kinds
// it does not serve, are reported per module with the file and line of the object.
package apitest

import (
	"fmt"
	"slices"
	"sort"

	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Step is one module of a plan, its objects in apply order: CustomResourceDefinitions, then
// Namespaces, then the rest in render order.
type Step struct {
	Module string
	// FluxName is the name of the module's Flux Kustomization, which Flux puts on every object it
	// applies as the label rule.FluxNameLabel (and which Kyverno policies find modules by).
	FluxName string
	Objects  []*manifest.Object
}

// Plan is the test of one module: the steps of its hard-dependency closure in dependency order,
// then the module's own step (the last one).
type Plan struct {
	Module string
	Steps  []Step
	// Provided are the API groups that the modules of the plan declare in provides.apis, sorted.
	Provided []string
	// Unrendered names the modules of the plan that did not render (their objects are missing).
	Unrendered []string
}

// Plans returns one plan per selected module (nil selects every module), in module-name order.
// Components are left out: they are tested through the modules that include them.
func Plans(r *rule.Repo, selected []string) ([]Plan, error) {
	names := selected
	if len(names) == 0 {
		for _, m := range r.Modules {
			names = append(names, m.Name())
		}
	}
	names = slices.Clone(names)
	sort.Strings(names)
	var plans []Plan
	for _, n := range slices.Compact(names) {
		m := r.ByName[n]
		if m == nil {
			return nil, fmt.Errorf("unknown module %q", n)
		}
		if m.Spec.Type == module.Component {
			continue
		}
		p, err := planOf(r, n)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// planOf builds the plan of module name.
func planOf(r *rule.Repo, name string) (Plan, error) {
	order, err := Closure(r.Graph, name)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Module: name}
	groups := map[string]bool{}
	for _, n := range order {
		m := r.ByName[n]
		if m == nil || m.Spec.Type == module.Component {
			continue
		}
		for _, g := range m.Spec.Provides.APIs {
			groups[g] = true
		}
		if !r.Rendered[n] {
			p.Unrendered = append(p.Unrendered, n)
		}
		p.Steps = append(p.Steps, Step{Module: n, FluxName: fluxName(r, m), Objects: Order(r.Objects[n])})
	}
	for g := range groups {
		p.Provided = append(p.Provided, g)
	}
	sort.Strings(p.Provided)
	return p, nil
}

// fluxName is the name of m's Flux Kustomization; "" without a configuration.
func fluxName(r *rule.Repo, m *module.Module) string {
	if r.Config == nil {
		return ""
	}
	return r.Config.FluxName(m)
}

// Closure returns the hard-dependency closure of name in dependency order (every module after
// its dependencies; dependencies of one module in name order), ending with name itself. A cycle
// is an error that names it.
func Closure(g *graph.Graph, name string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1: on the current path, 2: done
	var path []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			i := slices.Index(path, n)
			return fmt.Errorf("dependency cycle: %s", graph.FormatPath(append(slices.Clone(path[i:]), n)))
		case 2:
			return nil
		}
		state[n] = 1
		path = append(path, n)
		for _, d := range g.Deps(n) {
			if err := visit(d); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		order = append(order, n)
		return nil
	}
	if err := visit(name); err != nil {
		return nil, err
	}
	return order, nil
}

// Order returns objs in apply order: CustomResourceDefinitions first, then Namespaces, then the
// rest; the render order is kept within each group.
func Order(objs []*manifest.Object) []*manifest.Object {
	out := slices.Clone(objs)
	slices.SortStableFunc(out, func(a, b *manifest.Object) int { return rank(a) - rank(b) })
	return out
}

// rank is an object's group in apply order.
func rank(o *manifest.Object) int {
	switch {
	case isCRD(o.Ref):
		return 0
	case o.Ref.Kind == "Namespace" && o.Ref.Group() == "":
		return 1
	default:
		return 2
	}
}

// isCRD reports whether ref is a CustomResourceDefinition.
func isCRD(ref manifest.ObjectRef) bool {
	return ref.Kind == "CustomResourceDefinition" && ref.Group() == "apiextensions.k8s.io"
}
