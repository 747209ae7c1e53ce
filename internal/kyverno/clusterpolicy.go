package kyverno

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// The kyverno.io types below mirror the fields polc writes of Kyverno's ClusterPolicy
// (kyverno.io/v1) and PolicyException (kyverno.io/v2), with the same JSON names. Importing
// github.com/kyverno/kyverno/api/kyverno/v1 itself would grow polc's binary from about 29 MB to
// 158 MB and its start-up from ~20 ms and 20 MB RSS to ~80 ms and 100 MB RSS (it pulls in
// sigstore and Kyverno's logging); TestMirrorsMatchKyvernoTypes (internal/kyverno/pack) decodes
// every object polc writes strictly into Kyverno's own types, so the mirror cannot drift unnoticed.

// clusterPolicy is kyverno.io/v1 ClusterPolicy.
type clusterPolicy struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   objectMeta        `json:"metadata"`
	Spec       clusterPolicySpec `json:"spec"`
}

// objectMeta is the part of metav1.ObjectMeta polc writes.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// clusterPolicySpec is kyverno.io/v1 Spec.
type clusterPolicySpec struct {
	// Background enables background scans; Kyverno refuses it for wildcard kinds.
	Background *bool    `json:"background,omitempty"`
	Rules      []cpRule `json:"rules"`
}

// cpRule is kyverno.io/v1 Rule.
type cpRule struct {
	Name          string        `json:"name"`
	Match         matchBlock    `json:"match"`
	Preconditions *cpConditions `json:"preconditions,omitempty"`
	Exclude       *matchBlock   `json:"exclude,omitempty"`
	Validate      *cpValidate   `json:"validate,omitempty"`
}

// matchBlock is kyverno.io/v1 MatchResources (any only).
type matchBlock struct {
	Any []resourceFilter `json:"any,omitempty"`
}

// resourceFilter is kyverno.io/v1 ResourceFilter.
type resourceFilter struct {
	Resources resourceDescription `json:"resources"`
}

// resourceDescription is kyverno.io/v1 ResourceDescription.
type resourceDescription struct {
	Kinds      []string       `json:"kinds,omitempty"`
	Names      []string       `json:"names,omitempty"`
	Namespaces []string       `json:"namespaces,omitempty"`
	Selector   *labelSelector `json:"selector,omitempty"`
}

// labelSelector is metav1.LabelSelector (matchLabels only).
type labelSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// cpValidate is kyverno.io/v1 Validation.
type cpValidate struct {
	FailureAction string         `json:"failureAction,omitempty"`
	Message       string         `json:"message,omitempty"`
	Pattern       map[string]any `json:"pattern,omitempty"`
	Deny          *cpDeny        `json:"deny,omitempty"`
	PodSecurity   *cpPodSecurity `json:"podSecurity,omitempty"`
}

// cpDeny is kyverno.io/v1 Deny.
type cpDeny struct {
	Conditions cpConditions `json:"conditions"`
}

// cpConditions is kyverno.io/v1 AnyAllConditions.
type cpConditions struct {
	Any []cpCondition `json:"any,omitempty"`
	All []cpCondition `json:"all,omitempty"`
}

// cpCondition is kyverno.io/v1 Condition.
type cpCondition struct {
	Key      any    `json:"key"`
	Operator string `json:"operator"`
	Value    any    `json:"value,omitempty"`
}

// cpPodSecurity is kyverno.io/v1 PodSecurity.
type cpPodSecurity struct {
	Level   string `json:"level"`
	Version string `json:"version"`
}

// policyExceptionV2 is kyverno.io/v2 PolicyException.
type policyExceptionV2 struct {
	APIVersion string                `json:"apiVersion"`
	Kind       string                `json:"kind"`
	Metadata   objectMeta            `json:"metadata"`
	Spec       policyExceptionV2Spec `json:"spec"`
}

// policyExceptionV2Spec is kyverno.io/v2 PolicyExceptionSpec.
type policyExceptionV2Spec struct {
	Background *bool              `json:"background,omitempty"`
	Match      matchBlock         `json:"match"`
	Exceptions []exceptionV2Entry `json:"exceptions"`
}

