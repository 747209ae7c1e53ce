package kyverno

import (
	"slices"

	"polc.dev/polc/internal/kyverno/expr"
)

// kindFirst moves what the match of ClusterPolicy rule cr says beyond the kinds into its
// preconditions, when the rule is of particular kinds and every match entry is the kinds plus
// one namespace list or one label in a set. Kyverno evaluates every field of every match entry
// whatever the object's kind: it parses a label selector, and validates each of its values
// with a regular expression, again for every object (in kyverno apply, for every object of
// every kind; this was two thirds of the selector values the pack's rules parse per object of
// a generated 200-module repository). It reads preconditions only for objects whose kind
// matched.
//
// The two forms select the same objects. Each entry becomes one condition of the preconditions'
// any, AnyIn over the entry's values:
//   - a namespaces entry: the object's namespace (a Namespace's name, as Kyverno's own
//     namespaces check reads it);
//   - a label selector entry: the label's value, the empty string when it is absent, which no
//     value is.
//
// AnyIn reads * and ? as wildcards on both sides. The values are literal (a rule with another
// value keeps its match), and the key has them replaced (see anyInKey), so the comparison is
// exact, as a label selector's is. An object that the scope does not select is skipped
// (preconditions not met) rather than not matched; neither is a verdict, in Kyverno CLI tests,
// in reports or in admission.
func kindFirst(cr *cpRule) {
	if len(cr.Match.Any) == 0 || (cr.Preconditions != nil && len(cr.Preconditions.Any) > 0) {
		return
	}
	ks := cr.Match.Any[0].Resources.Kinds
	if len(ks) == 0 || slices.Contains(ks, "*") {
		return
	}
	namespaceOnly := slices.Equal(ks, []string{"Namespace"})
	if !namespaceOnly && slices.Contains(ks, "Namespace") {
		return // a namespaces entry reads a Namespace's name and other objects' namespace
	}
	var conds []cpCondition
	for _, f := range cr.Match.Any {
		d := f.Resources
		if !slices.Equal(d.Kinds, ks) || len(d.Names) > 0 || (len(d.Namespaces) > 0) == (d.Selector != nil) {
			return // an entry of only the kinds matches every object of them: nothing to move
		}
		if len(d.Namespaces) > 0 {
			if !literals(d.Namespaces) {
				return
			}
			of := "request.object.metadata.namespace || ''"
			if namespaceOnly {
				of = "request.object.metadata.name"
			}
			conds = append(conds, cpCondition{Key: anyInKey(of), Operator: "AnyIn", Value: d.Namespaces})
			continue
		}
		k, values, ok := labelIn(d.Selector)
		if !ok || !literals(values) || !allowLiteral.MatchString(k) {
			return
		}
		conds = append(conds, cpCondition{Key: anyInKey(expr.JMESLabel(k)), Operator: "AnyIn", Value: values})
	}
	cr.Match.Any = []resourceFilter{{Resources: resourceDescription{Kinds: ks}}}
	pre := &cpConditions{Any: conds}
	if cr.Preconditions != nil { // a copy: rules derived from cr share its preconditions
		pre.All = cr.Preconditions.All
	}
	cr.Preconditions = pre
}

// anyInKey is the condition key of JMESPath expression e with Kyverno's wildcards, * and ?,
// replaced by #, which no literal value holds: AnyIn then compares it with literal values exactly.
func anyInKey(e string) string {
	return "{{ replace_all(replace_all(" + e + ", '*', '#'), '?', '#') }}"
}

// labelIn is the label key and values of a selector that requires one label to be in a set:
// one expression of operator In, or one label of matchLabels.
func labelIn(s *labelSelector) (key string, values []string, ok bool) {
	switch {
	case len(s.MatchLabels) == 1 && len(s.MatchExpressions) == 0:
		for k, v := range s.MatchLabels {
			return k, []string{v}, true
		}
	case len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 1 && s.MatchExpressions[0].Operator == "In":
		return s.MatchExpressions[0].Key, s.MatchExpressions[0].Values, true
	}
	return "", nil, false
}

// literals reports whether every value is non-empty and literal for Kyverno: no * or ?, which
// the namespaces field reads as wildcards, and nothing it would substitute ({{ }}, $( )).
func literals(values []string) bool {
	for _, v := range values {
		if v == "" || !allowLiteral.MatchString(v) {
			return false
		}
	}
	return len(values) > 0
}
