// Package module holds the module metadata (module.yaml) and repository config (polc.yaml) of a
// module repository, and loads them strictly.
package module

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// APIVersion is the apiVersion of module.yaml and polc.yaml.
const APIVersion = "polc.dev/v1alpha1"

// Type is a module's type.
type Type string

// Module types.
const (
	Infrastructure Type = "infrastructure"
	Application    Type = "application"
	Component      Type = "component"
)

// Allowed lists the valid types.
func (Type) Allowed() []string { return []string{"infrastructure", "application", "component"} }

// Tier splits an infrastructure area into core and extra modules.
type Tier string

// Tiers.
const (
	Core  Tier = "core"
	Extra Tier = "extra"
)

// Allowed lists the valid tiers.
func (Tier) Allowed() []string { return []string{"core", "extra"} }

// Level is a Pod Security Standards level.
type Level string

// Pod Security levels.
const (
	Restricted Level = "restricted"
	Baseline   Level = "baseline"
	Privileged Level = "privileged"
)

// Allowed lists the valid levels.
func (Level) Allowed() []string { return []string{"restricted", "baseline", "privileged"} }

// Rank orders levels from strictest (0) to loosest (2).
func (l Level) Rank() int {
	switch l {
	case Baseline:
		return 1
	case Privileged:
		return 2
	}
	return 0
}

// Module is one module.yaml plus where it was found.
type Module struct {
	APIVersion string     `yaml:"apiVersion,required"`
	Kind       string     `yaml:"kind,required"`
	Metadata   Metadata   `yaml:"metadata,required"`
	Spec       ModuleSpec `yaml:"spec,required"`

	// Dir is the module directory relative to the repository root, slash-separated.
	Dir string `yaml:"-"`
	// File is the module.yaml path relative to the repository root.
	File string `yaml:"-"`
	// positions maps field paths (spec.dependsOn[0]) to where they are written.
	positions map[string]Pos
}

// Name is the module's name.
func (m *Module) Name() string { return m.Metadata.Name }

// Pos returns the position of a field path in module.yaml, falling back to the nearest parent
// that was written, then to the file itself.
func (m *Module) Pos(path string) Pos {
	for p := path; p != ""; {
		if pos, ok := m.positions[p]; ok {
			return pos
		}
		i := lastSep(p)
		if i < 0 {
			break
		}
		p = p[:i]
	}
	if pos, ok := m.positions[""]; ok {
		return pos
	}
	return Pos{File: m.File, Line: 1, Column: 1}
}

func lastSep(p string) int {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' || p[i] == '[' {
			return i
		}
	}
	return -1
}

// Metadata names the module.
type Metadata struct {
	// Name is the module's identity: a unique DNS-1123 label (by convention, its directory's name).
	Name string `yaml:"name,required"`
}

// ModuleSpec is what a module declares about itself.
type ModuleSpec struct {
	Type        Type   `yaml:"type,required"`
	Tier        Tier   `yaml:"tier"`
	Version     string `yaml:"version,required"`
	Description string `yaml:"description"`
	// Owner is carried into findings, reports and policy annotations.
	Owner         string      `yaml:"owner"`
	Namespaces    []Namespace `yaml:"namespaces"`
	DependsOn     []string    `yaml:"dependsOn"`
	SoftDependsOn []string    `yaml:"softDependsOn"`
	Provides      Provides    `yaml:"provides"`
	// Uses are the namespaces of other modules (or shared namespaces) the module writes objects into.
	Uses       []Use       `yaml:"uses"`
	Exceptions []Exception `yaml:"exceptions"`
}

// Use declares that a module writes objects of some kinds into a namespace it does not own: a
// MetalLB IPAddressPool in metallb-system, an -extra module's objects in its -core module's
// namespace. The namespace's owner becomes a hard dependency of the module.
type Use struct {
	Namespace string `yaml:"namespace,required"`
	// Kinds are the kinds written there; empty means any kind.
	Kinds []string `yaml:"kinds"`
	// Reason says why the module writes there.
	Reason string `yaml:"reason"`
}

// Allows reports whether the use covers an object of this kind in namespace ns.
func (u Use) Allows(ns, kind string) bool {
	return u.Namespace == ns && (len(u.Kinds) == 0 || slices.Contains(u.Kinds, kind))
}

