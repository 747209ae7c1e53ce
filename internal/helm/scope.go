package helm

import (
	"strings"

	"polc.dev/polc/internal/kinds"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Helm's kube client sets the release namespace on every namespaced object that has none, from
// the cluster's REST mapping. Offline there is no mapping: an object is cluster-scoped when its
// group and kind are in polc's table (kinds.ClusterScoped), or a CustomResourceDefinition of the
// chart declares it with scope Cluster; every other object is namespaced.

// scopes tells cluster-scoped kinds from namespaced ones for one chart.
type scopes map[kinds.GroupKind]bool

// newScopes returns the built-in cluster-scoped kinds plus those of crds, the chart's
// CustomResourceDefinitions with spec.scope Cluster.
func newScopes(crds []*yaml.RNode) scopes {
	s := scopes(kinds.ClusterScopedTable())
	for _, crd := range crds {
		scope, _ := crd.GetString("spec.scope")
		group, _ := crd.GetString("spec.group")
		kind, _ := crd.GetString("spec.names.kind")
		if scope == "Cluster" && kind != "" {
			s[kinds.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	return s
}

// isClusterScoped reports whether objects of apiVersion and kind are cluster-scoped.
func (s scopes) isClusterScoped(apiVersion, kind string) bool {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group = "" // core: "v1"
	}
	return s[kinds.GroupKind{Group: group, Kind: kind}]
}

// defaultNamespace sets namespace on n when n is namespaced and has none, as Helm's kube client
// does when it applies a release.
func (s scopes) defaultNamespace(n *yaml.RNode, namespace string) error {
	if s.isClusterScoped(n.GetApiVersion(), n.GetKind()) || n.GetNamespace() != "" {
		return nil
	}
	return n.SetNamespace(namespace)
}
