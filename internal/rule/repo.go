package rule

import (
	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"time"
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
		for _, api := range m.Spec.Provides.APIs {
			if api == g {
				return m
			}
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

// ModuleFinding builds a finding about a field of a module's metadata.
func ModuleFinding(ru *Rule, m *module.Module, field, msg string) Finding {
	return Finding{Rule: ru.ID, Severity: ru.Severity, Module: m.Name(), Pos: m.Pos(field), Field: field, Message: msg, Hint: ru.Remediation}
}
