// Package kyverno compiles polc's resource rules into Kyverno policies: one policy per rule
// (ClusterPolicy or ValidatingPolicy) and one PolicyException per module exception, as typed
// objects. The rules describe their in-cluster form in the neutral shape of rule.PolicyRule; this
// package owns everything that is specific to Kyverno. Its subpackages do the rest: pack lays the
// policies out as files (with a kustomization, a README catalog and the tests) and writes them,
// testgen generates the Kyverno CLI and chainsaw tests, expr quotes JMESPath and CEL, example
// makes the rules' example objects, and kyvernotest helps tests.
package kyverno

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Target is the kind of policy the pack is made of.
type Target string

// Targets, as the --target flag spells them.
const (
	ClusterPolicy    Target = "clusterpolicy"
	ValidatingPolicy Target = "validatingpolicy"
)

// Targets lists the valid targets.
func Targets() []string { return []string{string(ClusterPolicy), string(ValidatingPolicy)} }

// TargetOf maps polc.yaml's spec.kyverno.target to a Target.
func TargetOf(t module.Target) Target {
	if t == module.ValidatingPolicy {
		return ValidatingPolicy
	}
	return ClusterPolicy
}

// ExceptionNamespace is the namespace PolicyExceptions are written to. Kyverno only reads
// exceptions from the namespaces its --exceptionNamespace flag names.
const ExceptionNamespace = "kyverno"

// Options say how to compile.
type Options struct {
	// Target is the policy kind.
	Target Target
	// Now decides which exceptions have expired; zero means the current time.
	Now time.Time
}

// Result is what Compile made of a repository.
type Result struct {
	// Target is the kind of policy it is made of.
	Target Target
	// Policies are the compiled policies, sorted by name.
	Policies []*Policy
	// Notes are things the user should know (expired exceptions that were not compiled).
	Notes []string
}

// Policy is one compiled policy and what it was compiled from.
type Policy struct {
	// Name is polc-<category>-<name> (plus -audit for the audit half of a split ValidatingPolicy).
	Name string
	// Rule is the polc rule it enforces.
	Rule *rule.Rule
	// Severity is the configured severity.
	Severity rule.Severity
	// Rules are its per-module rules.
	Rules []ModuleRule
	// Exceptions are the PolicyExceptions that refer to it.
	Exceptions []*Exception
	// Path is the policy file's path in the pack.
	Path string
	// Hash is the source hash.
	Hash string
	// Object is the policy object (a ClusterPolicy or a ValidatingPolicy), ready to marshal.
	Object any
	// tables are its table rules (see table.go).
	tables []*table
}

// table returns the table rule of p named name.
func (p *Policy) table(name string) *table {
	for _, t := range p.tables {
		if t.Rule.Name == name {
			return t
		}
	}
	panic("no table rule " + name + " in " + p.Name)
}

// ModuleRule is one per-module rule of a policy.
type ModuleRule struct {
	rule.PolicyRule
	// Module is the module the rule was compiled for.
	Module *module.Module
	// Action is the module's validation failure action.
	Action module.Action
}

// Exception is one module exception compiled for a policy.
type Exception struct {
	// Name is the PolicyException's name.
	Name string
	// Module declared it.
	Module *module.Module
	// Source is the exception as written in module.yaml.
	Source module.Exception
	// Path is its file's path in the pack.
	Path string
	// Object is the PolicyException object, ready to marshal.
	Object any
}

// Category returns the category of a rule ID: labels for labels/module.
func Category(id string) string {
	c, _, _ := strings.Cut(id, "/")
	return c
}

// PolicyName returns the policy name of a rule ID: polc-labels-module for labels/module.
func PolicyName(id string) string { return "polc-" + strings.ReplaceAll(id, "/", "-") }

