package builtin

import (
	"fmt"

	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// LabelsModule requires the module labels on every rendered object.
var LabelsModule = rule.Rule{
	ID:       "labels/module",
	Title:    "Objects carry the module and module-type labels",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "Every rendered object carries <domain>/module with its module's name and <domain>/module-type with " +
		"its type, so that admission policies, PolicyReports and humans can tell which module an object " +
		"belongs to.",
	Remediation: "Add a kustomize `labels:` transformer with both labels to the module's kustomization.yaml.",
	CheckObject: checkLabelsModule,
	Policy:      policyLabelsModule,
}

// policyLabelsModule requires the module's labels on every object the cluster attributes to it:
// applied by its Flux Kustomization or carrying its module label. One rule for every module: the
// module's type is its data.
func policyLabelsModule(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	want := rule.ModuleLabels(r, m)
	key, typeKey := r.Config.ModuleLabel(), r.Config.ModuleTypeLabel()
	cm := func(name string, labels map[string]any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": example.Meta(r, m, name, false, labels)}
	}
	return []rule.PolicyRule{{
		Name:    "labels",
		Kinds:   []rule.Kind{rule.AnyKind},
		Lookup:  rule.ByLabels,
		Data:    map[string]any{"type": string(m.Spec.Type)},
		Allow:   []rule.Selector{{Labels: map[string]string{key: m.Name(), typeKey: string(m.Spec.Type)}}},
		Message: fmt.Sprintf("objects of a module carry the labels %s and %s with the module's name and type", key, typeKey),
		Deny: []rule.Condition{{Key: "{{ " + expr.JMESLabel(key) + " != " + rule.ModuleJMES + ".name || " +
			expr.JMESLabel(typeKey) + " != " + rule.ModuleJMES + ".type }}", Operator: "Equals", Value: true}},
		CEL: []string{expr.CELLabel(key) + " == " + rule.ModuleCEL + ".name && " +
			expr.CELLabel(typeKey) + " == " + rule.ModuleCEL + ".type"},
		Pass: []map[string]any{cm(m.Name()+"-labelled", want)},
		Fail: []map[string]any{cm(m.Name()+"-unlabelled", map[string]any{key: m.Name()})},
	}}
}

func checkLabelsModule(r *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
	labels := o.Node.GetLabels()
	var out []rule.Violation
	for _, want := range []struct{ key, value string }{
		{r.Config.ModuleLabel(), m.Name()},
		{r.Config.ModuleTypeLabel(), string(m.Spec.Type)},
	} {
		got, ok := labels[want.key]
		switch {
		case !ok:
			out = append(out, rule.Violation{Message: fmt.Sprintf("label %s is missing; expected %q", want.key, want.value), Field: "metadata.labels"})
		case got != want.value:
			out = append(out, rule.Violation{Message: fmt.Sprintf("label %s is %q; expected %q", want.key, got, want.value), Field: "metadata.labels[" + want.key + "]"})
		}
	}
	return out
}
