package builtin

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
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
		"verdicts are theirs; each failed control is a finding at the field that fails it, with the " +
		"forbidden values and containers as that library reports them.",
	Remediation: "Fix the listed securityContext fields, or declare a looser podSecurity level with a reason for the namespace, or add an exception with a reason.",
	Kinds:       kinds.Pods(),
	CheckObject: checkPodSecurity,
	Policy:      policyPodSecurity,
}

// declaredLevel returns the Pod Security level for namespace ns and a phrase saying where it comes
// from: the owning module's declaration, or the restricted default.
func declaredLevel(r *rule.Repo, ns string) (module.Level, string) {
	if ns == "" {
		return module.Restricted, "the default: the object names no namespace"
	}
	owner := r.Owner(ns)
	if owner == nil {
		if s := r.Config.Shared(ns); s != nil {
			return s.Level(), fmt.Sprintf("set for shared namespace %s in polc.yaml spec.sharedNamespaces", ns)
		}
		return module.Restricted, fmt.Sprintf("the default: no module declares namespace %s and polc.yaml spec.sharedNamespaces does not list it", ns)
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
	lv := psaapi.LevelVersion{Level: psaapi.Level(level), Version: psaapi.LatestVersion()}
	var out []rule.Violation
	for _, c := range psaChecks()[lv.Level] {
		res := c.fn(meta, spec, policy.WithFieldErrors())
		if res.Allowed {
			continue
		}
		out = append(out, rule.Violation{
			Message: fmt.Sprintf("pod template violates PodSecurity %q (%s): %s", lv.String(), from, forbidden(res)),
			Field:   psaField(t, c.id, res),
		})
	}
	return out
}

// forbidden formats one failed check as the library's aggregate message does: the reason, and the
// detail in parentheses when there is one.
func forbidden(res policy.CheckResult) string {
	reason := cmp.Or(res.ForbiddenReason, policy.UnknownForbiddenReason)
	if res.ForbiddenDetail == "" {
		return reason
	}
	return reason + " (" + res.ForbiddenDetail + ")"
}

// psaCheck is one check of the pod-security-admission library, at version latest.
type psaCheck struct {
	id policy.CheckID
	fn policy.CheckPodFn
}

// psaChecks returns the library's checks at version latest for the baseline and restricted
// levels, selected and ordered as its evaluator (policy.NewEvaluator) does: a level's checks and,
// for restricted, the baseline checks that no restricted check overrides; baseline checks first,
// each group in ID order. Running the checks here rather than through the evaluator lets each
// report the fields that fail it (policy.WithFieldErrors); the verdicts are the same.
var psaChecks = sync.OnceValue(func() map[psaapi.Level][]psaCheck {
	var baseline, restricted []psaCheck
	overridden := map[policy.CheckID]bool{}
	for _, c := range policy.DefaultChecks() {
		if len(c.Versions) == 0 {
			continue
		}
		v := c.Versions[len(c.Versions)-1]
		pc := psaCheck{id: c.ID, fn: v.CheckPod}
		if c.Level != psaapi.LevelRestricted {
			baseline = append(baseline, pc)
			continue
		}
		restricted = append(restricted, pc)
		for _, id := range v.OverrideCheckIDs {
			overridden[id] = true
		}
	}
	byID := func(a, b psaCheck) int { return cmp.Compare(a.id, b.id) }
	slices.SortFunc(baseline, byID)
	slices.SortFunc(restricted, byID)
	kept := slices.DeleteFunc(slices.Clone(baseline), func(c psaCheck) bool { return overridden[c.id] })
	return map[psaapi.Level][]psaCheck{
		psaapi.LevelBaseline:   baseline,
		psaapi.LevelRestricted: append(kept, restricted...),
	}
})

// psaField returns the field path, from the object, of the first field that fails a check: the
// library names it (for a missing field such as runAsNonRoot, the field that should be set, whose
// position falls back to the securityContext or the container that should hold it), except for
// hostProbesAndHostLifecycle, whose host field is looked up here. It is the pod spec when neither
// names a field.
func psaField(t *podTemplate, id policy.CheckID, res policy.CheckResult) string {
	if res.ErrList != nil && len(*res.ErrList) > 0 {
		return join(t.Path, (*res.ErrList)[0].Field)
	}
	if id == "hostProbesAndHostLifecycle" {
		if f := hostProbeField(t); f != "" {
			return f
		}
	}
	return t.SpecPath()
}

// hostProbeField returns the field path of the first probe or lifecycle handler host of the pod
// template's containers, or "" when none sets one.
func hostProbeField(t *podTemplate) string {
	handlers := []string{"livenessProbe", "readinessProbe", "startupProbe", "lifecycle.postStart", "lifecycle.preStop"}
	for _, c := range t.Containers(allContainerLists...) {
		for _, h := range handlers {
			for _, action := range []string{"httpGet", "tcpSocket"} {
				path := strings.Split(h+"."+action+".host", ".")
				if manifest.String(c.Node, path...) != "" {
					return c.Field(strings.Join(path, "."))
				}
			}
		}
	}
	return ""
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
	examples := map[module.Level]*rule.PolicyRule{}
	example1 := func(l module.Level, ns string) {
		p := examples[l]
		if p == nil {
			p = &rule.PolicyRule{}
			examples[l] = p
		}
		p.Pass = append(p.Pass, inNamespace(example.Workload(r, m, ns+"-compliant", example.Image, nil), ns))
		p.Fail = append(p.Fail, inNamespace(example.Workload(r, m, ns+"-privileged", example.Image, privileged), ns))
	}
	// The levels of the namespaces m owns; a pod in one of them meets its level, whoever made it.
	levels := map[string]string{}
	for _, ns := range m.Spec.Namespaces {
		if r.Owner(ns.Name) == m {
			levels[ns.Name] = string(ns.Level())
			if ns.Level() != module.Privileged {
				example1(ns.Level(), ns.Name)
			}
		}
	}
	// Shared namespaces that no module owns take polc.yaml's level, for the module's pods; any
	// other namespace, restricted.
	shared := map[string]string{}
	for _, s := range r.Config.Spec.SharedNamespaces {
		if r.Owner(s.Name) == nil {
			shared[s.Name] = string(s.Level())
			if s.Level() == module.Baseline {
				example1(module.Baseline, s.Name)
			}
		}
	}
	example1(module.Restricted, m.Name()+"-undeclared")
	sharedJSON, err := json.Marshal(shared)
	if err != nil {
		panic(err) // plain data always marshals
	}
	const ns = "request.object.metadata.namespace || ''"
	const celNS = `object.metadata.?namespace.orValue("")`
	jLevel := "lookup(" + rule.ModuleJMES + ".levels || `{}`, " + ns + ") || lookup(`" + string(sharedJSON) + "`, " + ns + ") || 'restricted'"
	cLevel := rule.ModuleCEL + ".levels[?" + celNS + "].orValue(" + celLiteralLevels(shared) + "[?" + celNS + `].orValue("restricted"))`
	var out []rule.PolicyRule
	for _, l := range []module.Level{module.Restricted, module.Baseline} {
		p := examples[l]
		if p == nil {
			continue
		}
		where := &rule.NamespaceScope{Owned: []string{}, AllUnowned: l == module.Restricted}
		for ns := range r.NamespaceOwners {
			if lvl, _ := declaredLevel(r, ns); r.Owner(ns) != nil && lvl == l {
				where.Owned = append(where.Owned, ns)
			}
		}
		slices.Sort(where.Owned)
		for ns, sl := range shared {
			switch {
			case l == module.Restricted && sl != string(l):
				where.UnownedNotIn = append(where.UnownedNotIn, ns)
			case l != module.Restricted && sl == string(l):
				where.UnownedIn = append(where.UnownedIn, ns)
			}
		}
		slices.Sort(where.UnownedIn)
		slices.Sort(where.UnownedNotIn)
		out = append(out, rule.PolicyRule{
			Name:   string(l),
			Kinds:  []rule.Kind{rule.PodKind},
			Lookup: rule.ByNamespaceOrLabels,
			Data:   map[string]any{"levels": levels},
			Message: fmt.Sprintf("pods meet the Pod Security level of their namespace, here %s: the level the module that owns it declares, "+
				"polc.yaml's for a shared namespace, else restricted", l),
			PodSecurity:   l,
			Where:         where,
			Preconditions: []rule.Condition{{Key: "{{ (" + jLevel + ") == " + expr.JMESString(string(l)) + " }}", Operator: "Equals", Value: true}},
			When:          cLevel + " == " + expr.CELString(string(l)),
			Pass:          p.Pass,
			Fail:          p.Fail,
		})
	}
	return out
}

// celLiteralLevels spells namespace levels as a CEL map literal.
func celLiteralLevels(levels map[string]string) string {
	keys := slices.Sorted(maps.Keys(levels))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, expr.CELString(k)+": "+expr.CELString(levels[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
