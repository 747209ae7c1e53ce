// Package kinds is polc's one table of facts about Kubernetes kinds: the API groups that serve a
// kind, the apiVersion generated objects use, its resource name, and where a pod controller keeps
// its pod template. The offline check, both compiled policy forms and the generated tests read it
// here, so that they cannot drift apart.
package kinds

import "slices"

// Kind is what polc knows about one kind.
type Kind struct {
	// Name is the kind: Deployment.
	Name string
	// APIVersion is the apiVersion polc writes objects of the kind with: apps/v1.
	APIVersion string
	// Groups are the API groups that serve the kind, APIVersion's first ("" is the core group).
	// An object of another group (a custom resource that happens to be called Job) is not of
	// this kind.
	Groups []string
	// Resource is the plural resource name that admission matches: deployments.
	Resource string
	// Pod is true for Pod and the pod controllers: their objects carry a pod.
	Pod bool
	// Template is the field path of a pod controller's pod template (spec.template); empty for
	// Pod, whose object is the pod, and for kinds without a pod.
	Template []string
}

var (
	core = []string{""}
	apps = []string{"apps", "extensions"}
	rbac = []string{"rbac.authorization.k8s.io"}
	spec = []string{"spec", "template"}
)

// table lists the kinds polc knows, pod kinds first, in the order compiled policies list them.
// Kustomization is Flux's (kustomize.toolkit.fluxcd.io), the one that reaches a cluster.
var table = []Kind{
	{Name: "Pod", APIVersion: "v1", Groups: core, Resource: "pods", Pod: true},
	{Name: "Deployment", APIVersion: "apps/v1", Groups: apps, Resource: "deployments", Pod: true, Template: spec},
	{Name: "StatefulSet", APIVersion: "apps/v1", Groups: []string{"apps"}, Resource: "statefulsets", Pod: true, Template: spec},
	{Name: "DaemonSet", APIVersion: "apps/v1", Groups: apps, Resource: "daemonsets", Pod: true, Template: spec},
	{Name: "ReplicaSet", APIVersion: "apps/v1", Groups: apps, Resource: "replicasets", Pod: true, Template: spec},
	{Name: "ReplicationController", APIVersion: "v1", Groups: core, Resource: "replicationcontrollers", Pod: true, Template: spec},
	{Name: "Job", APIVersion: "batch/v1", Groups: []string{"batch"}, Resource: "jobs", Pod: true, Template: spec},
	{Name: "CronJob", APIVersion: "batch/v1", Groups: []string{"batch"}, Resource: "cronjobs", Pod: true,
		Template: []string{"spec", "jobTemplate", "spec", "template"}},
	{Name: "ConfigMap", APIVersion: "v1", Groups: core, Resource: "configmaps"},
	{Name: "Secret", APIVersion: "v1", Groups: core, Resource: "secrets"},
	{Name: "Service", APIVersion: "v1", Groups: core, Resource: "services"},
	{Name: "ServiceAccount", APIVersion: "v1", Groups: core, Resource: "serviceaccounts"},
	{Name: "Namespace", APIVersion: "v1", Groups: core, Resource: "namespaces"},
	{Name: "PersistentVolumeClaim", APIVersion: "v1", Groups: core, Resource: "persistentvolumeclaims"},
	{Name: "ClusterRole", APIVersion: "rbac.authorization.k8s.io/v1", Groups: rbac, Resource: "clusterroles"},
	{Name: "ClusterRoleBinding", APIVersion: "rbac.authorization.k8s.io/v1", Groups: rbac, Resource: "clusterrolebindings"},
	{Name: "Role", APIVersion: "rbac.authorization.k8s.io/v1", Groups: rbac, Resource: "roles"},
	{Name: "RoleBinding", APIVersion: "rbac.authorization.k8s.io/v1", Groups: rbac, Resource: "rolebindings"},
	{Name: "HelmRelease", APIVersion: "helm.toolkit.fluxcd.io/v2", Groups: []string{"helm.toolkit.fluxcd.io"}, Resource: "helmreleases"},
	{Name: "Kustomization", APIVersion: "kustomize.toolkit.fluxcd.io/v1", Groups: []string{"kustomize.toolkit.fluxcd.io"}, Resource: "kustomizations"},
}

// Lookup returns the kind named name.
func Lookup(name string) (Kind, bool) {
	i := slices.IndexFunc(table, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, false
	}
	k := table[i]
	k.Groups, k.Template = slices.Clone(k.Groups), slices.Clone(k.Template) // the table stays as it is
	return k, true
}

// Group is the API group of the kind's APIVersion ("" for the core group).
func (k Kind) Group() string { return k.Groups[0] }

// Served reports whether the API group serves the kind.
func (k Kind) Served(group string) bool { return slices.Contains(k.Groups, group) }

// Pods returns Pod and the pod controllers: the kinds whose objects carry a pod.
func Pods() []string {
	var out []string
	for _, k := range table {
		if k.Pod {
			out = append(out, k.Name)
		}
	}
	return out
}

// IsPodController reports whether kind carries a pod template.
func IsPodController(kind string) bool {
	k, ok := Lookup(kind)
	return ok && len(k.Template) > 0
}

// Resource returns the resource name of kind, "" for a kind the table does not know.
func Resource(kind string) string {
	k, _ := Lookup(kind)
	return k.Resource
}
