package builtin

import (
	"fmt"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// DepsDirection keeps dependencies pointing down the platform's layers.
var DepsDirection = rule.Rule{
	ID:       "deps/direction",
	Title:    "Infrastructure never depends on applications; core never hard-depends on extra",
	Severity: rule.Error,
	Scope:    rule.RepoScope,
	Doc: "The platform is layered: core infrastructure first, extra infrastructure on top of it, " +
		"applications last. An infrastructure module that depends on an application, hard or soft, " +
		"ties the platform to a workload that may be removed at any time; a core module that " +
		"hard-depends on an extra module inverts the tiers, so the core can no longer be deployed " +
		"without the extras that are meant to be optional.",
	Remediation: "Remove the dependency, or move the shared part into a module of the lower layer that both can depend on.",
	CheckRepo:   checkDepsDirection,
}

func checkDepsDirection(r *rule.Repo) []rule.Finding {
	var out []rule.Finding
	for _, m := range r.Reported() {
		if m.Spec.Type != module.Infrastructure {
			continue
		}
		for _, list := range []struct {
			field, kind string
			deps        []string
			hard        bool
		}{{"spec.dependsOn", "hard", m.Spec.DependsOn, true}, {"spec.softDependsOn", "soft", m.Spec.SoftDependsOn, false}} {
			for i, d := range list.deps {
				dep := r.ByName[d]
				if dep == nil {
					continue // deps/unknown
				}
				field := fmt.Sprintf("%s[%d]", list.field, i)
				switch {
				case dep.Spec.Type == module.Application:
					out = append(out, rule.ModuleFinding(m, field,
						fmt.Sprintf("infrastructure module %q has a %s dependency on application module %q; expected infrastructure to depend only on infrastructure", m.Name(), list.kind, d)))
				case list.hard && m.Spec.Tier == module.Core && dep.Spec.Tier == module.Extra:
					out = append(out, rule.ModuleFinding(m, field,
						fmt.Sprintf("core module %q hard-depends on extra module %q; expected core modules to depend only on core modules", m.Name(), d)))
				}
			}
		}
	}
	return out
}
