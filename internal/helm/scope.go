package helm

import (
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Helm's kube client sets the release namespace on every namespaced object that has none, from
// the cluster's REST mapping. Offline there is no mapping: an object is cluster-scoped when its
// group and kind are in clusterScoped, or a CustomResourceDefinition of the chart declares it
// with scope Cluster; every other object is namespaced.

// groupKind names a kind within its API group ("" is the core group).
type groupKind struct{ group, kind string }

// clusterScoped are the cluster-scoped kinds of Kubernetes and of the projects whose custom
// resources charts commonly template.
var clusterScoped = func() map[groupKind]bool {
	m := map[groupKind]bool{}
	add := func(group string, kinds ...string) {
		for _, k := range kinds {
			m[groupKind{group, k}] = true
		}
	}
	add("", "Namespace", "Node", "PersistentVolume", "ComponentStatus")
	add("rbac.authorization.k8s.io", "ClusterRole", "ClusterRoleBinding")
	add("apiextensions.k8s.io", "CustomResourceDefinition")
	add("apiregistration.k8s.io", "APIService")
	add("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
		"MutatingAdmissionPolicyBinding")
	add("storage.k8s.io", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass")
	add("scheduling.k8s.io", "PriorityClass")
	add("node.k8s.io", "RuntimeClass")
	add("networking.k8s.io", "IngressClass", "IPAddress", "ServiceCIDR")
	add("certificates.k8s.io", "CertificateSigningRequest", "ClusterTrustBundle")
	add("flowcontrol.apiserver.k8s.io", "FlowSchema", "PriorityLevelConfiguration")
	add("resource.k8s.io", "DeviceClass", "ResourceSlice")
	add("internal.apiserver.k8s.io", "StorageVersion")
	add("policy", "PodSecurityPolicy")
	add("gateway.networking.k8s.io", "GatewayClass")
	add("snapshot.storage.k8s.io", "VolumeSnapshotClass", "VolumeSnapshotContent")
	add("groupsnapshot.storage.k8s.io", "VolumeGroupSnapshotClass", "VolumeGroupSnapshotContent")
	add("cert-manager.io", "ClusterIssuer")
	add("trust.cert-manager.io", "Bundle")
	add("kyverno.io", "ClusterPolicy", "ClusterCleanupPolicy", "GlobalContextEntry")
	add("policies.kyverno.io", "ValidatingPolicy", "ImageValidatingPolicy", "MutatingPolicy", "GeneratingPolicy", "DeletingPolicy")
	add("reports.kyverno.io", "ClusterEphemeralReport")
	add("wgpolicyk8s.io", "ClusterPolicyReport")
	add("openreports.io", "ClusterReport")
	add("cilium.io", "CiliumClusterwideNetworkPolicy", "CiliumClusterwideEnvoyConfig", "CiliumNode", "CiliumIdentity",
		"CiliumExternalWorkload", "CiliumLoadBalancerIPPool", "CiliumPodIPPool", "CiliumCIDRGroup",
		"CiliumEgressGatewayPolicy", "CiliumL2AnnouncementPolicy", "CiliumBGPPeeringPolicy", "CiliumBGPClusterConfig",
		"CiliumBGPPeerConfig", "CiliumBGPAdvertisement", "CiliumBGPNodeConfig", "CiliumBGPNodeConfigOverride")
	add("external-secrets.io", "ClusterSecretStore", "ClusterExternalSecret", "ClusterPushSecret")
	add("generators.external-secrets.io", "ClusterGenerator")
	return m
}()

// scopes tells cluster-scoped kinds from namespaced ones for one chart.
type scopes map[groupKind]bool

// newScopes returns the built-in cluster-scoped kinds plus those of crds, the chart's
// CustomResourceDefinitions with spec.scope Cluster.
func newScopes(crds []*yaml.RNode) scopes {
	s := scopes{}
	for gk := range clusterScoped {
		s[gk] = true
	}
	for _, crd := range crds {
		scope, _ := crd.GetString("spec.scope")
		group, _ := crd.GetString("spec.group")
		kind, _ := crd.GetString("spec.names.kind")
		if scope == "Cluster" && kind != "" {
			s[groupKind{group, kind}] = true
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
	return s[groupKind{group, kind}]
}

// defaultNamespace sets namespace on n when n is namespaced and has none, as Helm's kube client
// does when it applies a release.
func (s scopes) defaultNamespace(n *yaml.RNode, namespace string) error {
	if s.isClusterScoped(n.GetApiVersion(), n.GetKind()) || n.GetNamespace() != "" {
		return nil
	}
	return n.SetNamespace(namespace)
}
