package rules

import (
	"fmt"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// appNameLabel is the recommended Kubernetes label for an application's name.
const appNameLabel = "app.kubernetes.io/name"

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
	Kinds:       []string{"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "Service"},
	CheckObject: checkAppName,
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
