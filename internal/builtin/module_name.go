package builtin

import (
	"fmt"
	"path"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// ModuleName requires a module's name to be a unique DNS-1123 label, and to equal its directory
// name when polc.yaml asks for it.
var ModuleName = rule.Rule{
	ID:       "module/name",
	Title:    "metadata.name is a unique DNS-1123 label (and the directory name, when polc.yaml asks)",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "A module's name is its identity everywhere: in dependsOn lists, in the <domain>/module label, in " +
		"the Flux Kustomization name and in compiled policies. It must " +
		"be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters), because it " +
		"becomes part of label values and object names; and no two modules may share it. Each extra " +
		"module.yaml that reuses a name is reported and left out of every other check. The directory " +
		"that holds module.yaml may be named anything (an overlay called prod, an app directory called " +
		"app); when polc.yaml sets spec.moduleNameIsDir: true, the name must also equal the directory's.",
	Remediation: "Give the module a unique lowercase DNS-1123 label as metadata.name (the directory's name when spec.moduleNameIsDir is set).",
	CheckModule: checkModuleName,
}

func checkModuleName(r *rule.Repo, m *module.Module) []rule.Finding {
	var out []rule.Finding
	name, dir := m.Name(), path.Base(m.Dir)
	if r.Config.Spec.ModuleNameIsDir && name != dir {
		out = append(out, rule.ModuleFinding(m, "metadata.name",
			fmt.Sprintf("metadata.name is %q; expected %q, the name of the module directory (polc.yaml spec.moduleNameIsDir)", name, dir)))
	}
	if !module.IsDNSLabel(name) {
		out = append(out, rule.ModuleFinding(m, "metadata.name",
			fmt.Sprintf("metadata.name %q is not a DNS-1123 label; expected at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", name)))
	}
	// The engine runs module rules on the first module of each name only; report the others here.
	for _, other := range r.Modules {
		if other != m && other.Name() == name {
			f := rule.ModuleFinding(other, "metadata.name",
				fmt.Sprintf("module name %q is already used by %s; expected a unique name", name, m.File))
			out = append(out, f)
		}
	}
	return out
}
