package kyverno

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	policiesv1 "github.com/kyverno/api/api/policies.kyverno.io/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// validatingPolicyBackend compiles to policies.kyverno.io/v1 ValidatingPolicy and
// PolicyException, built with Kyverno's own types (github.com/kyverno/api costs polc ~23 MB of
// binary and a few milliseconds of start-up, against ~130 MB for the kyverno.io types).
type validatingPolicyBackend struct{}

var _ backend = validatingPolicyBackend{}

// podVariable is the pod of a Pod, or the pod template of a pod controller. Pod rules write their
// CEL against variables.pod; polc matches the controllers itself instead of using Kyverno's
// autogen, because autogen also rewrites object.metadata, which the module scope reads from the
// controller.
const podVariable = `object.kind == "Pod" ? object : (object.kind == "CronJob" ? object.spec.jobTemplate.spec.template : object.spec.template)`

// celSelector is the CEL condition for a selector.
func celSelector(s rule.Selector) string {
	var parts []string
	if len(s.Names) > 0 {
		parts = append(parts, `object.metadata.?name.orValue("") in `+expr.CELStrings(s.Names))
	}
	if len(s.Namespaces) > 0 {
		parts = append(parts, `object.metadata.?namespace.orValue("") in `+expr.CELStrings(s.Namespaces))
	}
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, expr.CELLabel(k)+" == "+expr.CELString(s.Labels[k]))
	}
	if s.LabelIn != nil {
		parts = append(parts, expr.CELLabel(s.LabelIn.Key)+" in "+expr.CELStrings(s.LabelIn.Values))
	}
	if len(s.Kinds) > 0 {
		parts = append(parts, "object.kind in "+expr.CELStrings(s.Kinds))
	}
	if len(parts) == 0 {
		return "true"
	}
	return strings.Join(parts, " && ")
}

// celKinds is the CEL condition that the object is of one of ofKinds (only needed when a policy
// mixes rules of different kinds).
func celKinds(ofKinds []rule.Kind) string {
	var parts []string
	for _, k := range ofKinds {
		switch {
		case k.Kind == "*":
			return "true"
		case k == rule.PodKind:
			parts = append(parts, `object.kind in `+expr.CELStrings(kinds.Pods()))
		default:
			c := `object.kind == ` + expr.CELString(k.Kind)
			if k.Group != "*" {
				g := `object.apiVersion.startsWith(` + expr.CELString(k.Group+"/") + `)`
				if k.Group == "" {
					g = `!object.apiVersion.contains("/")`
				}
				c = "(" + c + " && " + g + ")"
			}
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, " || ")
}

// celScope is the CEL condition that an object is in a rule's scope.
func celScope(r *ModuleRule) string {
	any := func(sels []rule.Selector) string {
		var parts []string
		for _, s := range sels {
			parts = append(parts, "("+celSelector(s)+")")
		}
		return strings.Join(parts, " || ")
	}
	c := "(" + celKinds(r.Kinds) + ")"
	if len(r.Match) > 0 {
		c += " && (" + any(r.Match) + ")"
	}
	if len(r.Exclude) > 0 {
		c += " && !(" + any(r.Exclude) + ")"
	}
	if len(r.ExcludeKinds) > 0 {
		c += " && !(object.kind in " + expr.CELStrings(r.ExcludeKinds) + ")"
	}
	return c
}

// matchCondition is a compact filter that every object in some rule's scope passes: its module
// label, Flux label, namespace or name is one that a rule selects. The exact scopes are in the
// rule variables; spelling them all out here would exceed CEL's expression size limit in
// repositories with many modules. It is "" when a rule selects every object.
func matchCondition(repo *rule.Repo, p *Policy) string {
	labels := map[string]map[string]bool{}
	namespaces, names := map[string]bool{}, map[string]bool{}
	label := func(k, v string) {
		if labels[k] == nil {
			labels[k] = map[string]bool{}
		}
		labels[k][v] = true
	}
	for _, r := range p.Rules {
		sels := r.Match
		if r.IsTable() {
			sels = p.table(r.Name).selectors(repo)
		}
		if len(sels) == 0 {
			return ""
		}
		for _, s := range sels {
			switch {
			case s.LabelIn != nil:
				for _, v := range s.LabelIn.Values {
					label(s.LabelIn.Key, v)
				}
			case len(s.Labels) > 0:
				for k, v := range s.Labels {
					label(k, v)
				}
			case len(s.Namespaces) > 0:
				for _, n := range s.Namespaces {
					namespaces[n] = true
				}
			case len(s.Names) > 0:
				for _, n := range s.Names {
					names[n] = true
				}
			default:
				return ""
			}
		}
	}
	list := func(set map[string]bool) string {
		var out []string
		for k := range set {
			out = append(out, k)
		}
		sort.Strings(out)
		return expr.CELStrings(out)
	}
	var parts []string
	var keys []string
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, expr.CELLabel(k)+" in "+list(labels[k]))
	}
	if len(namespaces) > 0 {
		parts = append(parts, `object.metadata.?namespace.orValue("") in `+list(namespaces))
	}
	if len(names) > 0 {
		parts = append(parts, `object.metadata.?name.orValue("") in `+list(names))
	}
	return strings.Join(parts, " || ")
}

