package rule

import (
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/module"
)

// This file holds the compiled, in-cluster form of resource rules in a target-neutral shape. A
// rule's Policy function returns PolicyRules; internal/kyverno turns them into ClusterPolicy or
// ValidatingPolicy objects and PolicyExceptions (internal/kyverno/expr builds the JMESPath and
// CEL they hold, internal/kyverno/example their example objects). The rule files hold the logic
// (a Kyverno pattern or deny conditions for ClusterPolicy, a CEL expression for ValidatingPolicy),
// so that the offline check and both compiled forms live side by side and can be read together.

// CompileContext is what a rule's compiled form sees: the repository and the module whose rules
// are being compiled.
type CompileContext struct {
	// Repo is the repository; its Objects are not rendered when compiling.
	Repo *Repo
	// Module is the module whose rules are compiled.
	Module *module.Module
}

// Kind is an object kind as admission policies match it.
type Kind struct {
	// Group is the API group ("" for the core group, "*" for any).
	Group string
	// Version is the API version ("*" for any).
	Version string
	// Kind is the kind ("*" for any).
	Kind string
	// Resource is the plural resource name that ValidatingPolicy matches ("*" for any).
	Resource string
}

// Kinds that policies match.
var (
	// AnyKind matches every object.
	AnyKind = Kind{Group: "*", Version: "*", Kind: "*", Resource: "*"}
	// PodKind is Pod; a PolicyRule whose Kinds are exactly [PodKind] is a pod rule: it also matches
	// every pod controller, and its checks read the pod through expr.JMESPodSpec (ClusterPolicy
	// deny conditions) and variables.pod (ValidatingPolicy CEL).
	PodKind = Kind{Group: "", Version: "v1", Kind: "Pod", Resource: "pods"}
	// NamespaceKind is Namespace.
	NamespaceKind = Kind{Group: "", Version: "v1", Kind: "Namespace", Resource: "namespaces"}
	// FluxKustomizationKind is Flux's Kustomization (kustomize.toolkit.fluxcd.io/v1).
	FluxKustomizationKind = Kind{Group: "kustomize.toolkit.fluxcd.io", Version: "*", Kind: "Kustomization", Resource: "kustomizations"}
	// HelmReleaseKind is Flux's HelmRelease (helm.toolkit.fluxcd.io/v2).
	HelmReleaseKind = Kind{Group: "helm.toolkit.fluxcd.io", Version: "*", Kind: "HelmRelease", Resource: "helmreleases"}
)

// AnyGroup returns the kinds named, of any API group and version, with their resource names from
// the kinds table (internal/kinds), which must know them.
func AnyGroup(names ...string) []Kind {
	out := make([]Kind, 0, len(names))
	for _, n := range names {
		out = append(out, Kind{Group: "*", Version: "*", Kind: n, Resource: kinds.Resource(n)})
	}
	return out
}

// FluxNameLabel is the label Flux's kustomize-controller puts on every object it applies, naming
// the Flux Kustomization that applied it. In the cluster it tells which module an object comes
// from, as rendering does offline.
const FluxNameLabel = "kustomize.toolkit.fluxcd.io/name"

// Selector selects objects; every condition that is set must hold.
type Selector struct {
	// Names, when set, selects objects with one of these names.
	Names []string
	// Namespaces, when set, selects namespaced objects in one of these namespaces.
	Namespaces []string
	// Labels, when set, selects objects that carry every one of these labels with these values.
	Labels map[string]string
	// LabelIn, when set, selects objects that carry the label LabelIn.Key with one of its Values.
	LabelIn *LabelIn
	// Kinds, when set, selects objects of these kinds (by kind name, any group) instead of the
	// rule's kinds.
	Kinds []string
}

// NamespaceScope is where a rule applies by namespace (see PolicyRule.Where).
type NamespaceScope struct {
	Owned                   []string
	AllUnowned              bool
	UnownedIn, UnownedNotIn []string
}

// LabelIn is a label key and the values it may have.
type LabelIn struct {
	Key    string
	Values []string
}

// Condition is one Kyverno deny condition (ClusterPolicy): key operator value, JMESPath in key.
type Condition struct {
	Key      any
	Operator string
	Value    any
}

