package builtin

import (
	"fmt"
	"slices"

	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/rule"
)

// DepsCycle forbids cycles of hard dependencies.
var DepsCycle = rule.Rule{
	ID:       "deps/cycle",
	Title:    "Hard dependencies form no cycle",
	Severity: rule.Error,
	Scope:    rule.RepoScope,
	Doc: "Hard dependencies order reconciliation: Flux applies a module's Kustomization only after those of " +
		"its dependencies are ready. A cycle of hard dependencies (a -> b -> c -> a) can never become " +
		"ready, so none of its modules is ever deployed, and polc cannot place them in a deployment " +
		"wave. The finding prints the whole cycle once, at the dependsOn entry of its first module " +
		"(the smallest name) that starts the path. Soft dependencies do not order anything and may " +
		"form cycles.",
	Remediation: "Break the cycle by removing one hard dependency or by turning it into a softDependsOn entry.",
	CheckRepo:   checkDepsCycle,
}

func checkDepsCycle(r *rule.Repo) []rule.Finding {
	var out []rule.Finding
	for _, cyc := range r.Graph.Cycles() {
		// A cycle concerns all its modules: report it when the run selected any of them.
		if !slices.ContainsFunc(cyc, func(n string) bool { return r.IsSelected(n) }) {
			continue
		}
		first := r.ByName[cyc[0]]
		field := fmt.Sprintf("spec.dependsOn[%d]", slices.Index(first.Spec.DependsOn, cyc[1]))
		out = append(out, rule.ModuleFinding(first, field,
			fmt.Sprintf("hard dependencies form a cycle: %s; expected no module to depend on itself through spec.dependsOn", graph.FormatPath(cyc))))
	}
	return out
}
