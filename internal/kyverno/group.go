package kyverno

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// A table rule looked up by labels whose records differ in little but the module's name (the
// module type of labels/module, say) compiles into a ClusterPolicy rule per distinct record:
// the match selects the group's modules with label selectors (In), the record's values are
// literals of the conditions, and the module's name is read from the object's label that found
// it. Kyverno then tests the module by key and parses no table on any request.

// maxGroups is the most distinct records a table rule may have to be compiled as groups.
const maxGroups = 4

// group is the modules of a table rule that share a record, less name and action, and a Flux
// name prefix.
type group struct {
	// ID names the group's rules: the record's values, joined.
	ID string
	// Record is the shared record, less name and action.
	Record map[string]any
	// Prefix is what each module's Flux Kustomization name adds before its name.
	Prefix string
	// Modules are the group's modules, sorted.
	Modules []string
}

// groups returns (once computed) the groups of t when its rule compiles into them (see above), else nil: a
// ByLabels rule of deny conditions, records of scalars in at most maxGroups groups, and names
// that Kyverno matches literally.
func (t *table) groups() []group {
	if t.grouped == nil {
		gs := t.groupsOf()
		t.grouped = &gs
	}
	return *t.grouped
}

func (t *table) groupsOf() []group {
	r := t.Rule
	if r.Lookup != rule.ByLabels || len(r.Deny) == 0 || r.DenyEach != "" || r.PodSecurity != "" || r.Pattern != nil {
		return nil
	}
	fluxOf := map[string]string{}
	for f, n := range t.Flux {
		fluxOf[n] = f
	}
	byKey := map[string]*group{}
	for _, n := range t.names() {
		rec := map[string]any{}
		for k, v := range t.Modules[n] {
			switch v.(type) {
			case string, bool, float64, int:
			default:
				return nil
			}
			if k != "name" && k != "action" {
				rec[k] = v
			}
		}
		f := fluxOf[n]
		if !strings.HasSuffix(f, n) || !allowLiteral.MatchString(f) || !allowLiteral.MatchString(n) {
			return nil
		}
		prefix := strings.TrimSuffix(f, n)
		key := mustJSON(rec) + "\x00" + prefix
		g := byKey[key]
		if g == nil {
			g = &group{Record: rec, Prefix: prefix}
			byKey[key] = g
		}
		g.Modules = append(g.Modules, n)
	}
	if len(byKey) > maxGroups {
		return nil
	}
	var out []group
	for _, g := range byKey {
		var values []string
		for _, k := range sortedKeys(g.Record) {
			values = append(values, fmt.Sprint(g.Record[k]))
		}
		g.ID = strings.Trim(groupID.ReplaceAllString(strings.ToLower(strings.Join(values, "-")), "-"), "-")
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID+"\x00"+out[i].Prefix < out[j].ID+"\x00"+out[j].Prefix })
	for i := range out {
		if out[i].ID == "" || (i > 0 && out[i].ID == out[i-1].ID) {
			return nil // two groups would share a rule name
		}
	}
	return out
}

// groupID finds what a rule name cannot hold.
var groupID = regexp.MustCompile(`[^a-z0-9-]+`)

// groupOf returns the group of module n, or nil.
func groupOf(gs []group, n string) *group {
	for i := range gs {
		if slices.Contains(gs[i].Modules, n) {
			return &gs[i]
		}
	}
	return nil
}

// groupRuleNames are the names of the two ClusterPolicy rules of group g for action a: the
// objects applied by a module's Flux Kustomization, and the others carrying a module label.
func (t *table) groupRuleNames(g *group, a module.Action) (byFlux, byModule string) {
	name := t.actionName(a) + "-" + g.ID
	return Shorten(name), allowByModuleName(name)
}

// cpGroups compiles table rule t for the modules of action a into two ClusterPolicy rules per
// group (see groupRuleNames), with the group's record as literals.
func cpGroups(repo *rule.Repo, t *table, a module.Action) ([]cpRule, error) {
	var out []cpRule
	fl := expr.JMESLabel(rule.FluxNameLabel)
	ml := expr.JMESLabel(repo.Config.ModuleLabel())
	gs := t.groups()
	for i := range gs {
		g := &gs[i]
		var mods, fluxNames []string
		for _, n := range g.Modules {
			if t.Modules[n]["action"] == string(a) {
				mods = append(mods, n)
				fluxNames = append(fluxNames, g.Prefix+n)
			}
		}
		if len(mods) == 0 {
			continue
		}
		byFlux, byModule := t.groupRuleNames(g, a)
		name := "trim_prefix(" + fl + ", " + expr.JMESString(g.Prefix) + ")"
		if g.Prefix == "" {
			name = fl
		}
		for _, c := range []struct {
			rule, name string
			match      labelSelector
		}{
			{byFlux, name, labelSelector{MatchExpressions: []labelSelectorRequirement{
				{Key: rule.FluxNameLabel, Operator: "In", Values: fluxNames}}}},
			{byModule, ml, labelSelector{MatchExpressions: []labelSelectorRequirement{
				{Key: rule.FluxNameLabel, Operator: "NotIn", Values: t.fluxNames()},
				{Key: repo.Config.ModuleLabel(), Operator: "In", Values: mods}}}},
		} {
			r := *t.Rule
			r.Deny = withRecord(r.Deny, g.Record, c.name)
			r.Preconditions = withRecord(r.Preconditions, g.Record, c.name)
			var kinds []string
			for _, k := range r.Kinds {
				kinds = append(kinds, cpKind(k))
			}
			match := c.match
			cr, err := cpRuleOf(&r, c.rule, a, []resourceFilter{{Resources: resourceDescription{Kinds: kinds, Selector: &match}}})
			if err != nil {
				return nil, err
			}
			out = append(out, cr)
		}
	}
	return out, nil
}

// recordRef finds a reference to a field of the module record (module.x) in JMESPath.
var recordRef = regexp.MustCompile(`(^|[\s(!,\[|&{])` + rule.ModuleJMES + `\.([A-Za-z_][A-Za-z0-9_]*)`)

// withRecord returns conds with the references to the module record replaced: its name by the
// JMESPath name, its other fields by literals of rec (null when rec lacks them).
func withRecord(conds []rule.Condition, rec map[string]any, name string) []rule.Condition {
	out := make([]rule.Condition, 0, len(conds))
	for _, c := range conds {
		if k, ok := c.Key.(string); ok {
			c.Key = recordRef.ReplaceAllStringFunc(k, func(m string) string {
				sub := recordRef.FindStringSubmatch(m)
				field := sub[2]
				switch v, ok := rec[field]; {
				case field == "name":
					return sub[1] + "(" + name + ")"
				case !ok:
					return sub[1] + "`null`"
				default:
					if s, isString := v.(string); isString {
						return sub[1] + expr.JMESString(s)
					}
					return sub[1] + "`" + mustJSON(v) + "`"
				}
			})
		}
		out = append(out, c)
	}
	return out
}
