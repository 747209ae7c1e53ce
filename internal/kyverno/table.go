package kyverno

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// A table rule (rule.PolicyRule with a Lookup) compiles into one policy rule for every module,
// however many there are: the per-module facts become a module table that the rule looks the
// object's module up in, by key. This file builds those tables; clusterpolicy.go and
// validatingpolicy.go spell them in JMESPath and CEL.

// table is one table rule of a policy: what every module's rule shares, and the data.
type table struct {
	// Rule is the shared rule (the first module's, with its Data and examples).
	Rule *ModuleRule
	// Modules maps a module's name to its record: its Data, name and action.
	Modules map[string]map[string]any
	// Flux maps the Flux Kustomization names of the modules to the modules' names.
	Flux map[string]string
	// Owners maps namespaces to the names of the modules that own them (see ownersOf).
	Owners map[string]string
	// Dirs maps the modules' directories to their names, and Depth is the most path elements a
	// directory has (ByFluxPath).
	Dirs  map[string]string
	Depth int
	// Actions are the modules' actions, sorted.
	Actions []module.Action
	// Allow maps a module's name to its Allow selectors, when the rule has them (see allowForm).
	Allow map[string][]rule.Selector
	// grouped caches groups().
	grouped *[]group
}

// tables groups the table rules of a policy by name, in the order they first appear, and checks
// that every module's rule of a name is the same apart from its data and examples.
func tables(repo *rule.Repo, p *Policy) ([]*table, error) {
	var out []*table
	byName := map[string]*table{}
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.IsTable() {
			continue
		}
		t := byName[r.Name]
		if t == nil {
			t = &table{Rule: r, Modules: map[string]map[string]any{}, Flux: map[string]string{}, Dirs: map[string]string{}}
			byName[r.Name] = t
			out = append(out, t)
		} else if err := sameRule(t.Rule, r); err != nil {
			return nil, err
		}
		rec := map[string]any{}
		for k, v := range r.Data {
			rec[k] = v
		}
		rec["name"], rec["action"] = r.Module.Name(), string(r.Action)
		t.Modules[r.Module.Name()] = rec
		if r.Allow != nil {
			if t.Allow == nil {
				t.Allow = map[string][]rule.Selector{}
			}
			t.Allow[r.Module.Name()] = r.Allow
		}
		t.Flux[repo.Config.FluxName(r.Module)] = r.Module.Name()
		t.Dirs[r.Module.Dir] = r.Module.Name()
		t.Depth = max(t.Depth, strings.Count(r.Module.Dir, "/")+1)
		if !slices.Contains(t.Actions, r.Action) {
			t.Actions = append(t.Actions, r.Action)
			slices.Sort(t.Actions)
		}
	}
	for _, t := range out {
		t.Owners = ownersOf(repo, t)
	}
	return out, nil
}

// ownersOf maps namespaces to their owners for the scopes that look an object's namespace up:
// the namespaces the table's modules own; for ScopeNamespaceOrLabels every owned namespace, so
// that an object in a namespace owned by a module without the rule is not judged as one of a
// module it merely carries the labels of.
func ownersOf(repo *rule.Repo, t *table) map[string]string {
	out := map[string]string{}
	switch t.Rule.Lookup {
	case rule.ByNamespaceOrLabels:
		for ns := range repo.NamespaceOwners {
			if o := repo.Owner(ns); o != nil {
				out[ns] = o.Name()
			}
		}
	case rule.ByLabelsOrNamespace, rule.ByOwnedNamespace:
		for ns := range repo.NamespaceOwners {
			if o := repo.Owner(ns); o != nil && t.Modules[o.Name()] != nil {
				out[ns] = o.Name()
			}
		}
	}
	return out
}

// sameRule reports how b differs from a, two modules' rules of one name, in anything but their
// module, data and examples.
func sameRule(a, b *ModuleRule) error {
	strip := func(r *ModuleRule) rule.PolicyRule {
		c := r.PolicyRule
		c.Data, c.Pass, c.Fail = nil, nil, nil
		if c.Allow != nil { // every module's rule has Allow, or none has
			c.Allow = []rule.Selector{}
		}
		return c
	}
	if x, y := strip(a), strip(b); !reflect.DeepEqual(x, y) {
		return fmt.Errorf("table rule %s differs between modules %s and %s apart from its data: %s",
			a.Name, a.Module.Name(), b.Module.Name(), firstDiff(x, y))
	}
	return nil
}

// firstDiff names the first field in which two rules differ, for the error.
func firstDiff(a, b rule.PolicyRule) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return fmt.Sprintf("%s: %v / %v", va.Type().Field(i).Name, va.Field(i).Interface(), vb.Field(i).Interface())
		}
	}
	return "?"
}

// names returns the module names of t, sorted.
func (t *table) names() []string { return sortedKeys(t.Modules) }

// fluxNames returns the Flux Kustomization names of t, sorted.
func (t *table) fluxNames() []string { return sortedKeys(t.Flux) }

// namespaces returns the namespaces of t's owners table, sorted.
func (t *table) namespaces() []string { return sortedKeys(t.Owners) }

// sortedKeys returns the keys of a map, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// data is the table as one JSON value: {modules, flux, owners}, what the scope needs.
func (t *table) data() map[string]any {
	out := map[string]any{"modules": t.Modules}
	switch t.Rule.Lookup {
	case rule.ByLabels, rule.ByFluxName:
		out["flux"] = t.Flux
	case rule.ByLabelsOrNamespace, rule.ByNamespaceOrLabels:
		out["flux"], out["owners"] = t.Flux, t.Owners
	case rule.ByOwnedNamespace:
		out["owners"] = t.Owners
	case rule.ByFluxPath:
		out["dirs"] = t.Dirs
	}
	return out
}