// resourceRules lists the resources a policy's rules match, one entry per API group.
func resourceRules(p *Policy) []admissionv1.NamedRuleWithOperations {
	byGroup := map[string]map[string]bool{}
	add := func(g, r string) {
		if byGroup[g] == nil {
			byGroup[g] = map[string]bool{}
		}
		byGroup[g][r] = true
	}
	for _, r := range p.Rules {
		for _, k := range r.Kinds {
			if k.Kind == "*" {
				return []admissionv1.NamedRuleWithOperations{{RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}},
				}}}
			}
			if k == rule.PodKind {
				for _, name := range kinds.Pods() {
					pk, _ := kinds.Lookup(name)
					add(pk.Group(), pk.Resource)
				}
				continue
			}
			add(k.Group, k.Resource)
		}
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var out []admissionv1.NamedRuleWithOperations
	for _, g := range groups {
		var res []string
		for r := range byGroup[g] {
			res = append(res, r)
		}
		sort.Strings(res)
		out = append(out, admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
			Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
			Rule:       admissionv1.Rule{APIGroups: []string{g}, APIVersions: []string{"*"}, Resources: res},
		}})
	}
	return out
}

func (validatingPolicyBackend) policy(repo *rule.Repo, p *Policy) (any, error) {
	if err := literalDirs(p.Rules); err != nil {
		return nil, err
	}
	action := admissionv1.Deny
	if p.Rules[0].Action == "Audit" {
		action = admissionv1.Audit
	}
	vp := policiesv1.ValidatingPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policies.kyverno.io/v1", Kind: "ValidatingPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Labels: policyLabels(), Annotations: annotations(repo, p, "1.17.0")},
	}
	spec := &vp.Spec
	spec.ValidationAction = []admissionv1.ValidationAction{action}
	spec.MatchConstraints = &admissionv1.MatchResources{ResourceRules: resourceRules(p)}
	// Each rule's scope is a variable, evaluated once per object; the validations test it.
	// Pod Security rules share one validation per control, guarded by the scopes of the rules
	// whose level has that control.
	var vars, order []string
	groups := map[string][]string{}
	var atLeast = map[module.Level][]string{}
	pods, pss := false, false
	tableVars, moduleRef := celTables(repo, p)
	done := map[string]bool{}
	for i := range p.Rules {
		r := &p.Rules[i]
		scope := celScope(r)
		if r.IsTable() {
			if done[r.Name] {
				continue
			}
			done[r.Name] = true
			r = withModuleRef(r, moduleRef[r.Name])
			scope = "(" + celKinds(r.Kinds) + ") && " + moduleRef[r.Name] + `.name != ""`
			if len(r.ExcludeKinds) > 0 {
				scope += " && !(object.kind in " + expr.CELStrings(r.ExcludeKinds) + ")"
			}
			if r.When != "" {
				scope += " && (" + r.When + ")"
			}
		}
		v := fmt.Sprintf("rule%d", i)
		vars = append(vars, v, scope)
		pods = pods || r.IsPodRule()
		ref := "variables." + v
		switch {
		case r.PodSecurity != "":
			pss = true
			for _, l := range []module.Level{module.Baseline, module.Restricted} {
				if r.PodSecurity.Rank() <= l.Rank() {
					atLeast[l] = append(atLeast[l], ref)
				}
			}
		case len(r.CEL) > 0:
			// Rules with the same check and message (those that do not depend on the module)
			// share one validation: fewer expressions to compile and evaluate.
			for _, c := range r.CEL {
				k := c + "\x00" + r.Message
				if _, ok := groups[k]; !ok {
					order = append(order, k)
				}
				groups[k] = append(groups[k], ref)
			}
		default:
			return nil, fmt.Errorf("rule %s has no CEL expression or podSecurity level", r.Name)
		}
	}
	for _, k := range order {
		c, msg, _ := strings.Cut(k, "\x00")
		spec.Validations = append(spec.Validations, admissionv1.Validation{
			Expression: "!(" + strings.Join(groups[k], " || ") + ") || (" + c + ")", Message: msg})
	}
	if pods {
		spec.Variables = append(spec.Variables, admissionv1.Variable{Name: "pod", Expression: podVariable})
	}
	if pss {
		spec.Variables = append(spec.Variables, admissionv1.Variable{Name: "containers", Expression: psAllContainers})
	}
	spec.Variables = append(spec.Variables, tableVars...)
	for i := 0; i < len(vars); i += 2 {
		spec.Variables = append(spec.Variables, admissionv1.Variable{Name: vars[i], Expression: vars[i+1]})
	}
	for _, l := range []module.Level{module.Baseline, module.Restricted} {
		if len(atLeast[l]) > 0 {
			spec.Variables = append(spec.Variables, admissionv1.Variable{Name: "pss" + string(l), Expression: strings.Join(atLeast[l], " || ")})
		}
	}
	if pss {
		for _, c := range psControls {
			if len(atLeast[c.level]) == 0 {
				continue
			}
			spec.Validations = append(spec.Validations, admissionv1.Validation{
				Expression: "!variables.pss" + string(c.level) + " || (" + c.cel + ")",
				Message:    fmt.Sprintf("the pod does not meet the Pod Security level its namespace declares (the module's level, restricted outside declared namespaces): control %s of the %s level failed", c.name, c.level),
			})
		}
	}
	if mc := matchCondition(repo, p); mc != "" {
		spec.MatchConditions = []admissionv1.MatchCondition{{Name: "polc-module-scope", Expression: mc}}
	}
	return vp, nil
}