// exceptionV2Entry is kyverno.io/v2 Exception.
type exceptionV2Entry struct {
	PolicyName string   `json:"policyName"`
	RuleNames  []string `json:"ruleNames"`
}

// clusterPolicyBackend compiles to kyverno.io/v1 ClusterPolicy and kyverno.io/v2 PolicyException.
type clusterPolicyBackend struct{}

var _ backend = clusterPolicyBackend{}

// severityLabel maps polc's severity to the policies.kyverno.io/severity vocabulary.
func severityLabel(s rule.Severity) string {
	if s == rule.Error {
		return "high"
	}
	return "medium"
}

// annotations are the standard policy annotations.
func annotations(repo *rule.Repo, p *Policy, minVersion string) map[string]string {
	subjects := map[string]bool{}
	for _, r := range p.Rules {
		for _, k := range r.Kinds {
			if k == rule.PodKind {
				subjects["Pod"] = true
				continue
			}
			subjects[k.Kind] = true
		}
	}
	var subj []string
	for s := range subjects {
		subj = append(subj, s)
	}
	sort.Strings(subj)
	return map[string]string{
		"policies.kyverno.io/title":              p.Rule.Title,
		"policies.kyverno.io/category":           Category(p.Rule.ID),
		"policies.kyverno.io/severity":           severityLabel(p.Severity),
		"policies.kyverno.io/subject":            strings.Join(subj, ", "),
		"policies.kyverno.io/description":        p.Rule.Doc + " Fix: " + p.Rule.Remediation,
		"policies.kyverno.io/minversion":         minVersion,
		repo.Config.Spec.Domain + "/source-hash": p.Hash,
		repo.Config.Spec.Domain + "/rule":        p.Rule.ID,
	}
}

// policyLabels mark every object of the pack as polc's.
func policyLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/managed-by": "polc"}
}

// cpKind spells a kind as ClusterPolicy matches it: Kind, or group/version/Kind.
func cpKind(k rule.Kind) string {
	if k.Kind == "*" || k.Group == "" || k.Group == "*" {
		return k.Kind
	}
	return k.Group + "/" + k.Version + "/" + k.Kind
}

// cpFilters turns selectors into resource filters over the kinds of ofKinds.
func cpFilters(ofKinds []rule.Kind, sels []rule.Selector) []resourceFilter {
	var ks []string
	for _, k := range ofKinds {
		if k == rule.PodKind {
			// Kyverno's autogen does not extend rules that select by label, so pod rules match the
			// controllers themselves; their checks read the pod spec wherever the kind keeps it.
			ks = append(ks, kinds.Pods()...)
			continue
		}
		ks = append(ks, cpKind(k))
	}
	if len(sels) == 0 {
		return []resourceFilter{{Resources: resourceDescription{Kinds: ks}}}
	}
	var out []resourceFilter
	for _, s := range sels {
		d := resourceDescription{Kinds: ks, Names: s.Names, Namespaces: s.Namespaces}
		if len(s.Labels) > 0 {
			d.Selector = &labelSelector{MatchLabels: s.Labels}
		}
		out = append(out, resourceFilter{Resources: d})
	}
	return out
}

// literalPath is what a module directory must be to reach a policy: the naming rule of Flux
// Kustomizations matches their spec.path against the module's directory, and a ClusterPolicy
// condition (AnyIn) reads * and ? in its values as wildcards, which Kyverno cannot escape, where
// the ValidatingPolicy's CEL compares exactly. A directory of plain names (what Flux paths and
// DNS-1123 module names are in practice) means the same on both targets, and keeps {{ }} and
// $( ) out of JMESPath.
var literalPath = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

