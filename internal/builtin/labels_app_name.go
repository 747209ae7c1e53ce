package builtin

import (
	"fmt"

	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// appNameLabel is the recommended Kubernetes label for an application's name.
const appNameLabel = "app.kubernetes.io/name"

// appNameKinds are the kinds that carry appNameLabel, offline and in the cluster.
var appNameKinds = []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Service"}

// LabelsAppName asks workloads and Services to carry app.kubernetes.io/name.
var LabelsAppName = rule.Rule{
	ID:       "labels/app-name",
	Title:    "Workloads and Services carry app.kubernetes.io/name",
	Severity: rule.Warning,
	Scope:    rule.ResourceScope,
	Doc: "app.kubernetes.io/name is the recommended Kubernetes label that names the application an object " +
		"belongs to. Dashboards, `kubectl get -l`, network policies and service monitors select on it, " +
		"and without it a workload can only be found by its object name. Deployments, StatefulSets, " +
		"DaemonSets, ReplicaSets, Jobs, CronJobs, Pods and Services carry it with a non-empty value.",
	Remediation: "Add the label app.kubernetes.io/name with the application's name to the object's metadata.labels.",
	Kinds:       appNameKinds,
	CheckObject: checkAppName,
	Policy:      policyAppName,
}

func checkAppName(_ *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	v, ok := o.Node.GetLabels()[appNameLabel]
	switch {
	case !ok:
		return []rule.Violation{{Field: "metadata.labels",
			Message: fmt.Sprintf("label %s is missing; expected the application's name, such as %q", appNameLabel, o.Ref.Name)}}
	case v == "":
		return []rule.Violation{{Field: "metadata.labels[" + appNameLabel + "]",
			Message: fmt.Sprintf("label %s is empty; expected the application's name, such as %q", appNameLabel, o.Ref.Name)}}
	}
	return nil
}

// policyAppName requires a non-empty app.kubernetes.io/name on the workloads and Services of the
// module, and on those in its namespaces.
func policyAppName(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	svc := func(name string, labels map[string]any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": example.Meta(r, m, name, false, labels),
			"spec": map[string]any{"ports": []any{map[string]any{"port": 80}}}}
	}
	named := rule.ModuleLabels(r, m)
	named[appNameLabel] = m.Name()
	return []rule.PolicyRule{{
		Name:    "app-name",
		Kinds:   rule.AnyGroup(appNameKinds...),
		Lookup:  rule.ByLabelsOrNamespace,
		Message: "workloads and Services carry the label " + appNameLabel + " with the application's name",
		Pattern: map[string]any{"metadata": map[string]any{"labels": map[string]any{appNameLabel: "?*"}}},
		CEL:     []string{expr.CELLabel(appNameLabel) + ` != ""`},
		Pass:    []map[string]any{svc(m.Name()+"-named", named)},
		Fail:    []map[string]any{svc(m.Name()+"-unnamed", rule.ModuleLabels(r, m))},
	}}
}
