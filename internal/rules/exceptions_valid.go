package rules

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// ExceptionsValid checks the exceptions that modules declare in module.yaml.
var ExceptionsValid = rule.Rule{
	ID:       "exceptions/valid",
	Title:    "Exceptions name a rule, give a reason, match an object and have not expired",
	Severity: rule.Error,
	Scope:    rule.RepoScope,
	Doc: "An exception in module.yaml (spec.exceptions) excuses named objects of its module from one " +
		"rule. It must name an existing rule, give a non-empty reason, have each of its resources select an " +
		"object that the module renders (a stale entry would silently excuse a future object of the same " +
		"name; modules that did not render are not judged), and, " +
		"when it has an expires date (YYYY-MM-DD), not be past it. An expired exception, or one without a " +
		"reason, no longer excuses anything: the findings it covered count again.",
	Remediation: exceptionsRemediation,
	CheckRepo:   checkExceptionsValid,
}

// exceptionsRemediation is ExceptionsValid's remediation, named so that the check can use it
// without referring to the rule variable (an initialization cycle).
const exceptionsRemediation = "Fix the exception's rule ID, reason or resources, renew its expiry date if it is still needed, or delete it."

// knownRules returns the set of rule IDs. It reads the registry through registeredRules, assigned
// in init: the registry lists ExceptionsValid itself, so a direct call would be an initialization
// cycle.
var knownRules = sync.OnceValue(func() map[string]bool {
	ids := map[string]bool{}
	for _, r := range registeredRules() {
		ids[r.ID] = true
	}
	return ids
})

// registeredRules returns the rule registry; see knownRules.
var registeredRules func() []rule.Rule

func init() { registeredRules = All }

func checkExceptionsValid(r *rule.Repo) []rule.Finding {
	now := r.Clock()
	known := knownRules()
	var out []rule.Finding
	for _, m := range r.Modules {
		if r.ByName[m.Name()] != m || r.Selected != nil && !r.Selected[m.Name()] {
			continue
		}
		for i, ex := range m.Spec.Exceptions {
			field := fmt.Sprintf("spec.exceptions[%d]", i)
			add := func(f, msg string) {
				out = append(out, rule.Finding{Rule: "exceptions/valid", Severity: rule.Error, Module: m.Name(),
					Pos: m.Pos(f), Field: f, Message: msg, Hint: exceptionsRemediation})
			}
			if !known[ex.Rule] && !strings.HasPrefix(ex.Rule, "rego/") { // Rego rules load per run
				add(field+".rule", fmt.Sprintf("exception names rule %q, which does not exist; expected one of the IDs that `polc rules` lists", ex.Rule))
			}
			if !ex.HasReason() {
				add(field, fmt.Sprintf("exception for %s has no reason, so it excuses nothing; expected a reason that says why the objects may break the rule", ex.Rule))
			}
			if ex.Expires != "" {
				if _, ok := ex.ExpiresAt(); !ok {
					add(field+".expires", fmt.Sprintf("expires is %q; expected a date as YYYY-MM-DD", ex.Expires))
				} else if check.Expired(ex, now) {
					add(field+".expires", fmt.Sprintf("exception for %s expired on %s, so its objects are checked again; expected a date in the future or no exception", ex.Rule, ex.Expires))
				}
			}
			if r.Rendered[m.Name()] {
				if unmatched := unmatchedResources(r, m, ex); len(unmatched) > 0 {
					add(field+".resources", fmt.Sprintf("exception for %s selects %s, which module %s does not render; expected an existing object (a stale exception would excuse a future one)", ex.Rule, strings.Join(unmatched, ", "), m.Name()))
				}
			}
		}
	}
	return out
}

// unmatchedResources lists the resources of an exception that select no rendered object of m, as
// Kind/name or Kind/namespace/name, sorted.
func unmatchedResources(r *rule.Repo, m *module.Module, ex module.Exception) []string {
	var out []string
	for _, res := range ex.Resources {
		one := module.Exception{Resources: []module.ResourceRef{res}}
		found := false
		for _, o := range r.Objects[m.Name()] {
			if check.Matches(one, o.Ref) {
				found = true
				break
			}
		}
		if !found {
			ref := rule.ObjectRef{Kind: res.Kind, Namespace: res.Namespace, Name: res.Name}
			out = append(out, ref.String())
		}
	}
	if len(ex.Resources) == 0 {
		out = append(out, "no resources")
	}
	sort.Strings(out)
	return out
}
