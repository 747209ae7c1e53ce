package rules

import (
	"fmt"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// SecurityClusterRBAC keeps cluster-wide RBAC out of application modules.
var SecurityClusterRBAC = rule.Rule{
	ID:       "security/cluster-rbac",
	Title:    "Application modules ship no ClusterRole or ClusterRoleBinding",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "An application module runs in its own namespaces and needs no cluster-wide permissions: a " +
		"ClusterRole or ClusterRoleBinding in an application module grants rights beyond the namespaces " +
		"the module owns. Cluster-scoped RBAC belongs in infrastructure modules, whose review covers the " +
		"whole cluster; applications use Roles and RoleBindings in their namespaces.",
	Remediation: "Replace the ClusterRole or ClusterRoleBinding with a Role and RoleBinding in the module's namespace, or move it to an infrastructure module.",
	Kinds:       []string{"ClusterRole", "ClusterRoleBinding"},
	CheckObject: checkClusterRBAC,
}

func checkClusterRBAC(_ *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
	if m.Spec.Type != module.Application || o.Ref.Group() != "rbac.authorization.k8s.io" {
		return nil
	}
	return []rule.Violation{{Message: fmt.Sprintf("application module %s ships %s %s; expected only namespaced Roles and RoleBindings", m.Name(), o.Ref.Kind, o.Ref.Name)}}
}
