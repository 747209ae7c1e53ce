// Package example makes the example objects of compiled rules (rule.PolicyRule's Pass and Fail):
// objects of a module, labelled and placed as the cluster sees them, that the generated Kyverno
// CLI and chainsaw tests and the parity test send through each compiled policy.
package example

import (
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Image is the image of example workloads, pinned by tag and digest.
const Image = "registry.example.com/app:1.0.0@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// Meta returns the metadata of an example object of module m named name: in m's first namespace
// (unless clusterScoped), labelled as Flux labels what it applies for m, plus labels.
func Meta(r *rule.Repo, m *module.Module, name string, clusterScoped bool, labels map[string]any) map[string]any {
	l := map[string]any{rule.FluxNameLabel: r.Config.FluxName(m)}
	for k, v := range labels {
		l[k] = v
	}
	meta := map[string]any{"name": name, "labels": l}
	if !clusterScoped {
		ns := "default"
		if len(m.Spec.Namespaces) > 0 {
			ns = m.Spec.Namespaces[0].Name
		}
		meta["namespace"] = ns
	}
	return meta
}

// Workload returns an example Deployment of module m named name, whose single container runs
// image and meets the restricted Pod Security level, with resources set; tweak changes the
// container before it is returned.
func Workload(r *rule.Repo, m *module.Module, name, image string, tweak func(container map[string]any)) map[string]any {
	labels := rule.ModuleLabels(r, m)
	labels["app.kubernetes.io/name"] = name
	c := map[string]any{
		"name":  "app",
		"image": image,
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false,
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
			"runAsNonRoot":             true,
		},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "10m", "memory": "16Mi"},
			"limits":   map[string]any{"memory": "64Mi"},
		},
	}
	if tweak != nil {
		tweak(c)
	}
	return map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   Meta(r, m, name, false, labels),
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/name": name}},
				"spec": map[string]any{
					"securityContext": map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
					"containers":      []any{c},
				},
			},
		},
	}
}