// Uses reports whether the module declares that it writes objects of kind into namespace ns.
func (m *Module) Uses(ns, kind string) bool {
	for _, u := range m.Spec.Uses {
		if u.Allows(ns, kind) {
			return true
		}
	}
	return false
}

// Namespace is a namespace the module creates and owns.
type Namespace struct {
	Name string `yaml:"name,required"`
	// PodSecurity is the level its workloads must meet; restricted when empty.
	PodSecurity Level `yaml:"podSecurity"`
	// Reason is required when the level is not restricted.
	Reason string `yaml:"reason"`
}

// Level returns the declared level, restricted by default.
func (n Namespace) Level() Level {
	if n.PodSecurity == "" {
		return Restricted
	}
	return n.PodSecurity
}

// Provides lists what a module installs for others.
type Provides struct {
	// APIs are API groups (longhorn.io) whose CRDs the module installs.
	APIs []string `yaml:"apis"`
}

// Exception excuses named objects from one rule, with a reason.
type Exception struct {
	Rule      string        `yaml:"rule,required"`
	Resources []ResourceRef `yaml:"resources,required"`
	Reason    string        `yaml:"reason"`
	// Expires is an optional date (YYYY-MM-DD); the exception no longer applies after it.
	Expires string `yaml:"expires"`
}

// HasReason reports whether the exception gives a reason: one without excuses nothing.
func (e Exception) HasReason() bool { return strings.TrimSpace(e.Reason) != "" }

// ExpiresAt parses Expires; ok is false when it is empty or malformed.
func (e Exception) ExpiresAt() (t time.Time, ok bool) {
	t, err := time.Parse(time.DateOnly, e.Expires)
	return t, err == nil
}

// Selects reports whether one of the exception's resources selects the object of this kind,
// namespace and name (a resource without a namespace selects the name in every namespace).
func (e Exception) Selects(kind, namespace, name string) bool {
	for _, r := range e.Resources {
		if r.Kind == kind && r.Name == name && (r.Namespace == "" || r.Namespace == namespace) {
			return true
		}
	}
	return false
}

// Expired reports whether the exception is past its expiry date at now (it applies through that
// day). One without a valid date never expires.
func (e Exception) Expired(now time.Time) bool {
	t, ok := e.ExpiresAt()
	return ok && now.After(t.AddDate(0, 0, 1))
}

// Excuses reports whether the exception excuses a finding of rule ruleID about the object of this
// kind, namespace and name at now: it names the rule and the object, gives a reason, and has not
// expired. polc check, polc fn, the compiler and the parity tests all decide with it.
func (e Exception) Excuses(ruleID, kind, namespace, name string, now time.Time) bool {
	return e.Rule == ruleID && e.HasReason() && !e.Expired(now) && e.Selects(kind, namespace, name)
}

// ResourceRef selects objects by kind and name, and optionally namespace.
type ResourceRef struct {
	Kind      string `yaml:"kind,required"`
	Name      string `yaml:"name,required"`
	Namespace string `yaml:"namespace"`
}

// Config is polc.yaml, the repository configuration.
type Config struct {
	APIVersion string     `yaml:"apiVersion,required"`
	Kind       string     `yaml:"kind,required"`
	Spec       ConfigSpec `yaml:"spec"`

	// File is where the config was read from, relative to the repository root; empty for defaults.
	File string `yaml:"-"`
	// positions maps field paths to where they are written.
	positions map[string]Pos
}

