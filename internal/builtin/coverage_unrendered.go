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
	Doc: "polc checks the objects it renders: each module's kustomization, the paths of the Flux " +
		"Kustomizations it deploys from this repository, and the charts of its HelmReleases, templated " +
		"from the repository or the chart cache. What it cannot render is checked only in the cluster, by " +
		"the compiled policies, and a green offline run does not cover it: a Flux Kustomization that reads " +
		"another source, whose path leaves the repository, or that deploys itself through its chain; a " +
		"HelmRelease whose chart version is not pinned, whose source is not in the repository or of a kind " +
		"polc cannot fetch, whose chart is not in the cache (run `polc charts pull`), or whose valuesFrom " +
		"object only the cluster holds. Each is reported at the field that names what was not rendered " +
		"(spec.path, spec.chart or spec.chartRef) with the reason, and the summary counts them " +
		"(summary.coverage in JSON). A warning by default; make it an error in polc.yaml spec.rules to " +
		"require full offline coverage, or turn it off.",
	Remediation: "Run `polc charts pull` for uncached charts and pin chart versions; otherwise accept the gap (only the cluster checks those objects) with a module exception for coverage/unrendered and a reason, or set polc.yaml spec.source when the repository's Flux source has another name.",
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
