package rule

import (
	"encoding/json"
	"fmt"
	"strings"

	"polc.dev/polc/internal/module"
)

// This file holds the compiled, in-cluster form of resource rules in a target-neutral shape. A
// rule's Policy function returns PolicyRules; internal/kyverno turns them into ClusterPolicy or
// ValidatingPolicy objects, PolicyExceptions and Kyverno CLI tests. The rule files hold the logic
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
	// every pod controller, and its checks read the pod through JMESPodSpec (ClusterPolicy deny
	// conditions) and variables.pod (ValidatingPolicy CEL).
	PodKind       = Kind{Group: "", Version: "v1", Kind: "Pod", Resource: "pods"}
	NamespaceKind = Kind{Group: "", Version: "v1", Kind: "Namespace", Resource: "namespaces"}
	ServiceKind   = Kind{Group: "", Version: "v1", Kind: "Service", Resource: "services"}
	// FluxKustomizationKind is Flux's Kustomization (kustomize.toolkit.fluxcd.io/v1).
	FluxKustomizationKind = Kind{Group: "kustomize.toolkit.fluxcd.io", Version: "*", Kind: "Kustomization", Resource: "kustomizations"}
	// HelmReleaseKind is Flux's HelmRelease (helm.toolkit.fluxcd.io/v2).
	HelmReleaseKind        = Kind{Group: "helm.toolkit.fluxcd.io", Version: "*", Kind: "HelmRelease", Resource: "helmreleases"}
	ClusterRoleKind        = Kind{Group: "rbac.authorization.k8s.io", Version: "*", Kind: "ClusterRole", Resource: "clusterroles"}
	ClusterRoleBindingKind = Kind{Group: "rbac.authorization.k8s.io", Version: "*", Kind: "ClusterRoleBinding", Resource: "clusterrolebindings"}
)

// JMESPodSpec is the JMESPath expression of the pod spec of a Pod, or of the pod template of a
// pod controller, for the deny conditions of pod rules.
const JMESPodSpec = "(request.object.spec.jobTemplate.spec.template.spec || request.object.spec.template.spec || request.object.spec)"

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
	// CEL form states them inside its expression.)
	Preconditions []Condition
	// Deny are ClusterPolicy deny conditions: the object fails when any is true.
	Deny []Condition
	// CEL are ValidatingPolicy expressions over `object`; the object passes when all are true.
	CEL []string
	// PodSecurity, when set, makes this a Pod Security rule at that level: a podSecurity subrule
	// for ClusterPolicy, one CEL validation per Pod Security control for ValidatingPolicy.
	PodSecurity module.Level

	// Pass are example objects the rule must admit, Fail objects it must reject; the Kyverno CLI
	// tests and the parity test use them. Each carries the labels and namespace that put it in
	// the rule's scope.
	Pass, Fail []map[string]any
}

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
	if ns := NamespacesOf(m); withNamespaces && len(ns) > 0 {
		out = append(out, Selector{Namespaces: ns})
	}
	return out
}

// NamespacesOf returns the names of the namespaces m owns, in declaration order.
func NamespacesOf(m *module.Module) []string {
	out := make([]string, 0, len(m.Spec.Namespaces))
	for _, n := range m.Spec.Namespaces {
		out = append(out, n.Name)
	}
	return out
}

// ExampleMeta returns the metadata of an example object of module m named name: in m's first
// namespace (unless clusterScoped), labelled as Flux labels what it applies for m, plus labels.
func ExampleMeta(r *Repo, m *module.Module, name string, clusterScoped bool, labels map[string]any) map[string]any {
	l := map[string]any{FluxNameLabel: r.Config.FluxName(m)}
	for k, v := range labels {
		l[k] = v
	}
	meta := map[string]any{"name": name, "labels": l}
	if !clusterScoped {
		ns := "default"
		if len(m.Spec.Namespaces) > 0 {
			ns = m.Spec.Namespaces[0].Name
		}
		meta["namespace"] = ns
	}
	return meta
}

// ModuleLabels returns the labels every object of m carries: <domain>/module and module-type.
func ModuleLabels(r *Repo, m *module.Module) map[string]any {
	return map[string]any{r.Config.ModuleLabel(): m.Name(), r.Config.ModuleTypeLabel(): string(m.Spec.Type)}
}

// CELString quotes s as a CEL string literal, escaping quotes, backslashes and control
// characters, so that no value from module metadata can end the literal and inject CEL.
func CELString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// JMESString quotes s as a JMESPath raw string literal.
func JMESString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// JMESStrings quotes a list of strings as a JMESPath JSON literal ([] when empty).
func JMESStrings(list []string) string {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(err) // strings always marshal
	}
	return "`" + strings.ReplaceAll(string(b), "`", "\\`") + "`"
}

// CELStrings quotes a list of strings as a CEL list literal.
func CELStrings(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = CELString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// CELLabel is the CEL expression for the value of label key of `object`, "" when absent.
func CELLabel(key string) string {
	return "object.metadata.?labels[?" + CELString(key) + "].orValue(\"\")"
}

// CELAnnotation is the CEL expression for the value of annotation key of `object`, "" when absent.
func CELAnnotation(key string) string {
	return "object.metadata.?annotations[?" + CELString(key) + "].orValue(\"\")"
}

// ExampleWorkload returns an example Deployment of module m named name, whose single container
// runs image and meets the restricted Pod Security level, with resources set; tweak changes the
// container before it is returned.
func ExampleWorkload(r *Repo, m *module.Module, name, image string, tweak func(container map[string]any)) map[string]any {
	labels := ModuleLabels(r, m)
	labels["app.kubernetes.io/name"] = name
	c := map[string]any{
		"name":  "app",
		"image": image,
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false,
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
			"runAsNonRoot":             true,
		},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "10m", "memory": "16Mi"},
			"limits":   map[string]any{"memory": "64Mi"},
		},
	}
	if tweak != nil {
		tweak(c)
	}
	return map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   ExampleMeta(r, m, name, false, labels),
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app.kubernetes.io/name": name}},
				"spec": map[string]any{
					"securityContext": map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
					"containers":      []any{c},
				},
			},
		},
	}
}

// ExampleImage is the image of example workloads, pinned by tag and digest.
const ExampleImage = "registry.example.com/app:1.0.0@sha256:0000000000000000000000000000000000000000000000000000000000000000"

// CELContainers is the CEL list of the container lists of variables.pod (containers,
// initContainers, ephemeralContainers), for pod rules: lists.all(l, l.all(c, ...)).
func CELContainers(lists ...string) string {
	var parts []string
	for _, l := range lists {
		parts = append(parts, "variables.pod.spec.?"+l+".orValue([])")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// JMESContainers is the JMESPath list of the containers of the given lists of a pod rule's pod.
func JMESContainers(lists ...string) string {
	var parts []string
	for _, l := range lists {
		parts = append(parts, JMESPodSpec+"."+l+" || `[]`")
	}
	return "[" + strings.Join(parts, ", ") + "][]"
}
