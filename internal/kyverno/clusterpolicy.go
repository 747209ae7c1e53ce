package kyverno

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno/expr"
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
	Name          string           `json:"name"`
	Match         matchBlock       `json:"match"`
	Context       []cpContextEntry `json:"context,omitempty"`
	Preconditions *cpConditions    `json:"preconditions,omitempty"`
	Exclude       *matchBlock      `json:"exclude,omitempty"`
	Validate      *cpValidate      `json:"validate,omitempty"`
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

// labelSelector is metav1.LabelSelector.
type labelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []labelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// labelSelectorRequirement is metav1.LabelSelectorRequirement.
type labelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// cpContextEntry is kyverno.io/v1 ContextEntry (variables only).
type cpContextEntry struct {
	Name     string      `json:"name"`
	Variable *cpVariable `json:"variable,omitempty"`
}

// cpVariable is kyverno.io/v1 Variable.
type cpVariable struct {
	Value    any    `json:"value,omitempty"`
	JMESPath string `json:"jmesPath,omitempty"`
}

// cpValidate is kyverno.io/v1 Validation.
type cpValidate struct {
	FailureAction string         `json:"failureAction,omitempty"`
	Message       string         `json:"message,omitempty"`
	Pattern       map[string]any `json:"pattern,omitempty"`
	Deny          *cpDeny        `json:"deny,omitempty"`
	PodSecurity   *cpPodSecurity `json:"podSecurity,omitempty"`
	ForEach       []cpForEach    `json:"foreach,omitempty"`
}

