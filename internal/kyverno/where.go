package kyverno

import (
	"slices"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// whereForm reports whether t's rule compiles by namespace (rule.PolicyRule.Where) into a
// ClusterPolicy without a module table: the rule has Where, its lookup is namespace-first, and
// every namespace and name is literal for Kyverno.
func (t *table) whereForm() bool {
	w := t.Rule.Where
	if w == nil || t.Rule.Lookup != rule.ByNamespaceOrLabels {
		return false
	}
	for _, v := range slices.Concat(w.Owned, w.UnownedIn, w.UnownedNotIn, t.names(), t.fluxNames(), t.namespaces()) {
		if !allowLiteral.MatchString(v) {
			return false
		}
	}
	return true
}

// cpWhere compiles where-form table rule t for the modules of action a: the rule matches the
// objects in the namespaces of Where.Owned whose owner has action a, and the objects of the
// modules of action a (by their Flux label, else their module label) in the namespaces no module
// owns where the rule applies; it excludes the other owned namespaces, which their owners judge.
// ok is false when it would match nothing.
func cpWhere(repo *rule.Repo, t *table, a module.Action) (cr cpRule, ok bool, err error) {
	r, w := t.Rule, t.Rule.Where
	ofAction := func(n string) bool { return t.Modules[n] != nil && t.Modules[n]["action"] == string(a) }
	var owned, others []string
	for _, ns := range t.namespaces() {
		if slices.Contains(w.Owned, ns) && ofAction(t.Owners[ns]) {
			owned = append(owned, ns)
		} else {
			others = append(others, ns)
		}
	}
	var fluxNames, names []string
	for _, f := range t.fluxNames() {
		if ofAction(t.Flux[f]) {
			fluxNames = append(fluxNames, f)
		}
	}
	for _, n := range t.names() {
		if ofAction(n) {
			names = append(names, n)
		}
	}
	var ks []string
	for _, k := range r.Kinds {
		if k == rule.PodKind {
			ks = append(ks, kinds.Pods()...)
		} else {
			ks = append(ks, cpKind(k))
		}
	}
	var match []resourceFilter
	if len(owned) > 0 {
		match = append(match, resourceFilter{Resources: resourceDescription{Kinds: ks, Namespaces: owned}})
	}
	if w.AllUnowned || len(w.UnownedIn) > 0 {
		var in []string
		if !w.AllUnowned {
			in = w.UnownedIn
		}
		if len(fluxNames) > 0 {
			match = append(match, resourceFilter{Resources: resourceDescription{Kinds: ks, Namespaces: in, Selector: &labelSelector{
				MatchExpressions: []labelSelectorRequirement{{Key: rule.FluxNameLabel, Operator: "In", Values: fluxNames}}}}})
		}
		if len(names) > 0 {
			// By module label when the Flux label names no module. When every module has action a,
			// the entry above takes the rest: (flux in F) or (flux not in F and module in M) is
			// (flux in F) or (module in M).
			req := []labelSelectorRequirement{{Key: repo.Config.ModuleLabel(), Operator: "In", Values: names}}
			if len(fluxNames) < len(t.fluxNames()) {
				req = append([]labelSelectorRequirement{{Key: rule.FluxNameLabel, Operator: "NotIn", Values: t.fluxNames()}}, req...)
			}
			match = append(match, resourceFilter{Resources: resourceDescription{Kinds: ks, Namespaces: in, Selector: &labelSelector{MatchExpressions: req}}})
		}
	}
	if len(match) == 0 {
		return cpRule{}, false, nil
	}
	cr, err = cpRuleOf(r, t.actionName(a), a, match)
	if err != nil {
		return cpRule{}, false, err
	}
	cr.Preconditions = nil // the namespaces say where the rule applies
	if exclude := slices.Concat(others, w.UnownedNotIn); len(exclude) > 0 {
		slices.Sort(exclude)
		cr.Exclude = &matchBlock{Any: []resourceFilter{{Resources: resourceDescription{Namespaces: slices.Compact(exclude)}}}}
	}
	return cr, true, nil
}
