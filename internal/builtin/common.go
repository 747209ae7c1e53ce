package builtin

import (
	"slices"

	"polc.dev/polc/internal/module"
)

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
