package rego

import (
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Data returns what rules see under data.polc, as JSON-compatible values:
//
//	modules: {NAME: MODULE}   every module, see ModuleData
//	graph:   {edges: [{from, to, kind}], waves: [[NAME]]}
//
// data.polc.module is the MODULE of the object being checked. The schema rego-data.schema.json
// describes all of it, and policies are type-checked against it: a key added here must be added
// there (TestDataSchema fails until it is).
func Data(repo *rule.Repo) map[string]any {
	dependents := map[string][]string{}
	edges := []any{}
	waves := []any{}
	if repo.Graph != nil {
		for _, e := range repo.Graph.Edges {
			dependents[e.To] = append(dependents[e.To], e.From)
			edges = append(edges, map[string]any{"from": e.From, "to": e.To, "kind": string(e.Kind)})
		}
		ws, _ := repo.Graph.Waves()
		for _, w := range ws {
			waves = append(waves, strs(w))
		}
	}
	mods := map[string]any{}
	for _, m := range repo.Modules {
		if repo.ByName[m.Name()] != m {
			continue // a duplicate name; module/name reports it
		}
		d := ModuleData(m)
		deps := dependents[m.Name()]
		sort.Strings(deps)
		d["dependents"] = strs(deps)
		mods[m.Name()] = d
	}
	return map[string]any{"modules": mods, "graph": map[string]any{"edges": edges, "waves": waves}}
}

// ModuleData is one module's metadata as rules see it in data.polc.module: name, dir, type, tier,
// version, description, owner, namespaces [{name, podSecurity, reason}] (podSecurity defaults to
// restricted), dependsOn, softDependsOn, provides {apis}, exceptions [{rule, resources, reason,
// expires}], and (through Data) dependents. Absent strings are "", absent lists [].
func ModuleData(m *module.Module) map[string]any {
	s := m.Spec
	nss := []any{}
	for _, ns := range s.Namespaces {
		nss = append(nss, map[string]any{"name": ns.Name, "podSecurity": string(ns.Level()), "reason": ns.Reason})
	}
	exs := []any{}
	for _, ex := range s.Exceptions {
		res := []any{}
		for _, r := range ex.Resources {
			res = append(res, map[string]any{"kind": r.Kind, "name": r.Name, "namespace": r.Namespace})
		}
		exs = append(exs, map[string]any{"rule": ex.Rule, "resources": res, "reason": ex.Reason, "expires": ex.Expires})
	}
	return map[string]any{
		"name":          m.Name(),
		"dir":           m.Dir,
		"type":          string(s.Type),
		"tier":          string(s.Tier),
		"version":       s.Version,
		"description":   s.Description,
		"owner":         s.Owner,
		"namespaces":    nss,
		"dependsOn":     strs(s.DependsOn),
		"softDependsOn": strs(s.SoftDependsOn),
		"provides":      map[string]any{"apis": strs(s.Provides.APIs)},
		"exceptions":    exs,
		"dependents":    []any{},
	}
}

func strs(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

// Value converts a YAML node into a Rego value directly, without a JSON round trip. Scalars
// keep their YAML types (!!int and !!float become numbers, !!bool booleans, !!null null);
// other tags, such as timestamps, become strings.
func Value(n *yaml.Node) ast.Value {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return ast.Null{}
		}
		return Value(n.Content[0])
	case yaml.AliasNode:
		return Value(n.Alias)
	case yaml.MappingNode:
		obj := ast.NewObject()
		for i := 0; i+1 < len(n.Content); i += 2 {
			obj.Insert(ast.StringTerm(n.Content[i].Value), ast.NewTerm(Value(n.Content[i+1])))
		}
		return obj
	case yaml.SequenceNode:
		terms := make([]*ast.Term, len(n.Content))
		for i, c := range n.Content {
			terms[i] = ast.NewTerm(Value(c))
		}
		return ast.NewArray(terms...)
	}
	switch n.ShortTag() {
	case yaml.NodeTagNull:
		return ast.Null{}
	case yaml.NodeTagBool:
		var b bool
		if n.Decode(&b) == nil {
			return ast.Boolean(b)
		}
	case yaml.NodeTagInt, yaml.NodeTagFloat:
		var v any
		if n.Decode(&v) == nil {
			if x, err := ast.InterfaceToValue(v); err == nil {
				return x
			}
		}
	}
	return ast.String(n.Value)
}
