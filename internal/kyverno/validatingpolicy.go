package kyverno

import (
	"fmt"
	"sort"
	"strings"

	policiesv1 "github.com/kyverno/api/api/policies.kyverno.io/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// validatingPolicyBackend compiles to policies.kyverno.io/v1 ValidatingPolicy and
// PolicyException, built with Kyverno's own types (github.com/kyverno/api costs polc ~23 MB of
// binary and a few milliseconds of start-up, against ~130 MB for the kyverno.io types).
type validatingPolicyBackend struct{}

var _ backend = validatingPolicyBackend{}

// podVariable is the pod of a Pod, or the pod template of a pod controller. Pod rules write their
// CEL against variables.pod; polc matches the controllers itself instead of using Kyverno's
// autogen, because autogen also rewrites object.metadata, which the module scope reads from the
// controller.
const podVariable = `object.kind == "Pod" ? object : (object.kind == "CronJob" ? object.spec.jobTemplate.spec.template : object.spec.template)`

// celSelector is the CEL condition for a selector.
func celSelector(s rule.Selector) string {
	var parts []string
	if len(s.Names) > 0 {
		parts = append(parts, `object.metadata.?name.orValue("") in `+expr.CELStrings(s.Names))
	}
	if len(s.Namespaces) > 0 {
		parts = append(parts, `object.metadata.?namespace.orValue("") in `+expr.CELStrings(s.Namespaces))
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, expr.CELLabel(k)+" == "+expr.CELString(s.Labels[k]))
	}
	if len(parts) == 0 {
		return "true"
	}
	return strings.Join(parts, " && ")
}

// celKinds is the CEL condition that the object is of one of ofKinds (only needed when a policy
// mixes rules of different kinds).
func celKinds(ofKinds []rule.Kind) string {
	var parts []string
	for _, k := range ofKinds {
		switch {
		case k.Kind == "*":
			return "true"
		case k == rule.PodKind:
			parts = append(parts, `object.kind in `+expr.CELStrings(kinds.Pods()))
		default:
			c := `object.kind == ` + expr.CELString(k.Kind)
			if k.Group != "*" {
				g := `object.apiVersion.startsWith(` + expr.CELString(k.Group+"/") + `)`
				if k.Group == "" {
					g = `!object.apiVersion.contains("/")`
				}
				c = "(" + c + " && " + g + ")"
			}
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, " || ")
}

// celScope is the CEL condition that an object is in a rule's scope.
func celScope(r *ModuleRule) string {
	any := func(sels []rule.Selector) string {
		var parts []string
		for _, s := range sels {
			parts = append(parts, "("+celSelector(s)+")")
		}
		return strings.Join(parts, " || ")
	}
	c := "(" + celKinds(r.Kinds) + ")"
	if len(r.Match) > 0 {
		c += " && (" + any(r.Match) + ")"
	}
	if len(r.Exclude) > 0 {
		c += " && !(" + any(r.Exclude) + ")"
	}
	if len(r.ExcludeKinds) > 0 {
		c += " && !(object.kind in " + expr.CELStrings(r.ExcludeKinds) + ")"
	}
	return c
}

// matchCondition is a compact filter that every object in some rule's scope passes: its module
// label, Flux label, namespace or name is one that a rule selects. The exact scopes are in the
// rule variables; spelling them all out here would exceed CEL's expression size limit in
// repositories with many modules. It is "" when a rule selects every object.
func matchCondition(p *Policy) string {
	labels := map[string]map[string]bool{}
	namespaces, names := map[string]bool{}, map[string]bool{}
	for _, r := range p.Rules {
		if len(r.Match) == 0 {
			return ""
		}
		for _, s := range r.Match {
			switch {
			case len(s.Labels) > 0:
				for k, v := range s.Labels {
					if labels[k] == nil {
						labels[k] = map[string]bool{}
					}
					labels[k][v] = true
				}
			case len(s.Namespaces) > 0:
				for _, n := range s.Namespaces {
					namespaces[n] = true
				}
			case len(s.Names) > 0:
				for _, n := range s.Names {
					names[n] = true
				}
			default:
				return ""
			}
		}
	}
	list := func(set map[string]bool) string {
		var out []string
		for k := range set {
			out = append(out, k)
		}
		sort.Strings(out)
		return expr.CELStrings(out)
	}
	var parts []string
	var keys []string
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, expr.CELLabel(k)+" in "+list(labels[k]))
	}
	if len(namespaces) > 0 {
		parts = append(parts, `object.metadata.?namespace.orValue("") in `+list(namespaces))
	}
	if len(names) > 0 {
		parts = append(parts, `object.metadata.?name.orValue("") in `+list(names))
	}
	return strings.Join(parts, " || ")
}

// resourceRules lists the resources a policy's rules match, one entry per API group.
func resourceRules(p *Policy) []admissionv1.NamedRuleWithOperations {
	byGroup := map[string]map[string]bool{}
	add := func(g, r string) {
		if byGroup[g] == nil {
			byGroup[g] = map[string]bool{}
		}
		byGroup[g][r] = true
	}
	for _, r := range p.Rules {
		for _, k := range r.Kinds {
			if k.Kind == "*" {
				return []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}},
				}}}
			}
			if k == rule.PodKind {
				for _, name := range kinds.Pods() {
					pk, _ := kinds.Lookup(name)
					add(pk.Group(), pk.Resource)
				}
				continue
			}
			add(k.Group, k.Resource)
		}
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var out []admissionv1.NamedRuleWithOperations
	for _, g := range groups {
		var res []string
		for r := range byGroup[g] {
			res = append(res, r)
		}
		sort.Strings(res)
		out = append(out, admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule:       admissionv1.Rule{APIGroups: []string{g}, APIVersions: []string{"*"}, Resources: res},
		}})
	}
	return out
}

