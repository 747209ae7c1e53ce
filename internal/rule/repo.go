package rule

import (
	"slices"
	"sort"
	"time"

	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
)

// Repo is what rules see: the configuration, the modules, their graph and rendered objects.
// It is read-only while rules run, so rules may run in parallel.
type Repo struct {
	// Root is the absolute repository root.
	Root   string
	Config *module.Config
	// Modules are the modules whose metadata loaded, sorted by name.
	Modules []*module.Module
	// ByName indexes Modules.
	ByName map[string]*module.Module
	// Graph is the dependency graph of Modules.
	Graph *graph.Graph
	// Objects are the rendered objects per module name; absent for components and for modules that
	// were not rendered in this run.
	Objects map[string][]*manifest.Object
	// Rendered is true for modules whose objects are in Objects (they rendered without error).
	Rendered map[string]bool
	// Clusters are the objects of the cluster entry points that polc.yaml spec.clusters lists, in
	// the order of the list; only rules with ClusterObjects see them.
	Clusters []*manifest.Object
	// NamespaceOwners maps each declared namespace to the modules that declare it.
	NamespaceOwners map[string][]*module.Module
	// Selected are the modules this run reports on; nil means all.
	Selected map[string]bool
	// Now is the run's clock: it decides whether exceptions have expired, the same way for the
	// findings they excuse and for rule exceptions/valid. Zero means the current time.
	Now time.Time
	// Gaps are what the selected modules deploy that polc did not render, found after rendering.
	Gaps []Gap
	// ChartCache is the directory of the chart cache that HelmReleases are templated from; empty
	// means no cache (only charts in the repository render).
	ChartCache string
	// Rules are the run's rules by ID, built-in and from extra sources such as Rego; the engine
	// sets them before checks run.
	Rules map[string]*Rule
	// ChangedSince is the git revision of --changed-since, as the user wrote it; empty without it.
	ChangedSince string
	// Changes are the modules whose rendered objects differ from those at ChangedSince, by module
	// name; nil unless the run compared them (only for rule BumpRule, when it is on).
	Changes map[string]Change
}

// BumpRule is the ID of the rule that reports modules changed since --changed-since without a
// new version; the engine compares revisions only when it is on.
const BumpRule = "versions/bump"

// Change is a module whose rendered objects differ between a git revision and the working tree.
type Change struct {
	// Module is the module's name.
	Module string
	// Before is the module's spec.version at the revision ("" when its module.yaml did not load).
	Before string
	// Objects names the objects added, removed or changed, as "added Kind/namespace/name",
	// sorted.
	Objects []string
	// Err says why the module could not be compared (it does not render at the revision, or the
	// revision could not be read); Objects is then empty.
	Err string
}

// NewRepo returns the repository of root with configuration cfg and modules mods: the modules
// sorted by name, and the indexes and dependency graph built from them. When two modules share a
// name, the first in directory order is the one indexed (module/name reports the other).
func NewRepo(root string, cfg *module.Config, mods []*module.Module) *Repo {
	r := &Repo{Root: root, Config: cfg, Modules: slices.Clone(mods), ByName: map[string]*module.Module{},
		Objects: map[string][]*manifest.Object{}, Rendered: map[string]bool{}, NamespaceOwners: map[string][]*module.Module{}}
	sort.SliceStable(r.Modules, func(i, j int) bool { return r.Modules[i].Name() < r.Modules[j].Name() })
	var nodes []graph.Node
	var edges []graph.Edge
	for _, m := range r.Modules {
		if _, dup := r.ByName[m.Name()]; dup {
			continue
		}
		r.ByName[m.Name()] = m
		nodes = append(nodes, graph.Node{Name: m.Name(), Type: string(m.Spec.Type), Tier: string(m.Spec.Tier)})
		for _, d := range m.Spec.DependsOn {
			edges = append(edges, graph.Edge{From: m.Name(), To: d, Kind: graph.Hard})
		}
		for _, d := range m.Spec.SoftDependsOn {
			edges = append(edges, graph.Edge{From: m.Name(), To: d, Kind: graph.Soft})
		}
		for _, ns := range m.Spec.Namespaces {
			r.NamespaceOwners[ns.Name] = append(r.NamespaceOwners[ns.Name], m)
		}
	}
	r.Graph = graph.New(nodes, edges)
	return r
}

// Reported returns the modules the run reports on: each module that owns its name (duplicates are
// module/name's business) and that the run selected, in name order.
func (r *Repo) Reported() []*module.Module {
	var out []*module.Module
	for _, m := range r.Modules {
		if r.ByName[m.Name()] == m && r.IsSelected(m.Name()) {
			out = append(out, m)
		}
	}
	return out
}

// Deployable returns the modules that Flux can deploy and polc compiles: each module that owns
// its name, components excepted (they render nothing on their own), in name order.
func (r *Repo) Deployable() []*module.Module {
	var out []*module.Module
	for _, m := range r.Modules {
		if r.ByName[m.Name()] == m && m.Spec.Type != module.Component {
			out = append(out, m)
		}
	}
	return out
}

// IsSelected reports whether the run reports on the named module.
func (r *Repo) IsSelected(name string) bool { return r.Selected == nil || r.Selected[name] }

// SeverityOf returns the severity of a rule's findings in this repository: polc.yaml's override,
// or the rule's default. Off means the rule reports nothing.
func (r *Repo) SeverityOf(ru *Rule) Severity { return ConfiguredSeverity(r.Config, ru.ID, ru.Severity) }

// ConfiguredSeverity returns polc.yaml's severity for rule id, or def when it sets none.
func ConfiguredSeverity(cfg *module.Config, id string, def Severity) Severity {
	if cfg != nil {
		if rc, ok := cfg.Spec.Rules[id]; ok {
			return Severity(rc.Severity)
		}
	}
	return def
}

// Clock returns the run's time: Now, or the current time when Now is zero.
func (r *Repo) Clock() time.Time {
	if r.Now.IsZero() {
		return time.Now()
	}
	return r.Now
}

// Owner returns the single module that owns namespace ns, or nil.
func (r *Repo) Owner(ns string) *module.Module {
	if o := r.NamespaceOwners[ns]; len(o) > 0 {
		return o[0]
	}
	return nil
}

// ProviderOf returns the module that provides API group g, or nil.
func (r *Repo) ProviderOf(g string) *module.Module {
	for _, m := range r.Modules {
		if slices.Contains(m.Spec.Provides.APIs, g) {
			return m
		}
	}
	return nil
}

// Exists reports whether the repository file rel (slash-separated) exists inside the repository.
func (r *Repo) Exists(rel string) bool {
	_, err := module.Resolve(r.Root, rel)
	return err == nil
}

// ReadFile reads a repository file with polc's safety checks (see module.ReadFile).
func (r *Repo) ReadFile(rel string) ([]byte, error) { return module.ReadFile(r.Root, rel) }

// ModuleFinding builds a finding about a field of a module's metadata; the engine adds the rule's
// ID, severity and hint.
func ModuleFinding(m *module.Module, field, msg string) Finding {
	return Finding{Module: m.Name(), Pos: m.Pos(field), Field: field, Message: msg}
}

// ObjectFinding builds a finding about a field of a rendered object of module m, at the field's
// position when its source is known; the engine adds the rule's ID, severity and hint.
func ObjectFinding(m *module.Module, o *manifest.Object, field, msg string) Finding {
	ref := o.Ref
	return Finding{Module: m.Name(), Pos: o.FieldPos(field), Object: &ref, Field: field, Message: msg}
}
