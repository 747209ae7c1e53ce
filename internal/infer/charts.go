package infer

import (
	"path"
	"strings"
)

// wellKnownCharts maps Helm chart names to the API groups whose CRDs the chart installs with its
// default values. polc cannot render charts offline, so a HelmRelease of one of these charts is
// how init learns that a module provides those groups. The table is deliberately small: only
// widely used charts whose CRD groups are stable. Flux's own groups (source, kustomize, helm,
// notification, image toolkit) are left out on purpose: Flux deploys the modules, it is not a
// module dependency.
var wellKnownCharts = map[string][]string{
	"cert-manager":                    {"acme.cert-manager.io", "cert-manager.io"},
	"cilium":                          {"cilium.io"},
	"cloudnative-pg":                  {"postgresql.cnpg.io"},
	"dragonfly-operator":              {"dragonflydb.io"},
	"external-secrets":                {"external-secrets.io", "generators.external-secrets.io"},
	"flux-operator":                   {"fluxcd.controlplane.io"},
	"gateway-helm":                    {"gateway.envoyproxy.io", "gateway.networking.k8s.io"},
	"gha-runner-scale-set-controller": {"actions.github.com"},
	"grafana-operator":                {"grafana.integreatly.org"},
	"keda":                            {"eventing.keda.sh", "keda.sh"},
	"kube-prometheus-stack":           {"monitoring.coreos.com"},
	"kyverno":                         {"kyverno.io", "policies.kyverno.io", "reports.kyverno.io", "wgpolicyk8s.io"},
	"longhorn":                        {"longhorn.io"},
	"metallb":                         {"metallb.io"},
	"node-feature-discovery":          {"nfd.k8s-sigs.io"},
	"prometheus-operator-crds":        {"monitoring.coreos.com"},
	"rook-ceph":                       {"ceph.rook.io", "objectbucket.io"},
	"snapshot-controller":             {"snapshot.storage.k8s.io"},
	"tailscale-operator":              {"tailscale.com"},
	"traefik":                         {"traefik.io"},
	"victoria-metrics-operator":       {"operator.victoriametrics.com"},
	"volsync":                         {"volsync.backube"},
}

// chartName returns the chart name of a chart reference: the last path element of a chart path
// (./charts/app) or of an OCI URL (oci://ghcr.io/org/charts/cert-manager:v1.0), without a tag.
func chartName(ref string) string {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), "/")
	name := path.Base(ref)
	if i := strings.IndexAny(name, ":@"); i > 0 {
		name = name[:i]
	}
	return name
}
