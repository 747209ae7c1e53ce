package builtin

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/manifest"
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
	Remediation: "Fix the exception's rule ID, reason or resources, renew its expiry date if it is still needed, or delete it.",
	CheckRepo:   checkExceptionsValid,
}

func checkExceptionsValid(r *rule.Repo) []rule.Finding {
	now := r.Clock()
	var out []rule.Finding
	for _, m := range r.Reported() {
		for i, ex := range m.Spec.Exceptions {
			field := fmt.Sprintf("spec.exceptions[%d]", i)
			add := func(f, msg string) {
				out = append(out, rule.ModuleFinding(m, f, msg))
			}
			if r.Rules[ex.Rule] == nil {
				add(field+".rule", fmt.Sprintf("exception names rule %q, which does not exist; expected one of the IDs that `polc rules` lists", ex.Rule))
			}
			if !ex.HasReason() {
				add(field, fmt.Sprintf("exception for %s has no reason, so it excuses nothing; expected a reason that says why the objects may break the rule", ex.Rule))
			}
			if ex.Expires != "" {
				if _, ok := ex.ExpiresAt(); !ok {
					add(field+".expires", fmt.Sprintf("expires is %q; expected a date as YYYY-MM-DD", ex.Expires))
				} else if ex.Expired(now) {
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
		if !slices.ContainsFunc(r.Objects[m.Name()], func(o *manifest.Object) bool {
			return one.Selects(o.Ref.Kind, o.Ref.Namespace, o.Ref.Name)
		}) {
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
