package infer

import (
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/module"
)

// infraCharts are Helm charts that install cluster infrastructure: controllers, operators,
// network, storage, certificates, secrets, observability and Flux itself.
var infraCharts = []string{
	"actions-runner-controller", "cert-manager", "cilium", "cloudnative-pg", "coredns", "csi-driver-nfs", "csi-driver-smb",
	"democratic-csi", "descheduler", "dragonfly-operator", "external-dns", "external-secrets", "flux-instance",
	"flux-operator", "gateway-helm", "gha-runner-scale-set-controller", "grafana-operator", "ingress-nginx",
	"intel-device-plugins-operator", "intel-device-plugins-gpu", "k8s-gateway", "keda", "kube-prometheus-stack", "kyverno",
	"longhorn", "metallb", "metrics-server", "multus", "node-feature-discovery", "openebs", "prometheus-operator",
	"prometheus-operator-crds", "reloader", "rook-ceph", "rook-ceph-cluster", "sealed-secrets", "snapshot-controller",
	"spegel", "system-upgrade-controller", "tailscale-operator", "traefik", "trust-manager", "velero", "victoria-metrics-operator",
	"volsync", "envoy-gateway", "kube-vip", "nvidia-device-plugin", "cert-manager-webhook", "vpa", "goldilocks",
}

// infraNamespaces are namespaces that hold infrastructure by convention; so does every
// namespace ending in -system.
var infraNamespaces = []string{"kube-system", "kube-public", "kube-node-lease", "flux-system", "cert-manager", "monitoring",
	"observability", "o11y", "network", "networking", "storage", "database", "databases", "rook-ceph", "longhorn",
	"external-secrets", "ingress-nginx", "traefik", "metallb", "kyverno", "security", "velero", "volsync"}

// notInfraKinds are cluster-scoped kinds that applications render too.
var notInfraKinds = []string{"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}

// isInfraChart reports whether chart installs infrastructure.
func isInfraChart(chart string) bool {
	return slices.Contains(infraCharts, chart) || strings.HasPrefix(chart, "csi-driver-") || strings.HasPrefix(chart, "intel-device-plugins")
}

// isInfraNamespace reports whether ns holds infrastructure by convention.
func isInfraNamespace(ns string) bool {
	return slices.Contains(infraNamespaces, ns) || strings.HasSuffix(ns, "-system")
}

// classify sets the type of each proposed module that is not a component from its content: it
// is infrastructure when it renders CRDs, installs a well-known infrastructure chart, runs an
// operator (a ClusterRole and a workload), renders other cluster-scoped kinds, or deploys into an
// infrastructure namespace; else the path decides, as propose found.
func (in *inferrer) classify() {
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Type == module.Component {
			continue
		}
		f := p.typeWhy
		if why, src := in.infraEvidence(p); why != "" {
			f = Fact{Field: "spec.type", Value: string(module.Infrastructure), Why: why, Source: src}
		}
		p.Module.Spec.Type = module.Type(f.Value)
		p.Facts = append(p.Facts, f)
	}
}

// infraEvidence returns the first piece of content that makes p infrastructure, and its source.
func (in *inferrer) infraEvidence(p *Proposal) (string, string) {
	var role, workload *item
	for i, it := range p.items() {
		n := it.node
		g, _, _ := strings.Cut(n.GetApiVersion(), "/")
		if !strings.Contains(n.GetApiVersion(), "/") {
			g = ""
		}
		switch {
		case isKind(n, "apiextensions.k8s.io", "CustomResourceDefinition"):
			return "it renders CustomResourceDefinition " + n.GetName(), posString(it.pos)
		case isKind(n, helmGroup, "HelmRelease"):
			if chart, from := in.chartOf(p, it); isInfraChart(chart) {
				return fmt.Sprintf("HelmRelease %s installs %s%s, a well-known infrastructure chart", n.GetName(), chart, from), posString(it.pos)
			}
		case n.GetKind() == "ClusterRole" && g == "rbac.authorization.k8s.io":
			role = &p.cached[i]
		case slices.Contains([]string{"Deployment", "DaemonSet", "StatefulSet"}, n.GetKind()) && g == "apps":
			workload = &p.cached[i]
		case kinds.ClusterScoped(g, n.GetKind()) && !slices.Contains(notInfraKinds, n.GetKind()):
			return fmt.Sprintf("it renders the cluster-scoped %s %s", n.GetKind(), n.GetName()), posString(it.pos)
		}
	}
	if role != nil && workload != nil {
		return fmt.Sprintf("it renders ClusterRole %s and %s %s: an operator or controller", role.node.GetName(), workload.node.GetKind(), workload.node.GetName()), posString(role.pos)
	}
	for _, ns := range p.Module.Spec.Namespaces {
		if isInfraNamespace(ns.Name) {
			return fmt.Sprintf("it owns namespace %s, an infrastructure namespace by convention", ns.Name), p.Dir
		}
	}
	if ns := p.targetNamespace(); isInfraNamespace(ns) {
		return fmt.Sprintf("Flux deploys it into namespace %s (spec.targetNamespace), an infrastructure namespace by convention", ns), posString(p.deployedBy[0].doc.pos)
	}
	for _, o := range p.objects {
		ns := o.Ref.Namespace
		if owner := in.nsOwner[ns]; owner != nil && owner != p {
			continue // another module's namespace: spec.uses, not what p is
		}
		if isInfraNamespace(ns) && !in.cfg.SharedAllows(ns, o.Ref.Kind) && !strings.HasSuffix(o.Ref.Group(), ".toolkit.fluxcd.io") {
			return fmt.Sprintf("%s %s is placed in namespace %s, an infrastructure namespace by convention", o.Ref.Kind, o.Ref.Name, ns), posString(o.Pos)
		}
	}
	return "", ""
}