// ConfigSpec holds the repository settings; zero values take the defaults of DefaultConfig.
type ConfigSpec struct {
	// ModulesDir is where polc new creates modules, and where modules are found when Modules is empty.
	ModulesDir  string `yaml:"modulesDir"`
	PoliciesDir string `yaml:"policiesDir"`
	// Modules are globs of module directories, relative to the repository root ('*' matches within
	// a path element, '**' any number of elements): each matching directory that holds module.yaml
	// is a module. Default: ModulesDir/**.
	Modules []string `yaml:"modules"`
	// Exclude are globs of repository paths never scanned for modules or inferred from (ci/**,
	// .archive/**); a directory that matches is skipped with everything below it.
	Exclude []string `yaml:"exclude"`
	// ModuleNameIsDir makes rule module/name require each module's name to equal its directory's.
	ModuleNameIsDir bool `yaml:"moduleNameIsDir"`
	// SharedNamespaces are namespaces that no module owns and every module may write into (for
	// some kinds only, when Kinds is set), with the Pod Security level of their pods. Default:
	// flux-system for the Flux source kinds and Flux Kustomizations.
	SharedNamespaces []SharedNamespace `yaml:"sharedNamespaces"`
	// Domain prefixes polc's labels and annotations: <domain>/module.
	Domain string `yaml:"domain"`
	// FluxPrefixes maps a module type to the prefix of its Flux Kustomization name.
	FluxPrefixes map[Type]string `yaml:"fluxPrefixes"`
	// Substitute holds the values for Flux ${var} substitution when rendering.
	Substitute map[string]string `yaml:"substitute"`
	Kyverno    KyvernoConfig     `yaml:"kyverno"`
	// Rules overrides rule severities by rule ID.
	Rules map[string]RuleConfig `yaml:"rules"`
	// Clusters are cluster entry points: repository-relative directories holding the Flux
	// Kustomizations that deploy the modules to a cluster (rendered as a kustomization when the
	// directory has one, else read file by file). Rule deps/flux-dependson checks them.
	Clusters []string `yaml:"clusters"`
	// Render bounds the rendering of each module and sets what charts are rendered for.
	Render RenderConfig `yaml:"render"`
	// Source is the repository's own Flux source: Flux Kustomizations and charts that read it are
	// rendered from the repository (default GitRepository flux-system/flux-system).
	Source SourceRef `yaml:"source"`
}

// SharedNamespace is a namespace every module may write into without owning it.
type SharedNamespace struct {
	Name string `yaml:"name,required"`
	// Kinds limits what modules may write there; empty means any kind.
	Kinds []string `yaml:"kinds"`
	// PodSecurity is the level pods there must meet; restricted when empty.
	PodSecurity Level `yaml:"podSecurity"`
	// Reason is required when the level is not restricted.
	Reason string `yaml:"reason"`
}

// Level returns the declared level, restricted by default.
func (n SharedNamespace) Level() Level { return Namespace{PodSecurity: n.PodSecurity}.Level() }

// Allows reports whether the shared namespace takes an object of this kind.
func (n SharedNamespace) Allows(kind string) bool {
	return len(n.Kinds) == 0 || slices.Contains(n.Kinds, kind)
}

// FluxSourceKinds are the kinds of Flux's source API.
var FluxSourceKinds = []string{"Bucket", "GitRepository", "HelmChart", "HelmRepository", "OCIRepository"}

// FluxSharedKinds are the kinds the Flux namespace holds for every module by default: the source
// kinds, and the Flux Kustomizations that deploy modules (Flux's documented layout keeps them in
// flux-system).
var FluxSharedKinds = []string{"Bucket", "GitRepository", "HelmChart", "HelmRepository", "Kustomization", "OCIRepository"}

// Shared returns the shared namespace named ns, or nil.
func (c *Config) Shared(ns string) *SharedNamespace {
	for i := range c.Spec.SharedNamespaces {
		if c.Spec.SharedNamespaces[i].Name == ns {
			return &c.Spec.SharedNamespaces[i]
		}
	}
	return nil
}

// SharedAllows reports whether a module may write an object of kind into namespace ns because
// polc.yaml shares it.
func (c *Config) SharedAllows(ns, kind string) bool {
	s := c.Shared(ns)
	return s != nil && s.Allows(kind)
}

// SourceRef names a Flux source object.
type SourceRef struct {
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

// String renders the reference as Kind/namespace/name.
func (s SourceRef) String() string { return s.Kind + "/" + s.Namespace + "/" + s.Name }

// RenderConfig bounds rendering, so that no module can make a run last or grow without end.
type RenderConfig struct {
	// Timeout is the deadline of one module's render, as a Go duration such as 30s or 2m
	// (default 30s). A module that takes longer fails with module/render.
	Timeout string `yaml:"timeout"`
	// KubeVersion is the Kubernetes version Helm charts are rendered for (.Capabilities.KubeVersion),
	// such as 1.35 (default DefaultKubeVersion).
	KubeVersion string `yaml:"kubeVersion"`
}

// DefaultKubeVersion is the Kubernetes version charts are rendered for by default.
const DefaultKubeVersion = "1.35"

// RenderTimeout returns the configured render deadline, or 0 for the default.
func (c *Config) RenderTimeout() (time.Duration, error) {
	if c.Spec.Render.Timeout == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.Spec.Render.Timeout)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: spec.render.timeout: %q is not a positive duration such as 30s or 2m", c.Pos("spec.render.timeout"), c.Spec.Render.Timeout)
	}
	return d, nil
}

