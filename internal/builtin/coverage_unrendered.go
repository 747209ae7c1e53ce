package builtin

import (
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// CoverageUnrendered reports what a module deploys that polc does not render.
var CoverageUnrendered = rule.Rule{
	ID:       "coverage/unrendered",
	Title:    "Everything a module deploys is rendered and checked offline",
	Severity: rule.Warning,
	Scope:    rule.ModuleScope,
	Doc: "polc checks the objects it renders. A module's HelmRelease deploys what its chart templates, " +
		"and a Flux Kustomization whose spec.path is not a module directory deploys what that path " +
		"builds; polc does not render either yet, so the objects they deploy are checked only in the " +
		"cluster, by the compiled policies, and a green offline run does not cover them. Each such " +
		"object is reported at the field that names what was not rendered (spec.chart, spec.chartRef " +
		"or spec.path), and the summary counts them. A Flux Kustomization that deploys a module " +
		"directory is no gap: polc renders that module. A warning by default; make it an error in " +
		"polc.yaml spec.rules to require full offline coverage, or turn it off.",
	Remediation: "Accept the gap (only the cluster checks those objects), add a module exception for coverage/unrendered with a reason, or move the content into a module directory that polc renders.",
	CheckModule: checkCoverageUnrendered,
}

func checkCoverageUnrendered(r *rule.Repo, m *module.Module) []rule.Finding {
	var out []rule.Finding
	for _, g := range r.Gaps {
		if g.Module == m.Name() {
			out = append(out, rule.ObjectFinding(m, g.Object, g.Field, g.Reason))
		}
	}
	return out
}
