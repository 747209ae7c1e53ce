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
		"the default namespace of its Kustomization. Two declarations let a module write into a namespace " +
		"it does not own: polc.yaml spec.sharedNamespaces, namespaces every module may write into (by " +
		"default flux-system, for the Flux source kinds GitRepository, OCIRepository, HelmRepository, " +
		"HelmChart and Bucket, and for Flux Kustomizations), and the module's spec.uses, such as {namespace: metallb-system, kinds: " +
		"[IPAddressPool]} (the owner of a used namespace must be one of the module's dependencies, " +
		"which deps/undeclared checks). Cluster-scoped kinds (ClusterRole, " +
		"CustomResourceDefinition, StorageClass, ClusterIssuer, ClusterPolicy and the others of polc's " +
		"documented list) are exempt.",
	Remediation: "Set metadata.namespace to one of the module's namespaces (a kustomize `namespace:` field does it for all objects), declare the namespace in spec.namespaces of exactly one module, or declare the write in spec.uses (another module's namespace) or polc.yaml spec.sharedNamespaces.",
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
	case ownsNamespace(m, ns), m.Uses(ns, o.Ref.Kind), r.Config.SharedAllows(ns, o.Ref.Kind):
		return nil
	}
	msg := fmt.Sprintf("namespace %q is not one of the module's namespaces; expected one of %s", ns, list)
	if owner := r.Owner(ns); owner != nil {
		msg += fmt.Sprintf(" (%s belongs to module %q: declare {namespace: %s, kinds: [%s]} in spec.uses to write there)", ns, owner.Name(), ns, o.Ref.Kind)
	} else if r.Config.Shared(ns) != nil {
		msg += fmt.Sprintf(" (polc.yaml spec.sharedNamespaces does not list kind %s for %s)", o.Ref.Kind, ns)
	}
	return []rule.Violation{{Field: "metadata.namespace", Message: msg}}
}

// grant opens a namespace to a module's writes: of the kinds listed, or of any kind.
type grant struct {
	ns    string
	kinds []string
}

// usesGrants are the grants of m's spec.uses; sharedGrants those of polc.yaml's shared namespaces,
// which every module has.
func usesGrants(m *module.Module) []grant {
	var out []grant
	for _, u := range m.Spec.Uses {
		out = append(out, grant{u.Namespace, u.Kinds})
	}
	return out
}

func sharedGrants(r *rule.Repo) []grant {
	var out []grant
	for _, s := range r.Config.Spec.SharedNamespaces {
		out = append(out, grant{s.Name, s.Kinds})
	}
	return out
}

// writableNamespaces returns where a module may write namespaced objects: the namespaces it may
// write any kind into (declared, then those the grants open to every kind), and namespace/kind
// pairs for the grants limited to some kinds. Both are never nil; the first keeps the declared
// namespaces first, in declaration order, then sorted; the pairs are sorted.
func writableNamespaces(declared []string, grants []grant) (anyKind, pairs []string) {
	anyKind, pairs = slices.Clone(declared), []string{}
	if anyKind == nil {
		anyKind = []string{}
	}
	var extra []string
	for _, g := range grants {
		if len(g.kinds) == 0 {
			extra = append(extra, g.ns)
		}
		for _, k := range g.kinds {
			pairs = append(pairs, g.ns+"/"+k)
		}
	}
	slices.Sort(extra)
	for _, ns := range slices.Compact(extra) {
		if !slices.Contains(anyKind, ns) {
			anyKind = append(anyKind, ns)
		}
	}
	slices.Sort(pairs)
	return anyKind, slices.Compact(pairs)
}

// writableSelectors selects the objects in the namespaces of anyKind, and of the kinds of pairs
// (namespace/kind) in their namespaces; never nil.
func writableSelectors(anyKind, pairs []string) []rule.Selector {
	out := []rule.Selector{}
	if len(anyKind) > 0 {
		out = append(out, rule.Selector{Namespaces: anyKind})
	}
	for _, p := range pairs {
		ns, kind, _ := strings.Cut(p, "/")
		out = append(out, rule.Selector{Namespaces: []string{ns}, Kinds: []string{kind}})
	}
	return out
}

// policyNamespaceOwnership keeps the module's namespaced objects in its namespaces, and its
// Namespace objects among the namespaces it declares first.
func policyNamespaceOwnership(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	declared := namespaceNames(m)
	first := []string{} // the namespaces m owns and no module before it declares
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
	// The module's own grants are its data; polc.yaml's shared namespaces, the same for every
	// module, are literals of the check.
	anyKind, pairs := writableNamespaces(declared, usesGrants(m))
	sharedAny, sharedPairs := writableNamespaces(nil, sharedGrants(r))
	mod, cel := rule.ModuleJMES, rule.ModuleCEL
	const ns = "request.object.metadata.namespace || ''"
	const pair = "join('/', [" + ns + ", request.object.kind])"
	const celNS = `object.metadata.?namespace.orValue("")`
	const celPair = "(" + celNS + ` + "/" + object.kind)`
	// The namespaces are compared by JMESPath's contains, literally: Kyverno's AnyNotIn would read *
	// and ? in the object's namespace or name as wildcards. An empty list contains nothing, so with
	// no namespace allowed every object is denied.
	jmes := "contains(" + mod + ".namespaces || `[]`, " + ns + ") || contains(" + mod + ".pairs || `[]`, " + pair + ")"
	celCheck := celNS + " in " + cel + ".namespaces || " + celPair + " in " + cel + ".pairs"
	if len(sharedAny) > 0 {
		jmes += " || contains(" + expr.JMESStrings(sharedAny) + ", " + ns + ")"
		celCheck += " || " + celNS + " in " + expr.CELStrings(sharedAny)
	}
	if len(sharedPairs) > 0 {
		jmes += " || contains(" + expr.JMESStrings(sharedPairs) + ", " + pair + ")"
		celCheck += " || " + celPair + " in " + expr.CELStrings(sharedPairs)
	}
	objects := rule.PolicyRule{
		Name:         "objects",
		Kinds:        []rule.Kind{rule.AnyKind},
		Lookup:       rule.ByLabels,
		Data:         map[string]any{"namespaces": anyKind, "pairs": pairs},
		Allow:        writableSelectors(anyKind, pairs),
		Exclude:      writableSelectors(sharedAny, sharedPairs),
		ExcludeKinds: exempt,
		Message:      "namespaced objects of a module live in its namespaces, or where its spec.uses or polc.yaml spec.sharedNamespaces allows them",
		Deny:         []rule.Condition{{Key: "{{ " + jmes + " }}", Operator: "Equals", Value: false}},
		CEL:          []string{celCheck},
		Fail:         []map[string]any{cm(m.Name()+"-misplaced", elsewhere)},
	}
	namespaces := rule.PolicyRule{
		Name:    "namespaces",
		Kinds:   []rule.Kind{rule.NamespaceKind},
		Lookup:  rule.ByLabels,
		Data:    map[string]any{"owns": first},
		Message: "a module creates only the namespaces it declares and no module declared before it",
		Deny:    []rule.Condition{{Key: "{{ contains(" + mod + ".owns || `[]`, request.object.metadata.name) }}", Operator: "Equals", Value: false}},
		CEL:     []string{"object.metadata.name in " + cel + ".owns"},
		Fail:    []map[string]any{namespace(elsewhere)},
	}
	if len(declared) > 0 {
		objects.Pass = []map[string]any{cm(m.Name()+"-placed", declared[0])}
	}
	if len(first) > 0 {
		namespaces.Pass = []map[string]any{namespace(first[0])}
	}
	return []rule.PolicyRule{objects, namespaces}
}
