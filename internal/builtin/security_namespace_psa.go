package builtin

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Pod Security admission labels of a Namespace.
const (
	psaEnforceLabel = "pod-security.kubernetes.io/enforce"
	psaWarnLabel    = "pod-security.kubernetes.io/warn"
	psaAuditLabel   = "pod-security.kubernetes.io/audit"
)

// SecurityNamespacePSA requires Pod Security admission labels that match the declared level.
var SecurityNamespacePSA = rule.Rule{
	ID:       "security/namespace-psa",
	Title:    "Owned Namespaces enforce their declared Pod Security level",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "Each Namespace that a module declares in module.yaml carries the label " +
		"pod-security.kubernetes.io/enforce with the declared podSecurity level (restricted when nothing is " +
		"declared), so that the API server enforces the same level that polc checks offline. The warn and " +
		"audit labels are optional, but when set they may not be looser than the declared level, or they " +
		"would hide violations.",
	Remediation: "Set the label pod-security.kubernetes.io/enforce on the Namespace to the level declared in module.yaml, and remove looser warn or audit labels.",
	Kinds:       []string{"Namespace"},
	CheckObject: checkNamespacePSA,
	Policy:      policyNamespacePSA,
}

func checkNamespacePSA(r *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	if o.Ref.APIVersion != "v1" {
		return nil
	}
	owner := r.Owner(o.Ref.Name)
	if owner == nil {
		return nil // naming/namespace-ownership reports namespaces that nobody declares
	}
	want, from := declaredLevel(r, o.Ref.Name)
	labels := o.Node.GetLabels()
	var out []rule.Violation
	got, ok := labels[psaEnforceLabel]
	switch {
	case !ok:
		out = append(out, rule.Violation{Message: fmt.Sprintf("label %s is missing; expected %q (%s)", psaEnforceLabel, want, from), Field: "metadata.labels"})
	case got != string(want):
		out = append(out, rule.Violation{Message: fmt.Sprintf("label %s is %q; expected %q (%s)", psaEnforceLabel, got, want, from), Field: "metadata.labels[" + psaEnforceLabel + "]"})
	}
	for _, key := range []string{psaWarnLabel, psaAuditLabel} {
		got, ok := labels[key]
		if !ok {
			continue
		}
		lvl := module.Level(got)
		switch {
		case !slices.Contains(lvl.Allowed(), got):
			out = append(out, rule.Violation{Message: fmt.Sprintf("label %s is %q, not a Pod Security level; expected %q (%s)", key, got, want, from), Field: "metadata.labels[" + key + "]"})
		case lvl.Rank() > want.Rank():
			out = append(out, rule.Violation{Message: fmt.Sprintf("label %s is %q, looser than the declared level; expected %q or stricter (%s)", key, got, want, from), Field: "metadata.labels[" + key + "]"})
		}
	}
	return out
}

// policyNamespacePSA requires each Namespace the module owns first to enforce its declared Pod
// Security level, whoever creates it.
func policyNamespacePSA(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	levels := map[string]string{}
	var pass, fail []map[string]any
	for _, ns := range m.Spec.Namespaces {
		if r.Owner(ns.Name) != m {
			continue
		}
		want := ns.Level()
		levels[ns.Name] = string(want)
		namespace := func(level string) map[string]any {
			return map[string]any{"apiVersion": "v1", "kind": "Namespace",
				"metadata": example.Meta(r, m, ns.Name, true, map[string]any{psaEnforceLabel: level})}
		}
		wrong := string(module.Privileged)
		if want == module.Privileged {
			wrong = string(module.Restricted)
		}
		pass, fail = append(pass, namespace(string(want))), append(fail, namespace(wrong))
	}
	if len(levels) == 0 {
		return nil
	}
	// warn and audit may be as strict as the level, or stricter.
	allowed := map[string][]string{}
	for _, l := range []module.Level{module.Restricted, module.Baseline, module.Privileged} {
		for _, a := range []module.Level{module.Restricted, module.Baseline, module.Privileged} {
			if a.Rank() <= l.Rank() {
				allowed[string(l)] = append(allowed[string(l)], string(a))
			}
		}
	}
	allowedJSON, err := json.Marshal(allowed)
	if err != nil {
		panic(err) // plain data always marshals
	}
	level := "lookup(" + rule.ModuleJMES + ".levels, request.object.metadata.name)"
	label := func(k string) string { return `request.object.metadata.labels."` + k + `"` }
	jmes := expr.JMESLabel(psaEnforceLabel) + " != " + level
	const celLevel = "string(" + rule.ModuleCEL + ".levels[object.metadata.name])"
	cel := expr.CELLabel(psaEnforceLabel) + " == " + celLevel
	for _, k := range []string{psaWarnLabel, psaAuditLabel} {
		jmes += " || !(" + label(k) + " == null || contains(lookup(`" + string(allowedJSON) + "`, " + level + "), " + label(k) + "))"
		cel += fmt.Sprintf(` && object.metadata.?labels[?%s].orValue(%q) in %s[%s]`, expr.CELString(k), module.Restricted, celAllowed(allowed), celLevel)
	}
	return []rule.PolicyRule{{
		Name:    "levels",
		Kinds:   []rule.Kind{rule.NamespaceKind},
		Lookup:  rule.ByOwnedNamespace,
		Data:    map[string]any{"levels": levels},
		Message: fmt.Sprintf("a module's Namespace enforces the Pod Security level the module declares for it (label %s), and no looser warn or audit level", psaEnforceLabel),
		Deny:    []rule.Condition{{Key: "{{ " + jmes + " }}", Operator: "Equals", Value: true}},
		CEL:     []string{cel},
		Pass:    pass,
		Fail:    fail,
	}}
}

// celAllowed spells the levels allowed for warn and audit, per enforced level, as a CEL map.
func celAllowed(allowed map[string][]string) string {
	var parts []string
	for _, l := range []module.Level{module.Restricted, module.Baseline, module.Privileged} {
		parts = append(parts, expr.CELString(string(l))+": "+expr.CELStrings(allowed[string(l)]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
