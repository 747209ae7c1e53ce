package builtin

import (
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// NamingNamespaceOwnership keeps every namespaced object inside its module's namespaces and gives
// every namespace one owner.
var NamingNamespaceOwnership = rule.Rule{
	ID:       "naming/namespace-ownership",
	Title:    "Objects live in their module's namespaces; each namespace has one owner",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "A module owns the namespaces it declares in spec.namespaces, and only those: every namespaced " +
		"object it renders sets metadata.namespace to one of them, every Namespace object it renders is " +
		"declared there, and no two modules declare the same namespace (the second owner's Namespace " +
		"object is reported). This is what makes per-module policies, Pod Security levels and " +
		"PolicyReports reliable. An object without a namespace is reported too: Flux would place it in " +
		"the default namespace of its Kustomization. Cluster-scoped kinds (ClusterRole, " +
		"CustomResourceDefinition, StorageClass, ClusterIssuer, ClusterPolicy and the others of polc's " +
		"documented list) are exempt.",
	Remediation: "Set metadata.namespace to one of the module's namespaces (a kustomize `namespace:` field does it for all objects), or declare the namespace in spec.namespaces of exactly one module.",
	CheckObject: checkNamespaceOwnership,
	Policy:      policyNamespaceOwnership,
}

func checkNamespaceOwnership(r *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
	declared := namespaceNames(m)
	list := "[" + strings.Join(declared, ", ") + "]"
	if o.Ref.Kind == "Namespace" && o.Ref.Group() == "" {
		ns := o.Ref.Name
		if !ownsNamespace(m, ns) {
			return []rule.Violation{{Field: "metadata.name",
				Message: fmt.Sprintf("Namespace %q is not declared by the module; expected one of spec.namespaces %s", ns, list)}}
		}
		if first := r.Owner(ns); first != nil && first != m {
			return []rule.Violation{{Field: "metadata.name",
				Message: fmt.Sprintf("namespace %q is also declared by module %q (%s); expected a single owner", ns, first.Name(), first.File)}}
		}
		return nil
	}
	if kinds.ClusterScopedKind(o.Ref.Kind) {
		return nil
	}
	ns := o.Ref.Namespace
	switch {
	case ns == "" && len(declared) == 0:
		return []rule.Violation{{Field: "metadata",
			Message: "object has no namespace and the module declares none; expected a namespace declared in spec.namespaces (Flux would use its Kustomization's default namespace)"}}
	case ns == "":
		return []rule.Violation{{Field: "metadata",
			Message: fmt.Sprintf("object has no namespace; expected one of %s (Flux would use its Kustomization's default namespace)", list)}}
	case ownsNamespace(m, ns):
		return nil
	}
	msg := fmt.Sprintf("namespace %q is not one of the module's namespaces; expected one of %s", ns, list)
	if owner := r.Owner(ns); owner != nil {
		msg += fmt.Sprintf(" (%s belongs to module %q)", ns, owner.Name())
	}
	return []rule.Violation{{Field: "metadata.namespace", Message: msg}}
}

// policyNamespaceOwnership keeps the module's namespaced objects in its namespaces, and its
// Namespace objects among the namespaces it declares first.
func policyNamespaceOwnership(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	declared := namespaceNames(m)
	var first []string // the namespaces m owns and no module before it declares
	for _, ns := range declared {
		if r.Owner(ns) == m {
			first = append(first, ns)
		}
	}
	exempt := slices.Clone(kinds.ClusterScopedKinds()) // Namespace among them
	cm := func(name, ns string) map[string]any {
		meta := example.Meta(r, m, name, false, rule.ModuleLabels(r, m))
		meta["namespace"] = ns
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
	}
	namespace := func(name string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": example.Meta(r, m, name, true, rule.ModuleLabels(r, m))}
	}
	elsewhere := m.Name() + "-elsewhere"
	objects := rule.PolicyRule{
		Name:         m.Name(),
		Kinds:        []rule.Kind{rule.AnyKind},
		Match:        rule.ModuleSelectors(r, m, false),
		ExcludeKinds: exempt,
		Message:      fmt.Sprintf("namespaced objects of module %s live in its namespaces %v", m.Name(), declared),
		Deny:         []rule.Condition{{Key: "{{ contains(" + expr.JMESStrings(declared) + ", request.object.metadata.namespace || '') }}", Operator: "Equals", Value: false}},
		CEL:          []string{`object.metadata.?namespace.orValue("") in ` + expr.CELStrings(declared)},
		Fail:         []map[string]any{cm(m.Name()+"-misplaced", elsewhere)},
	}
	namespaces := rule.PolicyRule{
		Name:    m.Name() + "-namespaces",
		Kinds:   []rule.Kind{rule.NamespaceKind},
		Match:   rule.ModuleSelectors(r, m, false),
		Message: fmt.Sprintf("module %s only creates the namespaces it declares and no other module declared before %v", m.Name(), first),
		Deny:    []rule.Condition{{Key: "{{ contains(" + expr.JMESStrings(first) + ", request.object.metadata.name) }}", Operator: "Equals", Value: false}},
		CEL:     []string{`object.metadata.name in ` + expr.CELStrings(first)},
		Fail:    []map[string]any{namespace(elsewhere)},
	}
	if len(declared) > 0 {
		objects.Pass = []map[string]any{cm(m.Name()+"-placed", declared[0])}
	}
	if len(first) > 0 {
		namespaces.Pass = []map[string]any{namespace(first[0])}
	}
	// The namespaces are compared by JMESPath's contains, literally: Kyverno's AnyNotIn would read *
	// and ? in the object's namespace or name as wildcards. An empty list contains nothing, so with
	// no namespace allowed every object is denied.
	return []rule.PolicyRule{objects, namespaces}
}
