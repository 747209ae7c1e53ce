package rules

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// SecurityPodSecurity evaluates pod templates against their namespace's declared Pod Security level.
var SecurityPodSecurity = rule.Rule{
	ID:       "security/pod-security",
	Title:    "Pod templates meet their namespace's declared Pod Security level",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "Every Pod and pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, " +
		"ReplicationController) must meet the Pod Security Standards level that the module owning its " +
		"namespace declares in module.yaml (spec.namespaces[].podSecurity), restricted when nothing is " +
		"declared. The controls are evaluated by the Kubernetes pod-security-admission library at version " +
		"latest, the code behind the API server's admission and Kyverno's podSecurity rule, so the " +
		"verdicts are theirs; the message lists each failed control with the forbidden values and " +
		"containers as that library reports them.",
	Remediation: "Fix the listed securityContext fields, or declare a looser podSecurity level with a reason for the namespace, or add an exception with a reason.",
	Kinds:       rule.PodControllers,
	CheckObject: checkPodSecurity,
	Policy:      policyPodSecurity,
}

// psaEvaluator is the library's evaluator, built on first use so that commands that check no pod
// do not pay for it.
var psaEvaluator = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// declaredLevel returns the Pod Security level for namespace ns and a phrase saying where it comes
// from: the owning module's declaration, or the restricted default.
func declaredLevel(r *rule.Repo, ns string) (module.Level, string) {
	if ns == "" {
		return module.Restricted, "the default: the object names no namespace"
	}
	owner := r.Owner(ns)
	if owner == nil {
		return module.Restricted, fmt.Sprintf("the default: no module declares namespace %s", ns)
	}
	for _, n := range owner.Spec.Namespaces {
		if n.Name == ns {
			return n.Level(), fmt.Sprintf("declared for namespace %s by module %s", ns, owner.Name())
		}
	}
	return module.Restricted, fmt.Sprintf("the default for namespace %s", ns)
}

func checkPodSecurity(r *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	t := templateOf(o)
	if t == nil || t.Spec == nil {
		return nil
	}
	level, from := declaredLevel(r, o.Ref.Namespace)
	if level == module.Privileged {
		return nil
	}
	meta, spec, err := decodePod(t)
	if err != nil {
		return []rule.Violation{{Message: fmt.Sprintf("pod template does not decode as a Kubernetes pod, so its Pod Security cannot be evaluated: %v", err), Field: t.SpecPath()}}
	}
	ev, err := psaEvaluator()
	if err != nil {
		return []rule.Violation{{Message: fmt.Sprintf("the Pod Security evaluator did not load: %v", err), Field: t.SpecPath()}}
	}
	lv := psaapi.LevelVersion{Level: psaapi.Level(level), Version: psaapi.LatestVersion()}
	agg := policy.AggregateCheckResults(ev.EvaluatePod(lv, meta, spec))
	if agg.Allowed {
		return nil
	}
	return []rule.Violation{{
		Message: fmt.Sprintf("pod template violates PodSecurity %q (%s): %s", lv.String(), from, agg.ForbiddenDetail()),
		Field:   t.SpecPath(),
	}}
}

// decodePod converts the template's metadata and spec to the Kubernetes types, through JSON as
// the API server would read them.
func decodePod(t *podTemplate) (*metav1.ObjectMeta, *corev1.PodSpec, error) {
	meta := &metav1.ObjectMeta{}
	if t.Meta != nil {
		b, err := t.Meta.MarshalJSON()
		if err != nil {
			return nil, nil, fmt.Errorf("encode metadata: %w", err)
		}
		if err := json.Unmarshal(b, meta); err != nil {
			return nil, nil, fmt.Errorf("decode metadata: %w", err)
		}
	}
	spec := &corev1.PodSpec{}
	b, err := t.Spec.MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("encode spec: %w", err)
	}
	if err := json.Unmarshal(b, spec); err != nil {
		return nil, nil, fmt.Errorf("decode spec: %w", err)
	}
	return meta, spec, nil
}

// policyPodSecurity enforces each namespace's declared Pod Security level on every pod in it,
// whoever creates the pod (the module that owns the namespace compiles its rule), and the
// restricted level on the module's pods outside every declared namespace.
func policyPodSecurity(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	privileged := func(ct map[string]any) {
		ct["securityContext"] = map[string]any{"privileged": true, "allowPrivilegeEscalation": true}
	}
	inNamespace := func(o map[string]any, ns string) map[string]any {
		o["metadata"].(map[string]any)["namespace"] = ns
		return o
	}
	var out []rule.PolicyRule
	for _, ns := range m.Spec.Namespaces {
		if r.Owner(ns.Name) != m || ns.Level() == module.Privileged {
			continue
		}
		out = append(out, rule.PolicyRule{
			Name:        ns.Name,
			Kinds:       []rule.Kind{rule.PodKind},
			Match:       []rule.Selector{{Namespaces: []string{ns.Name}}},
			Message:     fmt.Sprintf("pods in namespace %s meet the Pod Security level %s that module %s declares", ns.Name, ns.Level(), m.Name()),
			PodSecurity: ns.Level(),
			Pass:        []map[string]any{inNamespace(rule.ExampleWorkload(r, m, ns.Name+"-compliant", rule.ExampleImage, nil), ns.Name)},
			Fail:        []map[string]any{inNamespace(rule.ExampleWorkload(r, m, ns.Name+"-privileged", rule.ExampleImage, privileged), ns.Name)},
		})
	}
	var owned []string
	for ns := range r.NamespaceOwners {
		owned = append(owned, ns)
	}
	slices.Sort(owned)
	elsewhere := m.Name() + "-undeclared"
	rr := rule.PolicyRule{
		Name:        m.Name() + "-undeclared-namespaces",
		Kinds:       []rule.Kind{rule.PodKind},
		Match:       rule.ModuleSelectors(r, m, false),
		Message:     fmt.Sprintf("pods of module %s outside the declared namespaces meet the restricted Pod Security level", m.Name()),
		PodSecurity: module.Restricted,
		Pass:        []map[string]any{inNamespace(rule.ExampleWorkload(r, m, elsewhere+"-compliant", rule.ExampleImage, nil), elsewhere)},
		Fail:        []map[string]any{inNamespace(rule.ExampleWorkload(r, m, elsewhere+"-privileged", rule.ExampleImage, privileged), elsewhere)},
	}
	if len(owned) > 0 {
		rr.Exclude = []rule.Selector{{Namespaces: owned}}
	}
	return append(out, rr)
}