// PolicyRule is one rule of a compiled policy: which objects it applies to, and the check in each
// target's language. Both forms must give the offline check's verdict on every object.
type PolicyRule struct {
	// Name is the rule's name in the policy: the module name, suffixed when a module has several
	// rules (media-media-ns). A DNS-1123 label.
	Name string
	// Kinds are the kinds the rule applies to.
	Kinds []Kind
	// Match selects the objects of the rule: an object matches when any selector matches; empty
	// means every object of Kinds.
	Match []Selector
	// Exclude removes objects that any of these selectors matches.
	Exclude []Selector
	// ExcludeKinds removes objects of these kinds (by kind name, any group).
	ExcludeKinds []string
	// Message is what a failing object is told (static text: it is never evaluated).
	Message string

	// Pattern is the ClusterPolicy validate.pattern (Kyverno pattern language).
	Pattern map[string]any
	// Preconditions are ClusterPolicy preconditions: the rule applies only when all hold. (The
	// CEL form states them inside its expression, or in When.)
	Preconditions []Condition
	// When is the CEL condition under which a Pod Security rule applies (ValidatingPolicy); it
	// states the Preconditions of a rule that has no CEL expression of its own.
	When string
	// Deny are ClusterPolicy deny conditions: the object fails when any is true.
	Deny []Condition
	// DenyEach, when set, is a JMESPath list: Deny is evaluated for each of its elements (as
	// {{ element }}), and the object fails when it fails for any (a Kyverno foreach).
	DenyEach string
	// CEL are ValidatingPolicy expressions over `object`; the object passes when all are true.
	CEL []string
	// PodSecurity, when set, makes this a Pod Security rule at that level: a podSecurity subrule
	// for ClusterPolicy, one CEL validation per Pod Security control for ValidatingPolicy.
	PodSecurity module.Level

	// Lookup, when set, makes this a table rule: compiled once for every module, whatever their
	// number, with the module's facts (Data) as data. In the cluster the object's module is
	// looked up by key in a module table (see Lookup), and the checks read its record as `module`
	// in JMESPath ({{ module.x }}) and as variables.module in CEL. Every module's PolicyRule of
	// the same Name must then be the same apart from Data, Allow and the examples. Match is not
	// used (the lookup says which objects are the module's); Exclude may only remove objects that
	// the checks pass anyway (a ClusterPolicy excludes them, a ValidatingPolicy's CEL passes them).
	Lookup Lookup
	// Data are the facts of the module that the checks of a table rule read from its record
	// (JSON values: strings, booleans, lists and maps of them). The compiler adds "name" (the
	// module's name) and "action" (Enforce or Audit).
	Data map[string]any
	// Allow, when not nil, restates the deny check of a ByLabels table rule as module data that
	// Kyverno tests by key: the rule denies an object of the module unless one of these
	// selectors, or the rule's Exclude, selects it (no selector: every object is denied). A
	// ClusterPolicy then has no module table: each selector becomes an exclude entry keyed by
	// the module's label, and the deny conditions are not compiled.
	Allow []Selector
	// Where, when set on a table rule looked up ByNamespaceOrLabels, says where it applies by
	// namespace, the same for every module: in the owned namespaces of Where.Owned (whoever's
	// objects), and to a module's objects in a namespace that no module owns: in every such
	// namespace but Where.UnownedNotIn when Where.AllUnowned, else in Where.UnownedIn. It
	// restates the rule's Preconditions (which then read nothing but the namespace). A
	// ClusterPolicy then matches by namespaces and labels, the owner's or the module's action
	// choosing the rule, and needs no module table.
	Where *NamespaceScope

	// Pass are example objects the rule must admit, Fail objects it must reject; the Kyverno CLI
	// tests and the parity test use them. Each carries the labels and namespace that put it in
	// the rule's scope.
	Pass, Fail []map[string]any
}

// Lookup says how a table rule finds the module of an object in the cluster: the module's record
// in the module table, or none (then the rule does not apply to the object).
type Lookup string

// Lookups.
const (
	// ByLabels: the module whose Flux Kustomization applied the object (FluxNameLabel), else
	// the module its module label names.
	ByLabels Lookup = "labels"
	// ByLabelsOrNamespace: ByLabels, else the module that owns the object's namespace.
	ByLabelsOrNamespace Lookup = "labels-or-namespace"
	// ByNamespaceOrLabels: the module that owns the object's namespace, else (in a namespace
	// no module owns) ByLabels.
	ByNamespaceOrLabels Lookup = "namespace-or-labels"
	// ByFluxName: the module whose Flux Kustomization the object is (by its name).
	ByFluxName Lookup = "flux-name"
	// ByOwnedNamespace: the module that owns the Namespace object (by its name).
	ByOwnedNamespace Lookup = "owned-namespace"
	// ByFluxPath: the module whose directory the object's spec.path points at (a Flux
	// Kustomization; the longest match, as flux.ModuleAtPath finds it).
	ByFluxPath Lookup = "flux-path"
)

// ModuleJMES is how ClusterPolicy conditions of a table rule refer to the object's module record
// ({{ module.type }}); ModuleCEL is how ValidatingPolicy expressions do (variables.module.type).
const (
	ModuleJMES = "module"
	ModuleCEL  = "variables.module"
)

// IsTable reports whether the rule is a table rule (see PolicyRule.Lookup).
func (p *PolicyRule) IsTable() bool { return p.Lookup != "" }

// IsPodRule reports whether the rule is written against Pods and extended to pod controllers.
func (p *PolicyRule) IsPodRule() bool { return len(p.Kinds) == 1 && p.Kinds[0] == PodKind }

// ModuleSelectors select the objects of module m in the cluster: those applied by its Flux
// Kustomization and those that carry its module label; withNamespaces adds every object in the
// namespaces m owns, whatever produced it (Helm releases, controllers).
func ModuleSelectors(r *Repo, m *module.Module, withNamespaces bool) []Selector {
	out := []Selector{
		{Labels: map[string]string{FluxNameLabel: r.Config.FluxName(m)}},
		{Labels: map[string]string{r.Config.ModuleLabel(): m.Name()}},
	}
	if ns := namespacesOf(m); withNamespaces && len(ns) > 0 {
		out = append(out, Selector{Namespaces: ns})
	}
	return out
}

// namespacesOf returns the names of the namespaces m owns, in declaration order.
func namespacesOf(m *module.Module) []string {
	out := make([]string, 0, len(m.Spec.Namespaces))
	for _, n := range m.Spec.Namespaces {
		out = append(out, n.Name)
	}
	return out
}

// ModuleLabels returns the labels every object of m carries: <domain>/module and module-type.
func ModuleLabels(r *Repo, m *module.Module) map[string]any {
	return map[string]any{r.Config.ModuleLabel(): m.Name(), r.Config.ModuleTypeLabel(): string(m.Spec.Type)}
}