// selectors are what a cheap match needs to know of the scope: every object the scope can find a
// module for is selected (the table decides the rest).
func (t *table) selectors(repo *rule.Repo) []rule.Selector { return t.selectorsOf(repo, "") }

// selectorsOf are the selectors of the modules of action a (every module when a is ""); for a
// rule whose check reads nothing of the module record (see dataFree) they select exactly the
// objects that the lookup finds a module of action a for, or of one such module among others.
func (t *table) selectorsOf(repo *rule.Repo, a module.Action) []rule.Selector {
	keep := func(name string) bool { return a == "" || t.Modules[name]["action"] == string(a) }
	var names, fluxNames, namespaces []string
	for _, n := range t.names() {
		if keep(n) {
			names = append(names, n)
		}
	}
	for _, f := range t.fluxNames() {
		if keep(t.Flux[f]) {
			fluxNames = append(fluxNames, f)
		}
	}
	for _, ns := range t.namespaces() {
		if t.Modules[t.Owners[ns]] != nil && keep(t.Owners[ns]) {
			namespaces = append(namespaces, ns)
		}
	}
	byLabels := []rule.Selector{
		{LabelIn: &rule.LabelIn{Key: rule.FluxNameLabel, Values: fluxNames}},
		{LabelIn: &rule.LabelIn{Key: repo.Config.ModuleLabel(), Values: names}},
	}
	switch t.Rule.Lookup {
	case rule.ByLabels:
		return byLabels
	case rule.ByLabelsOrNamespace, rule.ByNamespaceOrLabels:
		if len(namespaces) > 0 {
			return append(byLabels, rule.Selector{Namespaces: namespaces})
		}
		return byLabels
	case rule.ByFluxName:
		return []rule.Selector{{Names: fluxNames}}
	case rule.ByOwnedNamespace:
		return []rule.Selector{{Names: namespaces}}
	}
	return nil // ByFluxPath: every object of the rule's kinds
}

// actionName is the name of t's rule for the modules of action a: the rule's name, suffixed
// -audit for the audit modules when some modules enforce.
func (t *table) actionName(a module.Action) string {
	if len(t.Actions) > 1 && a == module.Audit {
		return Shorten(t.Rule.Name + "-audit")
	}
	return t.Rule.Name
}

// mustJSON marshals plain data.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data always marshals
	}
	return string(b)
}

// moduleSelectors select the objects that r's lookup finds module r.Module for (approximately:
// the lookup's order between candidates is the table's business); exceptions are scoped with
// them.
func moduleSelectors(repo *rule.Repo, r *ModuleRule) []rule.Selector {
	m := r.Module
	switch r.Lookup {
	case rule.ByFluxName:
		return []rule.Selector{{Names: []string{repo.Config.FluxName(m)}}}
	case rule.ByOwnedNamespace:
		return []rule.Selector{{Names: ownedBy(repo, m)}}
	case rule.ByFluxPath:
		return nil
	case rule.ByLabelsOrNamespace, rule.ByNamespaceOrLabels:
		sels := rule.ModuleSelectors(repo, m, false)
		if ns := ownedBy(repo, m); len(ns) > 0 {
			sels = append(sels, rule.Selector{Namespaces: ns})
		}
		return sels
	}
	return rule.ModuleSelectors(repo, m, false)
}

// ownedBy returns the namespaces m owns (declares first), sorted.
func ownedBy(repo *rule.Repo, m *module.Module) []string {
	var out []string
	for _, ns := range m.Spec.Namespaces {
		if repo.Owner(ns.Name) == m {
			out = append(out, ns.Name)
		}
	}
	sort.Strings(out)
	return out
}

// dataFree reports whether t's rule reads nothing of the module record but its presence: no
// module has data, and no ClusterPolicy condition refers to the record. Such a rule needs no
// table in a ClusterPolicy: its match selects the modules' objects, which Kyverno tests by key
// (label selectors) for free, where a table costs every request a walk over it.
func (t *table) dataFree() bool {
	for _, rec := range t.Modules {
		if len(rec) > 2 { // name and action
			return false
		}
	}
	if t.Rule.Lookup == rule.ByNamespaceOrLabels || t.Rule.Lookup == rule.ByFluxPath {
		return false // the lookup's order decides which module, and so which action, judges
	}
	text := mustJSON([]any{t.Rule.Deny, t.Rule.Preconditions, t.Rule.Pattern, t.Rule.DenyEach})
	return !strings.Contains(text, rule.ModuleJMES+".")
}

// CPRuleName is the name of the ClusterPolicy rule that judges the objects of r's module that its
// examples are: applied by the module's Flux Kustomization.
func (p *Policy) CPRuleName(r *ModuleRule) string { return p.cpRuleNames(r)[0] }

// cpRuleNames are the names of the ClusterPolicy rules that judge the objects of r's module: the
// one for the objects its Flux Kustomization applied first, then the one for other objects
// carrying its module label, when that is another rule.
func (p *Policy) cpRuleNames(r *ModuleRule) []string {
	if !r.IsTable() {
		return []string{r.Name}
	}
	t := p.table(r.Name)
	if gs := t.groups(); gs != nil {
		byFlux, byModule := t.groupRuleNames(groupOf(gs, r.Module.Name()), r.Action)
		return []string{byFlux, byModule}
	}
	name := t.actionName(r.Action)
	if t.allowForm() {
		return []string{name, allowByModuleName(name)}
	}
	return []string{name}
}