func (validatingPolicyBackend) exception(repo *rule.Repo, p *Policy, ex *Exception) (any, error) {
	var objs, scopes []string
	podRule := false
	for i := range p.Rules {
		if r := &p.Rules[i]; r.Module == ex.Module {
			if r.IsTable() {
				c := *r
				c.Match, c.Exclude = moduleSelectors(repo, r), nil
				r = &c
			}
			scopes = append(scopes, "("+celScope(r)+")")
			podRule = podRule || r.IsPodRule()
		}
	}
	for _, r := range ex.Source.Resources {
		ns := ""
		if r.Namespace != "" {
			ns = ` && ` + expr.CELNamespaceIs(r.Namespace)
		}
		objs = append(objs, `(object.kind == `+expr.CELString(r.Kind)+` && object.metadata.name == `+expr.CELString(r.Name)+ns+`)`)
		if podRule && kinds.IsPodController(r.Kind) {
			objs = append(objs, `(object.kind == "Pod" && has(object.metadata.name) && object.metadata.name.startsWith(`+expr.CELString(r.Name+"-")+`)`+ns+`)`)
		}
	}
	meta := exceptionMeta(repo, p, ex)
	pe := policiesv1.PolicyException{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policies.kyverno.io/v1", Kind: "PolicyException"},
		ObjectMeta: metav1.ObjectMeta{Name: meta.Name, Namespace: meta.Namespace, Labels: meta.Labels, Annotations: meta.Annotations},
	}
	pe.Spec.PolicyRefs = []policiesv1.PolicyRef{{Name: p.Name, Kind: "ValidatingPolicy"}}
	pe.Spec.MatchConditions = []admissionv1.MatchCondition{{Name: "excepted-objects",
		Expression: "(" + strings.Join(objs, " || ") + ") && (" + strings.Join(scopes, " || ") + ")"}}
	if t, ok := ex.Source.ExpiresAt(); ok {
		at := metav1.NewTime(t.AddDate(0, 0, 1).UTC())
		pe.Spec.ExpiresAt = &at
	}
	return pe, nil
}

// celTables returns the CEL variables that hold the module tables of p's table rules and find the
// object's module in them, and, per table rule, the variable its checks read the record from.
// Tables of equal content share their variables.
func celTables(repo *rule.Repo, p *Policy) ([]admissionv1.Variable, map[string]string) {
	var vars []admissionv1.Variable
	refs := map[string]string{}
	byText := map[string]string{}
	for i, t := range p.tables {
		suffix := ""
		if len(p.tables) > 1 {
			suffix = fmt.Sprint(i)
		}
		data := t.data()
		name := func(what string) string { return what + suffix }
		table := func(what string) string { return "variables." + name(what) }
		var own []admissionv1.Variable
		for _, what := range []string{"modules", "flux", "owners", "dirs"} {
			if v, ok := data[what]; ok {
				own = append(own, admissionv1.Variable{Name: name(what), Expression: celLiteral(v)})
			}
		}
		own = append(own, admissionv1.Variable{Name: name("module"), Expression: celScopeLookup(repo, t, table)})
		key := ""
		for _, v := range own {
			key += v.Expression + "\x00"
		}
		if ref, ok := byText[key]; ok {
			refs[t.Rule.Name] = ref
			continue
		}
		byText[key] = table("module")
		refs[t.Rule.Name] = table("module")
		vars = append(vars, own...)
	}
	return vars, refs
}