// literalDirs refuses to compile the rules of a module whose directory is not a literal path,
// on both targets, so that they never disagree about it.
func literalDirs(rules []ModuleRule) error {
	for _, r := range rules {
		if m := r.Module; m != nil && !literalPath.MatchString(m.Dir) {
			return fmt.Errorf("%s: module directory %q cannot be matched exactly by Kyverno (* and ? are wildcards there); "+
				"name directories with letters, digits, '.', '_' and '-' only", m.Pos("metadata.name"), m.Dir)
		}
	}
	return nil
}

func (clusterPolicyBackend) policy(repo *rule.Repo, p *Policy) (any, error) {
	if err := literalDirs(p.Rules); err != nil {
		return nil, err
	}
	cp := clusterPolicy{APIVersion: "kyverno.io/v1", Kind: "ClusterPolicy",
		Metadata: objectMeta{Name: p.Name, Labels: policyLabels(), Annotations: annotations(repo, p, "1.13.0")}}
	background := true
	for _, r := range p.Rules {
		for _, k := range r.Kinds {
			if k.Kind == "*" {
				background = false // Kyverno refuses wildcard kinds in background mode
			}
		}
		v := &cpValidate{FailureAction: string(r.Action), Message: r.Message}
		switch {
		case r.PodSecurity != "":
			v.PodSecurity = &cpPodSecurity{Level: string(r.PodSecurity), Version: "latest"}
		case r.Pattern != nil:
			v.Pattern = r.Pattern
		case len(r.Deny) > 0:
			v.Deny = &cpDeny{}
			for _, c := range r.Deny {
				v.Deny.Conditions.Any = append(v.Deny.Conditions.Any, cpCondition{Key: c.Key, Operator: c.Operator, Value: c.Value})
			}
		default:
			return nil, fmt.Errorf("rule %s has no pattern, deny conditions or podSecurity level", r.Name)
		}
		if err := noVariables(r.Message, v.Pattern); err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Name, err)
		}
		cr := cpRule{Name: r.Name, Match: matchBlock{Any: cpFilters(r.Kinds, r.Match)}, Validate: v}
		if len(r.Exclude) > 0 {
			cr.Exclude = &matchBlock{Any: cpFilters(r.Kinds, r.Exclude)}
		}
		if len(r.ExcludeKinds) > 0 {
			if cr.Exclude == nil {
				cr.Exclude = &matchBlock{}
			}
			cr.Exclude.Any = append(cr.Exclude.Any, resourceFilter{Resources: resourceDescription{Kinds: r.ExcludeKinds}})
		}
		if len(r.Preconditions) > 0 {
			cr.Preconditions = &cpConditions{}
			for _, c := range r.Preconditions {
				cr.Preconditions.All = append(cr.Preconditions.All, cpCondition{Key: c.Key, Operator: c.Operator, Value: c.Value})
			}
		}
		cp.Spec.Rules = append(cp.Spec.Rules, cr)
		if r.PodSecurity != "" && r.PodSecurity != module.Privileged {
			cp.Spec.Rules = append(cp.Spec.Rules, cronJobAppArmor(cr, r))
		}
	}
	cp.Spec.Background = &background
	return cp, nil
}

// appArmorAnnotations counts the pod template annotations of a CronJob that set a forbidden
// AppArmor profile (the deprecated container.apparmor.security.beta.kubernetes.io/ form).
const appArmorAnnotations = "{{ length(items(request.object.spec.jobTemplate.spec.template.metadata.annotations || `{}`, 'key', 'value')" +
	"[?starts_with(key, 'container.apparmor.security.beta.kubernetes.io/') && !(value == '' || value == 'runtime/default' || starts_with(value, 'localhost/'))]) }}"

