package apitest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// obj is a rendered object of module mod.
func obj(mod, apiVersion, kind, name string) *manifest.Object {
	return &manifest.Object{Module: mod, Ref: manifest.ObjectRef{APIVersion: apiVersion, Kind: kind, Name: name}}
}

// refs lists the objects of a step as Kind/name.
func refs(objs []*manifest.Object) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Ref.String())
	}
	return out
}

// testRepo is app -> (db, net), db -> net, with a component ui and an unrelated module other.
func testRepo() *rule.Repo {
	mods := []struct {
		name  string
		typ   module.Type
		deps  []string
		apis  []string
		objs  []*manifest.Object
		fails bool
	}{
		{name: "app", typ: module.Application, deps: []string{"net", "db"}, objs: []*manifest.Object{
			obj("app", "apps/v1", "Deployment", "web"), obj("app", "v1", "Namespace", "app"),
			obj("app", "example.com/v1", "Widget", "w"), obj("app", "cilium.io/v2", "CiliumNetworkPolicy", "p")}},
		{name: "db", typ: module.Infrastructure, deps: []string{"net"}, apis: []string{"example.com"}, objs: []*manifest.Object{
			obj("db", "v1", "ConfigMap", "c"), obj("db", "v1", "Namespace", "db"),
			obj("db", "apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
			obj("db", "v1", "Service", "s"), obj("db", "apiextensions.k8s.io/v1", "CustomResourceDefinition", "gadgets.example.com")}},
		{name: "net", typ: module.Infrastructure, apis: []string{"cilium.io"}, objs: []*manifest.Object{obj("net", "v1", "Namespace", "net")}},
		{name: "other", typ: module.Infrastructure, fails: true},
		{name: "ui", typ: module.Component},
	}
	r := &rule.Repo{ByName: map[string]*module.Module{}, Objects: map[string][]*manifest.Object{}, Rendered: map[string]bool{}}
	var nodes []graph.Node
	var edges []graph.Edge
	for _, m := range mods {
		mod := &module.Module{Metadata: module.Metadata{Name: m.name}}
		mod.Spec.Type = m.typ
		mod.Spec.Provides.APIs = m.apis
		r.Modules = append(r.Modules, mod)
		r.ByName[m.name] = mod
		r.Objects[m.name] = m.objs
		r.Rendered[m.name] = !m.fails
		nodes = append(nodes, graph.Node{Name: m.name, Type: string(m.typ)})
		for _, d := range m.deps {
			edges = append(edges, graph.Edge{From: m.name, To: d, Kind: graph.Hard})
		}
	}
	edges = append(edges, graph.Edge{From: "other", To: "app", Kind: graph.Soft})
	r.Graph = graph.New(nodes, edges)
	return r
}

func TestPlans(t *testing.T) {
	plans, err := Plans(testRepo(), nil)
	require.NoError(t, err)
	var names []string
	for _, p := range plans {
		names = append(names, p.Module)
	}
	assert.Equal(t, []string{"app", "db", "net", "other"}, names, "every module but the component, in name order")

	app := plans[0]
	var steps []string
	for _, s := range app.Steps {
		steps = append(steps, s.Module)
	}
	assert.Equal(t, []string{"net", "db", "app"}, steps, "the hard-dependency closure in dependency order, then the module")
	assert.Equal(t, []string{"cilium.io", "example.com"}, app.Provided)
	assert.Empty(t, app.Unrendered)
	assert.Equal(t, []string{
		"CustomResourceDefinition/widgets.example.com", "CustomResourceDefinition/gadgets.example.com",
		"Namespace/db", "ConfigMap/c", "Service/s",
	}, refs(app.Steps[1].Objects), "CRDs first, then namespaces, then the rest in render order")
	assert.Equal(t, []string{"Namespace/app", "Deployment/web", "Widget/w", "CiliumNetworkPolicy/p"}, refs(app.Steps[2].Objects))

	assert.Equal(t, []string{"other"}, plans[3].Unrendered, "soft dependencies are not applied")
	assert.Len(t, plans[3].Steps, 1)
}

func TestPlansSelected(t *testing.T) {
	plans, err := Plans(testRepo(), []string{"db", "ui", "db"})
	require.NoError(t, err)
	require.Len(t, plans, 1, "a component is tested through the modules that include it")
	assert.Equal(t, "db", plans[0].Module)
	assert.Equal(t, []string{"cilium.io", "example.com"}, plans[0].Provided)

	_, err = Plans(testRepo(), []string{"nope"})
	assert.ErrorContains(t, err, `unknown module "nope"`)
}

func TestClosureCycle(t *testing.T) {
	g := graph.New([]graph.Node{{Name: "a"}, {Name: "b"}, {Name: "c"}}, []graph.Edge{
		{From: "a", To: "b", Kind: graph.Hard}, {From: "b", To: "c", Kind: graph.Hard}, {From: "c", To: "b", Kind: graph.Hard}})
	_, err := Closure(g, "a")
	assert.EqualError(t, err, "dependency cycle: b -> c -> b")
}

func TestPluralOf(t *testing.T) {
	for kind, want := range map[string]string{
		"helmrelease": "helmreleases", "ingressclass": "ingressclasses", "policy": "policies",
		"gateway": "gateways", "box": "boxes", "recurringjob": "recurringjobs",
	} {
		assert.Equal(t, want, pluralOf(kind), kind)
	}
}