// celScopeLookup is the CEL of the record of the object's module for lookup l, or a record
// named "" when it has none; table names a table variable.
func celScopeLookup(repo *rule.Repo, t *table, table func(string) string) string {
	l := t.Rule.Lookup
	// string(): CEL wants the elements of a list literal to have one type, and the object is dyn.
	label := func(k string) string {
		return `string(object.metadata.?labels[?` + expr.CELString(k) + `].orValue(""))`
	}
	const ns, name = `string(object.metadata.?namespace.orValue(""))`, `string(object.metadata.?name.orValue(""))`
	labels := "[" + celGet(table("flux"), label(rule.FluxNameLabel), "f") + ", " + label(repo.Config.ModuleLabel()) + "]"
	var cands string
	switch l {
	case rule.ByLabels:
		cands = labels
	case rule.ByLabelsOrNamespace:
		cands = labels + " + [" + celGet(table("owners"), ns, "o") + "]"
	case rule.ByNamespaceOrLabels:
		cands = "cel.bind(owner, " + celGet(table("owners"), ns, "o") + `, owner != "" ? [owner] : ` + labels + ")"
	case rule.ByFluxName:
		cands = "[" + celGet(table("flux"), name, "f") + "]"
	case rule.ByOwnedNamespace:
		cands = "[" + celGet(table("owners"), name, "o") + "]"
	case rule.ByFluxPath:
		// The directories the path, less one trailing /, ends with at a / (or is), longest first.
		var ks []string
		for k := t.Depth; k >= 1; k-- {
			ks = append(ks, fmt.Sprint(k))
		}
		const path = `object.?spec.?path.orValue("")`
		cands = `(type(` + path + `) != string ? [] : cel.bind(p, string(` + path + `), cel.bind(parts, (p.endsWith("/") ? p.substring(0, size(p) - 1) : p).split("/"), ` +
			"[" + strings.Join(ks, ", ") + `].filter(k, k <= size(parts)).map(k, parts.slice(size(parts) - k, size(parts)).join("/")))))` +
			".map(d, " + celGet(table("dirs"), "d", "d") + ")"
	default:
		panic("unknown lookup " + string(l))
	}
	// Only the record found is decoded (see celLiteral).
	return "((" + cands + ").map(n, " + celGet(table("modules"), "n", "m") + `).filter(r, r != "").map(r, json.unmarshal(r)) + [dyn({"name": ""})])[0]`
}

// celGet is the CEL of the value of key in a table written by celLiteral, "" when it has none; v
// names the bindings it makes (unique within an expression). A key holding a tab or a newline
// matches nothing.
func celGet(table, key, v string) string {
	k, i, at := "key_"+v, "at_"+v, "from_"+v
	return fmt.Sprintf(`cel.bind(%[3]s, %[2]s, %[3]s == "" || %[3]s.contains("\n") || %[3]s.contains("\t") ? "" : `+
		`cel.bind(%[4]s, %[1]s.indexOf("\n" + %[3]s + "\t"), %[4]s < 0 ? "" : cel.bind(%[5]s, %[4]s + size(%[3]s) + 2, %[1]s.substring(%[5]s, %[1]s.indexOf("\n", %[5]s)))))`,
		table, key, k, i, at)
}

// withModuleRef returns r with its CEL reading the record from ref instead of variables.module.
func withModuleRef(r *ModuleRule, ref string) *ModuleRule {
	c := *r
	re := regexp.MustCompile(regexp.QuoteMeta(rule.ModuleCEL) + `\b`)
	c.CEL = nil
	for _, e := range r.CEL {
		c.CEL = append(c.CEL, re.ReplaceAllLiteralString(e, ref))
	}
	c.When = re.ReplaceAllLiteralString(r.When, ref)
	return &c
}

// celLiteral spells a table as one CEL string: a line "\n<key>\t<value>" per entry, the values of
// the module records as JSON, and a final newline; celGet finds a key's line. The Kyverno CLI
// compiles a policy again for every object, and a string literal costs a token where a map literal
// of 200 records costs hundreds of milliseconds; in the cluster a map literal would be built again
// on every evaluation, where the string is searched in native code. Keys and JSON never hold a tab
// or a newline.
func celLiteral(v any) string {
	var m map[string]string
	switch x := v.(type) {
	case map[string]string:
		m = x
	case map[string]map[string]any:
		m = map[string]string{}
		for k, rec := range x {
			m[k] = mustJSON(rec)
		}
	default:
		panic(fmt.Sprintf("celLiteral: unsupported %T", v))
	}
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		b.WriteString("\n" + k + "\t" + m[k])
	}
	b.WriteString("\n")
	return expr.CELString(b.String())
}
