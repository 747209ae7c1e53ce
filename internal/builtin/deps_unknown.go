package builtin

import (
	"fmt"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// DepsUnknown requires every dependency to name an existing module that is not a component.
var DepsUnknown = rule.Rule{
	ID:       "deps/unknown",
	Title:    "Every dependency names an existing, non-component module",
	Severity: rule.Error,
	Scope:    rule.RepoScope,
	Doc: "spec.dependsOn and spec.softDependsOn name other modules of the repository. A name that matches " +
		"no module is a typo or a module that was removed or renamed, and the dependency it documents no " +
		"longer holds: Flux would wait forever for a Kustomization that does not exist. Component " +
		"modules are not deployed on their own, so nothing can depend on them; a module uses a " +
		"component by listing it under `components:` in its kustomization.yaml.",
	Remediation: "Correct the module name, remove the dependency, or include a component through the kustomization's components list.",
	CheckRepo:   checkDepsUnknown,
}

func checkDepsUnknown(r *rule.Repo) []rule.Finding {
	var out []rule.Finding
	for _, m := range r.Reported() {
		for _, list := range []struct {
			field string
			deps  []string
		}{{"spec.dependsOn", m.Spec.DependsOn}, {"spec.softDependsOn", m.Spec.SoftDependsOn}} {
			for i, d := range list.deps {
				field := fmt.Sprintf("%s[%d]", list.field, i)
				dep := r.ByName[d]
				switch {
				case dep == nil:
					out = append(out, rule.ModuleFinding(m, field,
						fmt.Sprintf("%s names %q, which is not a module; expected the name of a module under %s", field, d, r.Config.Spec.ModulesDir)))
				case dep.Spec.Type == module.Component:
					out = append(out, rule.ModuleFinding(m, field,
						fmt.Sprintf("%s names %q, a component module; expected a non-component module (include components through kustomization.yaml `components:`)", field, d)))
				}
			}
		}
	}
	return out
}
