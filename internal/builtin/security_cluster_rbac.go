package builtin

import (
	"fmt"

	"polc.dev/polc/internal/kyverno/example"
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
	Policy:      policyClusterRBAC,
}

func checkClusterRBAC(_ *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
	if m.Spec.Type != module.Application || o.Ref.Group() != "rbac.authorization.k8s.io" {
		return nil
	}
	return []rule.Violation{{Message: fmt.Sprintf("application module %s ships %s %s; expected only namespaced Roles and RoleBindings", m.Name(), o.Ref.Kind, o.Ref.Name)}}
}

// policyClusterRBAC rejects ClusterRoles and ClusterRoleBindings of application modules.
func policyClusterRBAC(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	if m.Spec.Type != module.Application {
		return nil
	}
	role := func(apiVersion, name string) map[string]any {
		return map[string]any{"apiVersion": apiVersion, "kind": "ClusterRole", "metadata": example.Meta(r, m, name, true, rule.ModuleLabels(r, m))}
	}
	// Kinds are matched by name, as offline, and the group is checked by the rule: a ClusterRole of
	// another API group is not RBAC.
	return []rule.PolicyRule{{
		Name:    "cluster-rbac",
		Kinds:   rule.AnyGroup("ClusterRole", "ClusterRoleBinding"),
		Lookup:  rule.ByLabels,
		Message: "application modules ship no ClusterRole or ClusterRoleBinding; use a Role and RoleBinding in the module's namespace",
		// starts_with, not AnyIn: AnyIn would also read * and ? in the object's apiVersion as wildcards.
		Deny: []rule.Condition{{Key: "{{ starts_with(request.object.apiVersion, 'rbac.authorization.k8s.io/') }}", Operator: "Equals", Value: true}},
		CEL:  []string{`!object.apiVersion.startsWith("rbac.authorization.k8s.io/")`},
		Pass: []map[string]any{role("example.com/v1", m.Name()+"-not-rbac")},
		Fail: []map[string]any{role("rbac.authorization.k8s.io/v1", m.Name()+"-cluster-role")},
	}}
}
