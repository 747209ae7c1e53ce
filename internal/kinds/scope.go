package kinds

import (
	"slices"
	"sync"
)

// Offline there is no API discovery: an object is cluster-scoped when its group and kind are in
// clusterScoped (the cluster-scoped kinds of Kubernetes and of the projects a Flux platform
// commonly installs), and namespaced otherwise. Extend the table when a cluster-scoped custom
// resource is treated as namespaced by mistake.

// GroupKind names a kind within its API group ("" is the core group).
type GroupKind struct{ Group, Kind string }

// clusterScoped are the cluster-scoped kinds of Kubernetes and of the projects whose custom
// resources a Flux platform commonly installs and charts commonly template.
var clusterScoped = func() map[GroupKind]bool {
	m := map[GroupKind]bool{}
	add := func(group string, kinds ...string) {
		for _, k := range kinds {
			m[GroupKind{Group: group, Kind: k}] = true
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

// ClusterScoped reports whether kind of API group is cluster-scoped.
func ClusterScoped(group, kind string) bool {
	return clusterScoped[GroupKind{Group: group, Kind: kind}]
}

// ClusterScopedTable returns a copy of the table of cluster-scoped kinds.
func ClusterScopedTable() map[GroupKind]bool {
	out := make(map[GroupKind]bool, len(clusterScoped))
	for gk := range clusterScoped {
		out[gk] = true
	}
	return out
}

// ClusterScopedKinds returns the names of the cluster-scoped kinds, whatever their group, sorted:
// the checks and policies that see only an object's kind use them.
var ClusterScopedKinds = sync.OnceValue(func() []string {
	var out []string
	for gk := range clusterScoped {
		out = append(out, gk.Kind)
	}
	slices.Sort(out)
	return slices.Compact(out)
})

// ClusterScopedKind reports whether some group serves kind as a cluster-scoped kind.
func ClusterScopedKind(kind string) bool {
	_, ok := slices.BinarySearch(ClusterScopedKinds(), kind)
	return ok
}