// KyvernoConfig chooses how policies are compiled.
type KyvernoConfig struct {
	Target Target `yaml:"target"`
	Action Action `yaml:"action"`
	// TierActions overrides Action per tier: core, extra, or application.
	TierActions map[TierKey]Action `yaml:"tierActions"`
}

// Target is the kind of Kyverno policy polc compiles.
type Target string

// Targets.
const (
	ClusterPolicy    Target = "ClusterPolicy"
	ValidatingPolicy Target = "ValidatingPolicy"
)

// Allowed lists the valid targets.
func (Target) Allowed() []string { return []string{"ClusterPolicy", "ValidatingPolicy"} }

// Action is a policy's validation failure action.
type Action string

// Actions.
const (
	Enforce Action = "Enforce"
	Audit   Action = "Audit"
)

// Allowed lists the valid actions.
func (Action) Allowed() []string { return []string{"Enforce", "Audit"} }

// TierKey names a tier or the application type in tierActions.
type TierKey string

// Allowed lists the valid keys.
func (TierKey) Allowed() []string { return []string{"core", "extra", "application"} }

// RuleConfig overrides one rule.
type RuleConfig struct {
	Severity RuleSeverity `yaml:"severity,required"`
}

// RuleSeverity is a configured severity, or off.
type RuleSeverity string

// Allowed lists the valid severities.
func (RuleSeverity) Allowed() []string { return []string{"error", "warning", "off"} }

// FluxPrefix returns the Flux Kustomization name prefix for a module type.
func (c *Config) FluxPrefix(t Type) string { return c.Spec.FluxPrefixes[t] }

// FluxName returns the Flux Kustomization name of a module: <prefix>-<module>.
func (c *Config) FluxName(m *Module) string {
	if p := c.FluxPrefix(m.Spec.Type); p != "" {
		return p + "-" + m.Name()
	}
	return m.Name()
}

// ModuleLabel is the label key that carries the module name.
func (c *Config) ModuleLabel() string { return c.Spec.Domain + "/module" }

// ModuleTypeLabel is the label key that carries the module type.
func (c *Config) ModuleTypeLabel() string { return c.Spec.Domain + "/module-type" }

// DependsOnAnnotation is the Namespace annotation listing hard dependencies.
func (c *Config) DependsOnAnnotation() string { return c.Spec.Domain + "/depends-on" }

// ActionFor returns the validation action for a module's policies.
func (c *Config) ActionFor(m *Module) Action {
	key := TierKey(m.Spec.Tier)
	if m.Spec.Type == Application {
		key = "application"
	}
	if a, ok := c.Spec.Kyverno.TierActions[key]; ok {
		return a
	}
	return c.Spec.Kyverno.Action
}

// Pos returns the position of a field path in polc.yaml.
func (c *Config) Pos(path string) Pos {
	if pos, ok := c.positions[path]; ok {
		return pos
	}
	return Pos{File: c.File}
}

// DefaultConfig returns the configuration used when polc.yaml is absent, and whose values fill
// the fields polc.yaml leaves out.
func DefaultConfig() *Config {
	return &Config{
		APIVersion: APIVersion,
		Kind:       "Config",
		Spec: ConfigSpec{
			ModulesDir:   "modules",
			PoliciesDir:  "policies",
			Domain:       "polc.dev",
			FluxPrefixes: map[Type]string{Infrastructure: "infra", Application: "apps"},
			Substitute:   map[string]string{},
			Kyverno:      KyvernoConfig{Target: ClusterPolicy, Action: Enforce},
			Rules:        map[string]RuleConfig{},
			Render:       RenderConfig{KubeVersion: DefaultKubeVersion},
			Source:       SourceRef{Kind: "GitRepository", Name: "flux-system", Namespace: "flux-system"},
			SharedNamespaces: []SharedNamespace{
				{Name: "flux-system", Kinds: slices.Clone(FluxSharedKinds)},
			},
		},
	}
}