// objectName is what an excepted object's name may be: a DNS-1123 subdomain, or with colons
// (RBAC object names).
var objectName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$`)

// kindName is a Kubernetes kind.
var kindName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// validate refuses metadata that could change a compiled policy's meaning: every value that
// reaches a policy's match, pattern or CEL is a name of a strict form, so nothing a module author
// writes can inject JMESPath ({{ }}), pattern operators or CEL. Free text (description, reasons)
// only reaches annotations and YAML string scalars, which the YAML encoder quotes.
func validate(repo *rule.Repo) error {
	var errs []string
	bad := func(m *module.Module, field, v, what string) {
		errs = append(errs, fmt.Sprintf("%s: %s %q is not %s", m.Pos(field), field, v, what))
	}
	if !regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`).MatchString(repo.Config.Spec.Domain) {
		errs = append(errs, fmt.Sprintf("%s: spec.domain %q is not a DNS subdomain", repo.Config.Pos("spec.domain"), repo.Config.Spec.Domain))
	}
	for _, m := range repo.Modules {
		if !module.IsDNSLabel(m.Name()) {
			bad(m, "metadata.name", m.Name(), "a DNS-1123 label")
		}
		if !module.IsDNSLabel(repo.Config.FluxName(m)) {
			bad(m, "metadata.name", repo.Config.FluxName(m), "a DNS-1123 label of at most 63 characters as a Flux Kustomization name (a label value)")
		}
		for i, ns := range m.Spec.Namespaces {
			if !module.IsDNSLabel(ns.Name) {
				bad(m, fmt.Sprintf("spec.namespaces[%d].name", i), ns.Name, "a DNS-1123 label")
			}
		}
		for i, ex := range m.Spec.Exceptions {
			for j, r := range ex.Resources {
				f := fmt.Sprintf("spec.exceptions[%d].resources[%d]", i, j)
				if !kindName.MatchString(r.Kind) {
					bad(m, f+".kind", r.Kind, "a Kubernetes kind")
				}
				if !objectName.MatchString(r.Name) {
					bad(m, f+".name", r.Name, "a Kubernetes object name")
				}
				if r.Namespace != "" && !module.IsDNSLabel(r.Namespace) {
					bad(m, f+".namespace", r.Namespace, "a DNS-1123 label")
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("module metadata cannot be compiled safely:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// maxName is the longest rule name Kyverno accepts (it refuses the whole policy otherwise).
const maxName = 63

// Shorten keeps a name within 63 characters, the longest rule name Kyverno accepts: a longer one
// is cut and given a hash of the full name, so that it stays unique and stable.
func Shorten(name string) string {
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:maxName-9], "-") + "-" + hex.EncodeToString(sum[:4])
}

// buildPolicies runs every compiled rule for every module and groups the results into policies.
func buildPolicies(repo *rule.Repo, rules []rule.Rule, target Target) ([]*Policy, error) {
	var out []*Policy
	mods := repo.Deployable()
	for i := range rules {
		ru := &rules[i]
		sev := repo.SeverityOf(ru)
		if ru.Policy == nil || sev == rule.Off {
			continue
		}
		byAction := map[module.Action]*Policy{}
		var order []module.Action
		for _, m := range mods {
			action := repo.Config.ActionFor(m)
			if sev == rule.Warning {
				// A warning does not fail polc check, so it does not block admission either: the
				// cluster admits the object and reports it in a PolicyReport.
				action = module.Audit
			}
			key := action
			if target == ClusterPolicy {
				key = ""
			}
			p := byAction[key]
			if p == nil {
				p = &Policy{Name: PolicyName(ru.ID), Rule: ru, Severity: sev}
				byAction[key] = p
				order = append(order, key)
			}
			for _, pr := range ru.Policy(&rule.CompileContext{Repo: repo, Module: m}) {
				pr.Name = Shorten(pr.Name)
				if !module.IsDNSLabel(pr.Name) {
					return nil, fmt.Errorf("rule %s: compiled rule name %q is not a DNS-1123 label", ru.ID, pr.Name)
				}
				p.Rules = append(p.Rules, ModuleRule{PolicyRule: pr, Module: m, Action: action})
			}
		}
		// A ValidatingPolicy has one action: modules with Audit go to a second policy, named -audit,
		// when some modules enforce.
		var kept []*Policy
		for _, k := range order {
			if p := byAction[k]; len(p.Rules) > 0 {
				kept = append(kept, p)
			}
		}
		if len(kept) == 2 {
			for _, p := range kept {
				if p.Rules[0].Action == module.Audit {
					p.Name += "-audit"
				}
			}
		}
		for _, p := range kept {
			seen := map[string]bool{}
			for _, r := range p.Rules {
				if r.IsTable() {
					continue // one rule for every module
				}
				if seen[r.Name] {
					return nil, fmt.Errorf("rule %s: two compiled rules are named %q", ru.ID, r.Name)
				}
				seen[r.Name] = true
			}
			p.Path = Category(ru.ID) + "/" + p.Name + ".yaml"
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// attachExceptions compiles each live module exception for the policy of its rule, and returns
// notes about the exceptions it left out.
func attachExceptions(repo *rule.Repo, policies []*Policy, now time.Time) []string {
	var notes []string
	for _, m := range repo.Deployable() {
		count := map[string]int{}
		for i, ex := range m.Spec.Exceptions {
			var target *Policy
			for _, p := range policies {
				if p.Rule.ID == ex.Rule && slices.ContainsFunc(p.Rules, func(r ModuleRule) bool { return r.Module == m }) {
					target = p
				}
			}
			if target == nil {
				continue // not a compiled rule: offline only, or off
			}
			pos := m.Pos(fmt.Sprintf("spec.exceptions[%d]", i))
			switch {
			case ex.Expired(now):
				notes = append(notes, fmt.Sprintf("%s: exception of module %s for %s expired on %s; not compiled", pos, m.Name(), ex.Rule, ex.Expires))
				continue
			case !ex.HasReason(): // as polc check: a blank reason is exceptions/valid's finding
				notes = append(notes, fmt.Sprintf("%s: exception of module %s for %s has no reason; not compiled", pos, m.Name(), ex.Rule))
				continue
			}
			base := "polc-" + m.Name() + "-" + strings.ReplaceAll(ex.Rule, "/", "-")
			count[base]++
			name := base
			if count[base] > 1 {
				name = fmt.Sprintf("%s-%d", base, count[base])
			}
			target.Exceptions = append(target.Exceptions, &Exception{Name: name, Module: m, Source: ex, Path: "exceptions/" + name + ".yaml"})
		}
	}
	return notes
}

// sourceHash is the sha256 of the metadata a policy was compiled from: the rule's own metadata,
// the configuration that shapes policies, and the spec of every module it has rules for.
func sourceHash(repo *rule.Repo, p *Policy, target Target) string {
	type mod struct {
		Name   string
		Action module.Action
		Spec   module.ModuleSpec
	}
	in := struct {
		Target                              Target
		Rule, Title, Doc, Remediation, Name string
		Severity                            rule.Severity
		Domain                              string
		FluxPrefixes                        map[module.Type]string
		Modules                             []mod
	}{Target: target, Rule: p.Rule.ID, Title: p.Rule.Title, Doc: p.Rule.Doc, Remediation: p.Rule.Remediation, Name: p.Name,
		Severity: p.Severity, Domain: repo.Config.Spec.Domain, FluxPrefixes: repo.Config.Spec.FluxPrefixes}
	seen := map[string]bool{}
	for _, r := range p.Rules {
		if !seen[r.Module.Name()] {
			seen[r.Module.Name()] = true
			in.Modules = append(in.Modules, mod{Name: r.Module.Name(), Action: r.Action, Spec: r.Module.Spec})
		}
	}
	b, err := json.Marshal(in)
	if err != nil {
		panic(err) // plain data always marshals
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Compile compiles the repository's resource rules into policies and their exceptions.
func Compile(repo *rule.Repo, rules []rule.Rule, opts Options) (*Result, error) {
	if err := validate(repo); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	policies, err := buildPolicies(repo, rules, opts.Target)
	if err != nil {
		return nil, err
	}
	res := &Result{Target: opts.Target, Policies: policies}
	res.Notes = attachExceptions(repo, policies, now)
	var b backend = clusterPolicyBackend{}
	if opts.Target == ValidatingPolicy {
		b = validatingPolicyBackend{}
	}
	for _, p := range policies {
		if p.tables, err = tables(repo, p); err != nil {
			return nil, fmt.Errorf("compile %s: %w", p.Name, err)
		}
		p.Hash = sourceHash(repo, p, opts.Target)
		if p.Object, err = b.policy(repo, p); err != nil {
			return nil, fmt.Errorf("compile %s: %w", p.Name, err)
		}
		for _, ex := range p.Exceptions {
			if ex.Object, err = b.exception(repo, p, ex); err != nil {
				return nil, fmt.Errorf("compile exception %s: %w", ex.Name, err)
			}
		}
	}
	return res, nil
}

// backend builds the objects of one target.
type backend interface {
	// policy builds the policy object.
	policy(repo *rule.Repo, p *Policy) (any, error)
	// exception builds a PolicyException.
	exception(repo *rule.Repo, p *Policy, ex *Exception) (any, error)
}
