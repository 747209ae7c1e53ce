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
		"substitution with the values of polc.yaml spec.substitute. A kustomize error, or a ${var} without a " +
		"value or a default, fails the module: Flux would fail or deploy an empty value. Components render " +
		"through the modules that include them.",
	Remediation: "Run `polc render MODULE` to see the error, then fix the kustomization or set the variable in polc.yaml spec.substitute.",
}
