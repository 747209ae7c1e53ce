package builtin

import (
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// ModuleExtraNeedsCore requires every <area>-extra module to have an <area>-core sibling and to
// depend on it.
var ModuleExtraNeedsCore = rule.Rule{
	ID:       "module/extra-needs-core",
	Title:    "An <area>-extra module has an <area>-core module and hard-depends on it",
	Severity: rule.Error,
	Scope:    rule.RepoScope,
	Doc: "An extra module builds on the core module of its area: storage-extra adds backups and " +
		"dashboards to what storage-core installs. Without the core module, or without a hard " +
		"dependency on it, Flux may reconcile the extra module first or alone, and its objects fail " +
		"or land in a cluster that lacks their CRDs and namespaces. The rule applies to infrastructure " +
		"modules whose name ends in -extra.",
	Remediation: "Add the <area>-core module to the repository and list it in the extra module's spec.dependsOn.",
	CheckRepo:   checkExtraNeedsCore,
}

func checkExtraNeedsCore(r *rule.Repo) []rule.Finding {
	var out []rule.Finding
	for _, m := range r.Reported() {
		area, ok := strings.CutSuffix(m.Name(), "-"+string(module.Extra))
		if m.Spec.Type != module.Infrastructure || !ok {
			continue
		}
		core := area + "-" + string(module.Core)
		switch {
		case r.ByName[core] == nil:
			out = append(out, rule.ModuleFinding(m, "metadata.name",
				fmt.Sprintf("extra module %q has no core module; expected a module named %q", m.Name(), core)))
		case !slices.Contains(m.Spec.DependsOn, core):
			out = append(out, rule.ModuleFinding(m, "spec.dependsOn",
				fmt.Sprintf("spec.dependsOn is [%s]; expected it to include %q", strings.Join(m.Spec.DependsOn, ", "), core)))
		}
	}
	return out
}