func (validatingPolicyBackend) policy(repo *rule.Repo, p *Policy) (any, error) {
	if err := literalDirs(p.Rules); err != nil {
		return nil, err
	}
	action := admissionv1.Deny
	if p.Rules[0].Action == "Audit" {
		action = admissionv1.Audit
	}
	vp := policiesv1.ValidatingPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policies.kyverno.io/v1", Kind: "ValidatingPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Labels: policyLabels(), Annotations: annotations(repo, p, "1.17.0")},
	}
	spec := &vp.Spec
	spec.ValidationAction = []admissionv1.ValidationAction{action}
	spec.MatchConstraints = &admissionv1.MatchResources{ResourceRules: resourceRules(p)}
	// Each rule's scope is a variable, evaluated once per object; the validations test it.
	// Pod Security rules share one validation per control, guarded by the scopes of the rules
	// whose level has that control.
	var vars, order []string
	groups := map[string][]string{}
	var atLeast = map[module.Level][]string{}
	pods, pss := false, false
	for i := range p.Rules {
		r := &p.Rules[i]
		scope := celScope(r)
		v := fmt.Sprintf("rule%d", i)
		vars = append(vars, v, scope)
		pods = pods || r.IsPodRule()
		ref := "variables." + v
		switch {
		case r.PodSecurity != "":
			pss = true
			for _, l := range []module.Level{module.Baseline, module.Restricted} {
				if r.PodSecurity.Rank() <= l.Rank() {
					atLeast[l] = append(atLeast[l], ref)
				}
			}
		case len(r.CEL) > 0:
			// Rules with the same check and message (those that do not depend on the module)
			// share one validation: fewer expressions to compile and evaluate.
			for _, c := range r.CEL {
				k := c + "\x00" + r.Message
				if _, ok := groups[k]; !ok {
					order = append(order, k)
				}
				groups[k] = append(groups[k], ref)
			}
		default:
			return nil, fmt.Errorf("rule %s has no CEL expression or podSecurity level", r.Name)
		}
	}
	for _, k := range order {
		c, msg, _ := strings.Cut(k, "\x00")
		spec.Validations = append(spec.Validations, admissionv1.Validation{
			Expression: "!(" + strings.Join(groups[k], " || ") + ") || (" + c + ")", Message: msg})
	}
	if pods {
		spec.Variables = append(spec.Variables, admissionv1.Variable{Name: "pod", Expression: podVariable})
	}
	if pss {
		spec.Variables = append(spec.Variables, admissionv1.Variable{Name: "containers", Expression: psAllContainers})
	}
	for i := 0; i < len(vars); i += 2 {
		spec.Variables = append(spec.Variables, admissionv1.Variable{Name: vars[i], Expression: vars[i+1]})
	}
	for _, l := range []module.Level{module.Baseline, module.Restricted} {
		if len(atLeast[l]) > 0 {
			spec.Variables = append(spec.Variables, admissionv1.Variable{Name: "pss" + string(l), Expression: strings.Join(atLeast[l], " || ")})
		}
	}
	if pss {
		for _, c := range psControls {
			if len(atLeast[c.level]) == 0 {
				continue
			}
			spec.Validations = append(spec.Validations, admissionv1.Validation{
				Expression: "!variables.pss" + string(c.level) + " || (" + c.cel + ")",
				Message:    fmt.Sprintf("the pod does not meet the Pod Security level its namespace declares (the module's level, restricted outside declared namespaces): control %s of the %s level failed", c.name, c.level),
			})
		}
	}
	if mc := matchCondition(p); mc != "" {
		spec.MatchConditions = []admissionv1.MatchCondition{{Name: "polc-module-scope", Expression: mc}}
	}
	return vp, nil
}

func (validatingPolicyBackend) exception(repo *rule.Repo, p *Policy, ex *Exception) (any, error) {
	var objs, scopes []string
	podRule := false
	for i := range p.Rules {
		if r := &p.Rules[i]; r.Module == ex.Module {
			scopes = append(scopes, "("+celScope(r)+")")
			podRule = podRule || r.IsPodRule()
		}
	}
	for _, r := range ex.Source.Resources {
		ns := ""
		if r.Namespace != "" {
			ns = ` && ` + expr.CELNamespaceIs(r.Namespace)
		}
		objs = append(objs, `(object.kind == `+expr.CELString(r.Kind)+` && object.metadata.name == `+expr.CELString(r.Name)+ns+`)`)
		if podRule && kinds.IsPodController(r.Kind) {
			objs = append(objs, `(object.kind == "Pod" && has(object.metadata.name) && object.metadata.name.startsWith(`+expr.CELString(r.Name+"-")+`)`+ns+`)`)
		}
	}
	meta := exceptionMeta(repo, p, ex)
	pe := policiesv1.PolicyException{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policies.kyverno.io/v1", Kind: "PolicyException"},
		ObjectMeta: metav1.ObjectMeta{Name: meta.Name, Namespace: meta.Namespace, Labels: meta.Labels, Annotations: meta.Annotations},
	}
	pe.Spec.PolicyRefs = []policiesv1.PolicyRef{{Name: p.Name, Kind: "ValidatingPolicy"}}
	pe.Spec.MatchConditions = []admissionv1.MatchCondition{{Name: "excepted-objects",
		Expression: "(" + strings.Join(objs, " || ") + ") && (" + strings.Join(scopes, " || ") + ")"}}
	if t, ok := ex.Source.ExpiresAt(); ok {
		at := metav1.NewTime(t.AddDate(0, 0, 1).UTC())
		pe.Spec.ExpiresAt = &at
	}
	return pe, nil
}
