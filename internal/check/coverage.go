package check

import (
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// helmGroup is the API group of Flux HelmReleases.
const helmGroup = "helm.toolkit.fluxcd.io"

// gaps lists, in module and object order, what the rendered objects of the selected modules
// deploy that polc does not render: HelmReleases (the objects of their charts) and Flux
// Kustomizations whose spec.path is not a module directory (the objects under that path). A Flux
// Kustomization that deploys a module is no gap: polc renders that module itself.
func gaps(repo *rule.Repo) []rule.Gap {
	var out []rule.Gap
	for _, m := range selected(repo) {
		for _, o := range repo.Objects[m.Name()] {
			switch {
			case o.Ref.Group() == helmGroup && o.Ref.Kind == "HelmRelease":
				out = append(out, rule.Gap{Kind: rule.GapHelmRelease, Module: m.Name(), Object: o, Field: chartField(o), Cause: "not-templated",
					Reason: o.Ref.String() + " is not rendered: polc does not template Helm charts yet, so what the chart deploys is checked only in the cluster, by the compiled policies"})
			}
		}
	}
	return out
}

// chartField is the field of a HelmRelease that names its chart: spec.chart, spec.chartRef, or
// none when it has neither.
func chartField(o *manifest.Object) string {
	for _, f := range []string{"chart", "chartRef"} {
		if n, err := o.Node.Pipe(yaml.Lookup("spec", f)); err == nil && n != nil {
			return "spec." + f
		}
	}
	return ""
}