// cpForEach is kyverno.io/v1 ForEachValidation (deny only).
type cpForEach struct {
	List          string        `json:"list"`
	ElementScope  *bool         `json:"elementScope,omitempty"`
	Preconditions *cpConditions `json:"preconditions,omitempty"`
	Deny          *cpDeny       `json:"deny,omitempty"`
	ForEach       []cpForEach   `json:"foreach,omitempty"`
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
	Conditions *cpConditions      `json:"conditions,omitempty"`
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
		if len(s.Kinds) > 0 {
			d.Kinds = s.Kinds
		}
		if len(s.Labels) > 0 {
			d.Selector = &labelSelector{MatchLabels: s.Labels}
		}
		if s.LabelIn != nil {
			if d.Selector == nil {
				d.Selector = &labelSelector{}
			}
			d.Selector.MatchExpressions = []labelSelectorRequirement{{Key: s.LabelIn.Key, Operator: "In", Values: s.LabelIn.Values}}
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
	add := func(r *ModuleRule, cr cpRule) {
		rules := []cpRule{cr}
		if r.PodSecurity != "" && r.PodSecurity != module.Privileged {
			rules = append(rules, cronJobAppArmor(cr, r))
		}
		for _, cr := range rules {
			kindFirst(&cr)
			cp.Spec.Rules = append(cp.Spec.Rules, cr)
		}
	}
	done := map[string]bool{}
	for i := range p.Rules {
		r := &p.Rules[i]
		for _, k := range r.Kinds {
			if k.Kind == "*" {
				background = false // Kyverno refuses wildcard kinds in background mode
			}
		}
		if !r.IsTable() {
			cr, err := cpRuleOf(r, r.Name, r.Action, cpFilters(r.Kinds, r.Match))
			if err != nil {
				return nil, err
			}
			add(r, cr)
			continue
		}
		if done[r.Name] {
			continue
		}
		done[r.Name] = true
		t := p.table(r.Name)
		for _, a := range t.Actions {
			if t.groups() != nil || t.allowForm() {
				cpForm := cpAllow
				if t.groups() != nil {
					cpForm = cpGroups
				}
				crs, err := cpForm(repo, t, a)
				if err != nil {
					return nil, err
				}
				for _, cr := range crs {
					add(t.Rule, cr)
				}
				continue
			}
			if t.whereForm() {
				cr, ok, err := cpWhere(repo, t, a)
				if err != nil {
					return nil, err
				}
				if ok {
					add(t.Rule, cr)
				}
				continue
			}
			if t.dataFree() {
				cr, err := cpRuleOf(t.Rule, t.actionName(a), a, cpFilters(r.Kinds, t.selectorsOf(repo, a)))
				if err != nil {
					return nil, err
				}
				add(t.Rule, cr)
				continue
			}
			cr, err := cpRuleOf(t.Rule, t.actionName(a), a, cpFilters(r.Kinds, t.selectors(repo)))
			if err != nil {
				return nil, err
			}
			if err := cpTable(repo, t, a, &cr); err != nil {
				return nil, err
			}
			add(t.Rule, cr)
		}
	}
	cp.Spec.Background = &background
	return cp, nil
}

// cpRuleOf builds the ClusterPolicy rule of r, named name, with action a and match.
func cpRuleOf(r *ModuleRule, name string, a module.Action, match []resourceFilter) (cpRule, error) {
	v := &cpValidate{FailureAction: string(a), Message: r.Message}
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
		if r.DenyEach != "" {
			v.ForEach, v.Deny = []cpForEach{{List: r.DenyEach, Deny: v.Deny}}, nil
		}
	default:
		return cpRule{}, fmt.Errorf("rule %s has no pattern, deny conditions or podSecurity level", r.Name)
	}
	if err := noVariables(r.Message, v.Pattern); err != nil {
		return cpRule{}, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	cr := cpRule{Name: name, Match: matchBlock{Any: match}, Validate: v}
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
	return cr, nil
}

// cpTable gives a ClusterPolicy rule the module table of t: as foreach lists where Kyverno allows
// them (see cpForEachTable), else a context variable, module, that holds the record of the
// object's module, and a precondition that the module has the rule's action. The variable is a
// JMESPath expression over the request with the table as literals (see cpModules), not a value:
// Kyverno walks a variable's value for variables on every request.
func cpTable(repo *rule.Repo, t *table, a module.Action, cr *cpRule) error {
	// Kyverno refuses foreach in rules of every kind (*), and a podSecurity check cannot be one.
	if cr.Validate.PodSecurity == nil && !slices.Contains(t.Rule.Kinds, rule.AnyKind) {
		return cpForEachTable(repo, t, a, cr)
	}
	list, err := cpModules(repo, t)
	if err != nil {
		return err
	}
	cr.Context = []cpContextEntry{{Name: rule.ModuleJMES, Variable: &cpVariable{JMESPath: list + " | [0] || `{}`"}}}
	if cr.Preconditions == nil {
		cr.Preconditions = &cpConditions{}
	}
	cr.Preconditions.All = append([]cpCondition{{Key: "{{ " + rule.ModuleJMES + ".action == " + expr.JMESString(string(a)) + " }}", Operator: "Equals", Value: true}}, cr.Preconditions.All...)
	return nil
}

// noVariablesIn refuses a string holding {{ or $( in module data: Kyverno substitutes both in a
// context variable's value. Module data is made of names of strict forms, so this never happens
// unless a rule puts free text in it.
func noVariablesIn(v any) error {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "{{") || strings.Contains(x, "$(") {
			return fmt.Errorf("value %q contains {{ or $(", x)
		}
	case map[string]any:
		for k, e := range x {
			if err := noVariablesIn(k); err != nil {
				return err
			}
			if err := noVariablesIn(e); err != nil {
				return err
			}
		}
	case map[string]map[string]any:
		for k, e := range x {
			if err := noVariablesIn(k); err != nil {
				return err
			}
			if err := noVariablesIn(e); err != nil {
				return err
			}
		}
	case map[string]string:
		for k, e := range x {
			if err := noVariablesIn(k + e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := noVariablesIn(e); err != nil {
				return err
			}
		}
	case []string:
		for _, e := range x {
			if err := noVariablesIn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// appArmorAnnotations counts the pod template annotations of a CronJob that set a forbidden
// AppArmor profile (the deprecated container.apparmor.security.beta.kubernetes.io/ form).
const appArmorAnnotations = "{{ length(items(request.object.spec.jobTemplate.spec.template.metadata.annotations || `{}`, 'key', 'value')" +
	"[?starts_with(key, 'container.apparmor.security.beta.kubernetes.io/') && !(value == '' || value == 'runtime/default' || starts_with(value, 'localhost/'))]) }}"

// cronJobAppArmor is the companion of a podSecurity rule for CronJobs: Kyverno's podSecurity check
// does not see the annotations of a CronJob's pod template, which the Pod Security library checks
// for AppArmor, so this rule does.
func cronJobAppArmor(cr cpRule, r *ModuleRule) cpRule {
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
		Name:          cronJobAppArmorName(cr.Name),
		Match:         *only(&cr.Match),
		Exclude:       only(cr.Exclude),
		Context:       cr.Context,
		Preconditions: cr.Preconditions,
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
	var conds []cpCondition
	scoped := true
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Module != ex.Module {
			continue
		}
		own := p.cpRuleNames(r)
		name, also := own[0], own[1:]
		if r.IsTable() {
			sels := moduleSelectors(repo, r)
			scoped = scoped && len(sels) > 0
			for _, s := range sels {
				c := cpCondition{Key: "{{ " + jmesSelector(s) + " }}", Operator: "Equals", Value: true}
				if !slices.ContainsFunc(conds, func(d cpCondition) bool { return d.Key == c.Key }) {
					conds = append(conds, c)
				}
			}
		}
		if slices.Contains(names, name) {
			continue
		}
		names = append(names, name)
		names = append(names, also...)
		if r.PodSecurity != "" && r.PodSecurity != module.Privileged {
			names = append(names, cronJobAppArmorName(name))
		}
		podRule = podRule || r.IsPodRule()
	}
	pe := policyExceptionV2{APIVersion: "kyverno.io/v2", Kind: "PolicyException",
		Metadata: exceptionMeta(repo, p, ex),
		Spec: policyExceptionV2Spec{
			Match:      matchBlock{Any: exceptionFilters(ex.Source, podRule)},
			Exceptions: []exceptionV2Entry{{PolicyName: p.Name, RuleNames: names}},
		}}
	if scoped && len(conds) > 0 {
		// The rules are every module's: the exception holds for the objects the module's lookup
		// finds it for, as the module's own rule did.
		pe.Spec.Conditions = &cpConditions{Any: conds}
	}
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

// jmesSelector is the JMESPath condition that the request's object is selected by s.
func jmesSelector(s rule.Selector) string {
	var parts []string
	if len(s.Names) > 0 {
		parts = append(parts, "contains("+expr.JMESStrings(s.Names)+", request.object.metadata.name || '')")
	}
	if len(s.Namespaces) > 0 {
		parts = append(parts, "contains("+expr.JMESStrings(s.Namespaces)+", request.object.metadata.namespace || '')")
	}
	for _, k := range sortedKeys(s.Labels) {
		parts = append(parts, expr.JMESLabel(k)+" == "+expr.JMESString(s.Labels[k]))
	}
	if s.LabelIn != nil {
		parts = append(parts, "contains("+expr.JMESStrings(s.LabelIn.Values)+", "+expr.JMESLabel(s.LabelIn.Key)+")")
	}
	if len(s.Kinds) > 0 {
		parts = append(parts, "contains("+expr.JMESStrings(s.Kinds)+", request.object.kind)")
	}
	if len(parts) == 0 {
		return "true"
	}
	return strings.Join(parts, " && ")
}

// cpModules is the JMESPath list of the record of the object's module (empty when it has none),
// with the module table of t as two literals: an index from the keys the lookup tries
// (f:<flux name>, n:<namespace>, d:<directory>) to module names, and the records by module name. A
// module label (m:<name>) names its module itself. Kyverno compiles the expression, and so parses the
// literals, and scans its text for variables, on every request: the literals are kept small (each
// appears once; a record holds its name only when the rule reads it).
func cpModules(repo *rule.Repo, t *table) (string, error) {
	index, records := map[string]string{}, map[string]any{}
	uses := map[rule.Lookup]string{rule.ByLabels: "f", rule.ByLabelsOrNamespace: "fn", rule.ByNamespaceOrLabels: "fn", rule.ByFluxName: "f", rule.ByOwnedNamespace: "n", rule.ByFluxPath: "d"}[t.Rule.Lookup]
	add := func(prefix string, m map[string]string) {
		if strings.Contains(uses, prefix) {
			for k, n := range m {
				index[prefix+":"+k] = n
			}
		}
	}
	readsName := false
	for _, m := range recordRef.FindAllStringSubmatch(mustJSON([]any{t.Rule.Deny, t.Rule.Preconditions, t.Rule.Pattern, t.Rule.DenyEach}), -1) {
		readsName = readsName || m[2] == "name"
	}
	for n, rec := range t.Modules {
		if !readsName {
			rec = maps.Clone(rec)
			delete(rec, "name")
		}
		records[n] = rec
	}
	add("f", t.Flux)
	add("n", t.Owners)
	add("d", t.Dirs)
	literal := func(v any) string { return "`" + strings.ReplaceAll(mustJSON(v), "`", "\\`") + "`" }
	key := func(prefix, value string) string { return "join('', ['" + prefix + "', " + value + "])" }
	fl := `request.object.metadata.labels."` + rule.FluxNameLabel + `" || ''`
	ml := `request.object.metadata.labels."` + repo.Config.ModuleLabel() + `" || ''`
	const ns, name = "request.object.metadata.namespace || ''", "request.object.metadata.name || ''"
	var keys string
	switch t.Rule.Lookup {
	case rule.ByLabels:
		keys = "[" + key("f:", fl) + ", " + key("m:", ml) + "]"
	case rule.ByLabelsOrNamespace:
		keys = "[" + key("f:", fl) + ", " + key("m:", ml) + ", " + key("n:", ns) + "]"
	case rule.ByNamespaceOrLabels:
		keys = "[" + key("n:", ns) + ", " + key("f:", fl) + ", " + key("m:", ml) + "]"
	case rule.ByFluxName:
		keys = "[" + key("f:", name) + "]"
	case rule.ByOwnedNamespace:
		keys = "[" + key("n:", name) + "]"
	case rule.ByFluxPath:
		// The directories the path, less one trailing /, ends with at a / (or is), longest first.
		const q = "split(regex_replace_all('/$', request.object.spec.path, ''), '/')"
		var ks []string
		for k := t.Depth; k >= 1; k-- {
			ks = append(ks, key("d:", fmt.Sprintf("join('/', %s[-%d:])", q, k)))
		}
		keys = "(type(request.object.spec.path) == 'string' && [" + strings.Join(ks, ", ") + "]) || `[]`"
	default:
		return "", fmt.Errorf("rule %s: lookup %s has no ClusterPolicy form", t.Rule.Name, t.Rule.Lookup)
	}
	names := "(" + keys + ") | map(&(lookup(" + literal(index) + ", @) || (starts_with(@, 'm:') && trim_prefix(@, 'm:'))), @)"
	if t.Rule.Lookup == rule.ByNamespaceOrLabels {
		// An owned namespace decides alone: its owner's record, or none when the owner has no rule.
		names += " | ((@[0] && [@[0]]) || @[1:])"
	}
	list := names + " | [?@] | map(&lookup(" + literal(records) + ", @), @)[?@]"
	if err := noVariablesIn(list); err != nil {
		return "", fmt.Errorf("rule %s: module table: %w", t.Rule.Name, err)
	}
	return list, nil
}

// cpForEachTable gives a ClusterPolicy rule of deny conditions the module table of t as JMESPath
// literals in a foreach list: the list is the record of the object's module (none when it has
// none), and the conditions are evaluated for it as element. Kyverno evaluates a foreach list as
// it is, where it walks a context variable's value looking for variables on every request.
func cpForEachTable(repo *rule.Repo, t *table, a module.Action, cr *cpRule) error {
	list, err := cpModules(repo, t)
	if err != nil {
		return err
	}
	list += " | [:1]"
	element := func(s string) string { return moduleRef.ReplaceAllString(s, "${1}element.") }
	fe := cpForEach{List: list, ElementScope: new(bool),
		Preconditions: &cpConditions{All: []cpCondition{{Key: "{{ element.action == " + expr.JMESString(string(a)) + " }}", Operator: "Equals", Value: true}}}}
	if cr.Preconditions != nil {
		for _, c := range cr.Preconditions.All {
			k, _ := c.Key.(string)
			fe.Preconditions.All = append(fe.Preconditions.All, cpCondition{Key: element(k), Operator: c.Operator, Value: c.Value})
		}
		cr.Preconditions = nil
	}
	deny := &cpDeny{}
	v := cr.Validate
	var conds []cpCondition
	switch {
	case v.Deny != nil:
		conds = v.Deny.Conditions.Any
	case len(v.ForEach) == 1 && v.ForEach[0].Deny != nil:
		conds = v.ForEach[0].Deny.Conditions.Any
	default:
		return fmt.Errorf("rule %s: a table rule without Pod Security has deny conditions", t.Rule.Name)
	}
	for _, c := range conds {
		k, _ := c.Key.(string)
		deny.Conditions.Any = append(deny.Conditions.Any, cpCondition{Key: element(k), Operator: c.Operator, Value: c.Value})
	}
	if len(v.ForEach) == 1 { // DenyEach: a foreach over the record's list, inside the one over records
		fe.ForEach = []cpForEach{{List: element(v.ForEach[0].List), ElementScope: new(bool), Deny: deny}}
	} else {
		fe.Deny = deny
	}
	v.Deny, v.ForEach = nil, []cpForEach{fe}
	return nil
}

// moduleRef finds the references to the module record (module.x) in JMESPath written for a table
// rule; the prefix keeps quoted keys such as "polc.dev/module" out.
var moduleRef = regexp.MustCompile(`(^|[\s(!,\[|&{])` + rule.ModuleJMES + `\.`)