// cronJobAppArmor is the companion of a podSecurity rule for CronJobs: Kyverno's podSecurity check
// does not see the annotations of a CronJob's pod template, which the Pod Security library checks
// for AppArmor, so this rule does.
func cronJobAppArmor(cr cpRule, r ModuleRule) cpRule {
	only := func(m *matchBlock) *matchBlock {
		if m == nil {
			return nil
		}
		out := &matchBlock{}
		for _, f := range m.Any {
			if len(f.Resources.Kinds) == 1 && f.Resources.Kinds[0] != "Pod" && len(f.Resources.Names)+len(f.Resources.Namespaces) == 0 && f.Resources.Selector == nil {
				continue // ExcludeKinds
			}
			f.Resources.Kinds = []string{"CronJob"}
			out.Any = append(out.Any, f)
		}
		return out
	}
	return cpRule{
		Name:    cronJobAppArmorName(r.Name),
		Match:   *only(&cr.Match),
		Exclude: only(cr.Exclude),
		Validate: &cpValidate{FailureAction: cr.Validate.FailureAction,
			Message: r.Message + ": the pod template must not set a forbidden AppArmor profile annotation",
			Deny:    &cpDeny{Conditions: cpConditions{Any: []cpCondition{{Key: appArmorAnnotations, Operator: "GreaterThan", Value: 0}}}}},
	}
}

// cronJobAppArmorName is the name of the companion rule of a podSecurity rule.
func cronJobAppArmorName(name string) string { return Shorten(name + "-cronjob-apparmor") }

// noVariables refuses JMESPath variables in a message or pattern built from metadata: polc writes
// its deny condition keys itself, and nothing else may be evaluated.
func noVariables(msg string, pattern map[string]any) error {
	if strings.Contains(msg, "{{") {
		return fmt.Errorf("message %q contains {{", msg)
	}
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case string:
			if strings.Contains(x, "{{") {
				return fmt.Errorf("pattern value %q contains {{", x)
			}
		case map[string]any:
			for k, e := range x {
				if strings.Contains(k, "{{") {
					return fmt.Errorf("pattern key %q contains {{", k)
				}
				if err := walk(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(pattern)
}

// exceptionFilters are the resource filters of the objects an exception names. An excepted pod
// controller also excepts its Pods (named <controller>-...), or the controller could never run
// them.
func exceptionFilters(ex module.Exception, podRule bool) []resourceFilter {
	var out []resourceFilter
	for _, r := range ex.Resources {
		d := resourceDescription{Kinds: []string{r.Kind}, Names: []string{r.Name}}
		if r.Namespace != "" {
			d.Namespaces = []string{r.Namespace}
		}
		out = append(out, resourceFilter{Resources: d})
		if podRule && kinds.IsPodController(r.Kind) {
			pd := d
			pd.Kinds, pd.Names = []string{"Pod"}, []string{r.Name + "-*"}
			out = append(out, resourceFilter{Resources: pd})
		}
	}
	return out
}

func (clusterPolicyBackend) exception(repo *rule.Repo, p *Policy, ex *Exception) (any, error) {
	var names []string
	podRule := false
	for _, r := range p.Rules {
		if r.Module == ex.Module {
			names = append(names, r.Name)
			if r.PodSecurity != "" && r.PodSecurity != module.Privileged {
				names = append(names, cronJobAppArmorName(r.Name))
			}
			podRule = podRule || r.IsPodRule()
		}
	}
	pe := policyExceptionV2{APIVersion: "kyverno.io/v2", Kind: "PolicyException",
		Metadata: exceptionMeta(repo, p, ex),
		Spec: policyExceptionV2Spec{
			Match:      matchBlock{Any: exceptionFilters(ex.Source, podRule)},
			Exceptions: []exceptionV2Entry{{PolicyName: p.Name, RuleNames: names}},
		}}
	return pe, nil
}

// exceptionMeta is the metadata of a PolicyException: the reason and expiry travel as annotations.
func exceptionMeta(repo *rule.Repo, p *Policy, ex *Exception) objectMeta {
	a := map[string]string{
		repo.Config.Spec.Domain + "/module": ex.Module.Name(),
		repo.Config.Spec.Domain + "/rule":   p.Rule.ID,
		repo.Config.Spec.Domain + "/reason": ex.Source.Reason,
	}
	if ex.Source.Expires != "" {
		a[repo.Config.Spec.Domain+"/expires"] = ex.Source.Expires
	}
	return objectMeta{Name: ex.Name, Namespace: ExceptionNamespace, Labels: policyLabels(), Annotations: a}
}
