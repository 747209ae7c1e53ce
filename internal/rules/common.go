package rules

import (
	"slices"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// reportedModules returns the modules a repository rule reports on: every module that owns its
// name (duplicates are module/name's business) and that the run selected, in name order.
func reportedModules(r *rule.Repo) []*module.Module {
	var out []*module.Module
	for _, m := range r.Modules {
		if r.ByName[m.Name()] == m && isSelected(r, m.Name()) {
			out = append(out, m)
		}
	}
	return out
}

// isSelected reports whether the run reports on the named module.
func isSelected(r *rule.Repo, name string) bool {
	return r.Selected == nil || r.Selected[name]
}

// declaresDep reports whether m names dep in spec.dependsOn or spec.softDependsOn.
func declaresDep(m *module.Module, dep string) bool {
	return slices.Contains(m.Spec.DependsOn, dep) || slices.Contains(m.Spec.SoftDependsOn, dep)
}

// ownsNamespace reports whether m declares namespace ns in spec.namespaces.
func ownsNamespace(m *module.Module, ns string) bool {
	return slices.ContainsFunc(m.Spec.Namespaces, func(n module.Namespace) bool { return n.Name == ns })
}

// namespaceNames returns the names of the namespaces m declares, in declaration order.
func namespaceNames(m *module.Module) []string {
	out := make([]string, 0, len(m.Spec.Namespaces))
	for _, n := range m.Spec.Namespaces {
		out = append(out, n.Name)
	}
	return out
}

// objectFinding builds a finding of a module-scope rule about a field of a rendered object, at the
// field's position when its source is known.
func objectFinding(ru *rule.Rule, m *module.Module, o *manifest.Object, field, msg string) rule.Finding {
	ref := o.Ref
	return rule.Finding{Rule: ru.ID, Severity: ru.Severity, Module: m.Name(), Pos: o.FieldPos(field),
		Object: &ref, Field: field, Message: msg, Hint: ru.Remediation}
}
