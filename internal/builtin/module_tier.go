package builtin

import (
	"fmt"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// ModuleTier requires infrastructure modules to declare a tier that matches their name suffix,
// and other modules to declare none.
var ModuleTier = rule.Rule{
	ID:       "module/tier",
	Title:    "Infrastructure modules declare the tier their name ends with; others declare none",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "Infrastructure is split into areas, each with a core module (what the platform cannot run " +
		"without) and optionally an extra module (what builds on it). The tier decides dependency " +
		"direction and the policy action, so it must be visible in the name: an infrastructure module " +
		"sets spec.tier to core or extra and its name ends in -core or -extra accordingly. Application " +
		"and component modules have no tier.",
	Remediation: "Set spec.tier to the suffix of the module name (core or extra) for infrastructure modules, and remove spec.tier from the others.",
	CheckModule: checkModuleTier,
}

func checkModuleTier(_ *rule.Repo, m *module.Module) []rule.Finding {
	tier := m.Spec.Tier
	if m.Spec.Type != module.Infrastructure {
		if tier == "" {
			return nil
		}
		return []rule.Finding{rule.ModuleFinding(m, "spec.tier",
			fmt.Sprintf("spec.tier is %q; expected no tier for a module of type %s", tier, m.Spec.Type))}
	}
	if tier == "" {
		want := "core or extra"
		for _, t := range []module.Tier{module.Core, module.Extra} {
			if strings.HasSuffix(m.Name(), "-"+string(t)) {
				want = string(t)
			}
		}
		return []rule.Finding{rule.ModuleFinding(m, "spec.type",
			fmt.Sprintf("spec.tier is missing; expected %s for an infrastructure module", want))}
	}
	if !strings.HasSuffix(m.Name(), "-"+string(tier)) {
		return []rule.Finding{rule.ModuleFinding(m, "spec.tier",
			fmt.Sprintf("module name %q does not end in %q; expected the name of a %s-tier module to end with its tier", m.Name(), "-"+string(tier), tier))}
	}
	return nil
}
