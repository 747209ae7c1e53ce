package builtin

import (
	"polc.dev/polc/internal/rule"
)

// ModuleRender is reported by the renderer for modules that kustomize cannot build.
var ModuleRender = rule.Rule{
	ID:       rule.RenderRule,
	Title:    "The module renders with kustomize and Flux substitution",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "polc renders each non-component module in memory with kustomize (plugins off, files restricted to " +
		"each kustomization's root, paths confined to the repository) and then applies Flux post-build " +
		"substitution with the values of polc.yaml spec.substitute, with Flux's envsubst. It then follows the " +
		"Flux Kustomizations the module deploys from this repository and templates its HelmReleases, as " +
		"kustomize-controller and helm-controller would. A kustomize or Helm error, a spec.path that does not " +
		"exist, an expression Flux's envsubst rejects, or a ${var} without a value or a default fails the " +
		"module (or that Kustomization or HelmRelease): Flux would fail or deploy an empty value. Components " +
		"render through the modules that include them.",
	Remediation: "Run `polc render MODULE` to see what polc renders and where each object comes from, then fix the kustomization, the Flux Kustomization's path, the chart values, or set the variable in polc.yaml spec.substitute.",
}
