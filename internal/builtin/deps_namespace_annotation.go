package builtin

import (
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// DepsNamespaceAnnotation requires each owned Namespace to carry the module's hard dependencies
// in the <domain>/depends-on annotation.
var DepsNamespaceAnnotation = rule.Rule{
	ID:       "deps/namespace-annotation",
	Title:    "Owned Namespaces carry the <domain>/depends-on annotation with the hard dependencies",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "The cluster knows nothing about modules unless the objects say so. Each Namespace a module owns " +
		"carries the annotation <domain>/depends-on with the module's hard dependencies (spec.dependsOn), " +
		"sorted and comma-separated, so that operators and admission policies can see, in the cluster, " +
		"what a namespace needs. A module without hard dependencies may leave the annotation out or " +
		"set it to the empty string. Namespaces the module does not declare are " +
		"naming/namespace-ownership's concern.",
	Remediation: "Set the annotation to the module's spec.dependsOn, sorted and joined with commas, for example with a kustomize `commonAnnotations` entry or in namespace.yaml.",
	Kinds:       []string{"Namespace"},
	CheckObject: checkNamespaceAnnotation,
	Policy:      policyNamespaceAnnotation,
}

// dependsOnValue is the expected annotation value: the hard dependencies, sorted, deduplicated,
// comma-separated.
func dependsOnValue(m *module.Module) string {
	deps := slices.Clone(m.Spec.DependsOn)
	slices.Sort(deps)
	return strings.Join(slices.Compact(deps), ",")
}

func checkNamespaceAnnotation(r *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
	if o.Ref.Group() != "" || !ownsNamespace(m, o.Ref.Name) {
		return nil
	}
	key := r.Config.DependsOnAnnotation()
	want := dependsOnValue(m)
	got, ok := o.Node.GetAnnotations()[key]
	switch {
	case !ok && want == "":
		return nil
	case !ok:
		return []rule.Violation{{Field: "metadata.annotations",
			Message: fmt.Sprintf("annotation %s is missing; expected %q, the module's hard dependencies", key, want)}}
	case got != want:
		return []rule.Violation{{Field: "metadata.annotations[" + key + "]",
			Message: fmt.Sprintf("annotation %s is %q; expected %q, the module's hard dependencies sorted and comma-separated", key, got, want)}}
	}
	return nil
}

// policyNamespaceAnnotation requires the depends-on annotation on the module's Namespaces.
func policyNamespaceAnnotation(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	nss := namespaceNames(m)
	if len(nss) == 0 {
		return nil
	}
	key, want := r.Config.DependsOnAnnotation(), dependsOnValue(m)
	namespace := func(value string) map[string]any {
		meta := example.Meta(r, m, nss[0], true, rule.ModuleLabels(r, m))
		meta["annotations"] = map[string]any{key: value}
		return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
	}
	mod := rule.ModuleJMES
	return []rule.PolicyRule{{
		Name:    "annotation",
		Kinds:   []rule.Kind{rule.NamespaceKind},
		Lookup:  rule.ByLabels,
		Data:    map[string]any{"namespaces": nss, "dependsOn": want},
		Message: fmt.Sprintf("the Namespaces a module declares carry the annotation %s with its hard dependencies, sorted and comma-separated", key),
		// JMESPath's != compares the strings; Kyverno's NotEquals would compare values that parse as
		// durations or quantities by value (a module named 2m against an annotation of 120s).
		Deny: []rule.Condition{{Key: "{{ contains(" + mod + ".namespaces || `[]`, request.object.metadata.name) && " +
			expr.JMESAnnotation(key) + " != " + mod + ".dependsOn }}", Operator: "Equals", Value: true}},
		CEL: []string{"!(object.metadata.name in " + rule.ModuleCEL + ".namespaces) || " +
			expr.CELAnnotation(key) + " == " + rule.ModuleCEL + ".dependsOn"},
		Pass: []map[string]any{namespace(want)},
		Fail: []map[string]any{namespace(want + ",undeclared-module")},
	}}
}
