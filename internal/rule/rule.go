// Package rule defines what a rule is, what it reports, and the context it checks.
package rule

import (
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
)

// Severity is how much a finding matters. Typed strings, as they appear in output.
type Severity string

// Severities. Off only appears in configuration: a rule that is off reports nothing.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Off     Severity = "off"
)

// Rank orders severities: error 2, warning 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case Error:
		return 2
	case Warning:
		return 1
	}
	return 0
}

// Scope says what a rule looks at.
type Scope string

// Scopes.
const (
	// RepoScope rules see the module set and the dependency graph.
	RepoScope Scope = "repo"
	// ModuleScope rules see one module's files and rendered objects.
	ModuleScope Scope = "module"
	// ResourceScope rules see one rendered object; they also compile into Kyverno policies.
	ResourceScope Scope = "resource"
)

// Pos is a position in a repository file.
type Pos = module.Pos

// ObjectRef identifies a Kubernetes object.
type ObjectRef = manifest.ObjectRef

// IDs of the rules whose findings the engine reports itself: metadata that does not load, modules
// that do not render, and remote references that are not fetched. The registry describes them.
const (
	MetadataRule = "module/metadata"
	RenderRule   = "module/render"
	RemoteRule   = manifest.RemoteRule
)

// Rule is everything about one rule: its metadata, its offline check and (for resource rules) its
// compiled in-cluster form. Exactly one of the Check functions is set, matching Scope.
type Rule struct {
	// ID is <category>/<kebab-name>; users write it in exceptions and severity overrides.
	ID string
	// Title is a one-line summary.
	Title string
	// Severity is the default severity.
	Severity Severity
	// Scope is what the rule looks at.
	Scope Scope
	// Doc is one paragraph: what the rule checks and why.
	Doc string
	// Remediation is one sentence, ending with a period, that says how to fix a finding.
	Remediation string

	// CheckRepo checks the whole repository (RepoScope). The engine sets each finding's Rule,
	// Severity and Hint from this rule; the check sets where and what.
	CheckRepo func(r *Repo) []Finding
	// CheckModule checks one module (ModuleScope); the engine stamps findings as for CheckRepo.
	CheckModule func(r *Repo, m *module.Module) []Finding
	// Kinds limits CheckObject to these kinds; empty means every object.
	Kinds []string
	// CheckObject checks one rendered object of module m (ResourceScope).
	CheckObject func(r *Repo, m *module.Module, o *manifest.Object) []Violation
	// ClusterObjects makes the engine also run CheckObject on the Flux Kustomizations of the
	// cluster entry points (Repo.Clusters) that deploy a module, with m that module. Only rules
	// about how modules are deployed set it: cluster entry points are not modules.
	ClusterObjects bool
	// Policy is the compiled in-cluster form of a resource rule for one module (see policy.go); nil
	// for rules that are offline only.
	Policy func(c *CompileContext) []PolicyRule
}

// Violation is what a resource rule reports about one object; the engine adds the position.
type Violation struct {
	// Message names the expected and the actual value.
	Message string
	// Field is the offending field path (spec.template.spec.containers[0].image); empty for the
	// object as a whole.
	Field string
}

// Finding is one reported problem.
type Finding struct {
	Rule     string
	Severity Severity
	// Module is the module the finding belongs to; empty for repository-wide findings.
	Module string
	// Pos is where to look; File is relative to the repository root.
	Pos Pos
	// Object is set for findings about a rendered object.
	Object *ObjectRef
	// Field is the offending field path, when known.
	Field   string
	Message string
	// Hint says how to fix it (the rule's remediation).
	Hint string
	// Excepted is true when a module exception covers the finding; Reason is the exception's.
	Excepted bool
	Reason   string
}
