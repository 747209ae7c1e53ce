package kyverno

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// A table rule with Allow selectors (rule.PolicyRule.Allow) compiles into a ClusterPolicy without a
// module table: the match selects the objects of the modules by label and the exclude block lets
// through, per module, the objects its selectors allow. Kyverno tests both by key, where a table
// in JMESPath costs every request a scan and a parse of text that grows with the modules.

// allowLiteral is what a name, namespace, kind or label value must be for Kyverno to match it
// exactly: it reads * and ? as wildcards in names, namespaces, kinds and selector values.
var allowLiteral = regexp.MustCompile(`^[A-Za-z0-9._/-]*$`)

// allowKind is a kind name that Kyverno matches exactly and in any group, as the deny conditions
// compare request.object.kind.
var allowKind = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// allowForm reports whether t's rule compiles into selectors alone: every module's rule has
// Allow, the lookup is by labels, no precondition reads the module's record, and every value
// Kyverno would compare is literal.
func (t *table) allowForm() bool {
	r := t.Rule
	if t.Allow == nil || r.Lookup != rule.ByLabels || r.PodSecurity != "" || r.DenyEach != "" ||
		strings.Contains(mustJSON(r.Preconditions), rule.ModuleJMES+".") {
		return false
	}
	literal := func(sels []rule.Selector) bool {
		for _, s := range sels {
			if s.LabelIn != nil {
				return false
			}
			for _, k := range s.Kinds {
				if !allowKind.MatchString(k) {
					return false
				}
			}
			values := slices.Concat(s.Names, s.Namespaces)
			for k, v := range s.Labels {
				values = append(values, k, v)
			}
			for _, v := range values {
				if !allowLiteral.MatchString(v) {
					return false
				}
			}
		}
		return true
	}
	for name, sels := range t.Allow {
		if !literal(sels) || !literal([]rule.Selector{{Names: []string{name}}}) {
			return false
		}
	}
	return literal([]rule.Selector{{Names: t.fluxNames()}}) && literal(r.Exclude)
}

// allowByModuleName is the name of the rule of an allow-form table rule for the objects that
// the lookup finds by their module label (no module's Flux Kustomization label).
func allowByModuleName(name string) string { return Shorten(name + "-by-module") }

// cpAllow compiles allow-form table rule t for the modules of action a into two ClusterPolicy
// rules, after the two keys of the lookup: the objects applied by a module's Flux Kustomization
// (its label names the module), and the others that carry a module label. Each denies every
// object it matches, less those that the rule's exclusions or the module's Allow selectors
// select (the module's label added to each).
func cpAllow(repo *rule.Repo, t *table, a module.Action) ([]cpRule, error) {
	r := t.Rule
	fluxNames, moduleNames := map[string]string{}, map[string]string{}
	var ofAction []string
	for _, n := range t.names() {
		if t.Modules[n]["action"] == string(a) {
			ofAction = append(ofAction, n)
		}
	}
	for f, n := range t.Flux {
		fluxNames[n] = f
	}
	for _, n := range ofAction {
		moduleNames[n] = n
	}
	var kinds []string
	for _, k := range r.Kinds {
		kinds = append(kinds, cpKind(k))
	}
	build := func(name string, match labelSelector, key string, value map[string]string) (cpRule, error) {
		cr, err := cpRuleOf(r, name, a, []resourceFilter{{Resources: resourceDescription{Kinds: kinds, Selector: &match}}})
		if err != nil {
			return cpRule{}, err
		}
		cr.Validate.Deny = &cpDeny{Conditions: cpConditions{Any: []cpCondition{{Key: true, Operator: "Equals", Value: true}}}}
		if cr.Exclude == nil {
			cr.Exclude = &matchBlock{}
		}
		for _, n := range ofAction {
			for _, s := range t.Allow[n] {
				labels := maps.Clone(s.Labels)
				if labels == nil {
					labels = map[string]string{}
				}
				if v, ok := labels[key]; ok && v != value[n] {
					continue // selects no object of the module
				}
				labels[key] = value[n]
				cr.Exclude.Any = append(cr.Exclude.Any, resourceFilter{Resources: resourceDescription{
					Kinds: s.Kinds, Names: s.Names, Namespaces: s.Namespaces, Selector: &labelSelector{MatchLabels: labels}}})
			}
		}
		if len(cr.Exclude.Any) == 0 {
			cr.Exclude = nil
		}
		return cr, nil
	}
	var byFlux []string
	for _, n := range ofAction {
		byFlux = append(byFlux, fluxNames[n])
	}
	slices.Sort(byFlux)
	name := t.actionName(a)
	flux, err := build(name, labelSelector{MatchExpressions: []labelSelectorRequirement{
		{Key: rule.FluxNameLabel, Operator: "In", Values: byFlux}}}, rule.FluxNameLabel, fluxNames)
	if err != nil {
		return nil, err
	}
	byLabel, err := build(allowByModuleName(name), labelSelector{MatchExpressions: []labelSelectorRequirement{
		{Key: rule.FluxNameLabel, Operator: "NotIn", Values: t.fluxNames()},
		{Key: repo.Config.ModuleLabel(), Operator: "In", Values: ofAction}}}, repo.Config.ModuleLabel(), moduleNames)
	if err != nil {
		return nil, err
	}
	return []cpRule{flux, byLabel}, nil
}

// PassIsExcluded reports whether the Kyverno CLI reports an object that rule r admits as
// excluded (skip) rather than passed: in a ClusterPolicy, the allow form lets the objects a
// module may have through its exclude block.
func (p *Policy) PassIsExcluded(target Target, r *ModuleRule) bool {
	if target != ClusterPolicy || !r.IsTable() {
		return false
	}
	t := p.table(r.Name)
	return t.groups() == nil && t.allowForm()
}
