package rules

import (
	"fmt"

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
