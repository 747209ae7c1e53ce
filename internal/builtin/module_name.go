package builtin

import (
	"fmt"
	"path"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// ModuleName requires a module's name to equal its directory name, to be a DNS-1123 label and to
// be unique.
var ModuleName = rule.Rule{
	ID:       "module/name",
	Title:    "metadata.name equals the directory name, is a DNS-1123 label and is unique",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "A module's name is its identity everywhere: in dependsOn lists, in the <domain>/module label, in " +
		"the Flux Kustomization name and in compiled policies. It must equal the name of the directory " +
		"that holds module.yaml, so that the repository layout and the metadata never disagree; it must " +
		"be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters), because it " +
		"becomes part of label values and object names; and no two modules may share it. Each extra " +
		"module.yaml that reuses a name is reported and left out of every other check.",
	Remediation: "Set metadata.name to the module directory's name, or rename the directory, using a unique lowercase DNS-1123 label.",
	CheckModule: checkModuleName,
}

func checkModuleName(r *rule.Repo, m *module.Module) []rule.Finding {
	var out []rule.Finding
	name, dir := m.Name(), path.Base(m.Dir)
	if name != dir {
		out = append(out, rule.ModuleFinding(m, "metadata.name",
			fmt.Sprintf("metadata.name is %q; expected %q, the name of the module directory", name, dir)))
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
