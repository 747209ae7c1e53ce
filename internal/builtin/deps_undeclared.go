package builtin

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// helmGroup is the API group of Flux HelmReleases.
const helmGroup = "helm.toolkit.fluxcd.io"

// DepsUndeclared requires a module to declare the modules whose APIs, namespaces and Flux
// sources its objects use.
var DepsUndeclared = rule.Rule{
	ID:       "deps/undeclared",
	Title:    "Objects use other modules only through declared dependencies",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "A module's rendered objects reveal which other modules it needs: an object of an API group " +
		"that another module lists in spec.provides.apis needs that module's CRDs; a Flux HelmRelease " +
		"whose spec.chart.spec.sourceRef, spec.chartRef or spec.dependsOn points at an object " +
		"(HelmRepository, OCIRepository, HelmRelease) rendered by another module, or placed in a " +
		"namespace another module owns, needs that module; and an object placed in a namespace another " +
		"module owns needs that module (unless polc.yaml spec.sharedNamespaces shares the namespace for " +
		"the object's kind), and so does a namespace of another module that spec.uses names. Each such module must be named in spec.dependsOn or " +
		"spec.softDependsOn, or the dependency graph, the deployment waves and the change impact of " +
		"`polc check` are wrong.",
	Remediation: "Add the module that the finding names to spec.dependsOn (or spec.softDependsOn when no ordering is needed).",
	CheckModule: checkDepsUndeclared,
}

// use is one way an object relies on another module.
type use struct {
	field  string
	module *module.Module
	what   string
}

func checkDepsUndeclared(r *rule.Repo, m *module.Module) []rule.Finding {
	var out []rule.Finding
	for i, u := range m.Spec.Uses {
		if owner := otherOwner(r, m, u.Namespace); owner != nil && !declaresDep(m, owner.Name()) {
			out = append(out, rule.ModuleFinding(m, fmt.Sprintf("spec.uses[%d].namespace", i),
				fmt.Sprintf("spec.uses names namespace %s, which belongs to module %q; expected %q in spec.dependsOn or spec.softDependsOn, which are [%s]",
					u.Namespace, owner.Name(), owner.Name(), joinDeps(m))))
		}
	}
	for _, o := range r.Objects[m.Name()] {
		reported := map[string]bool{} // one finding per object and missing module
		for _, u := range objectUses(r, m, o) {
			name := u.module.Name()
			if name == m.Name() || declaresDep(m, name) || reported[name] {
				continue
			}
			reported[name] = true
			out = append(out, rule.ObjectFinding(m, o, u.field,
				fmt.Sprintf("%s %s, which belongs to module %q; expected %q in spec.dependsOn or spec.softDependsOn, which are [%s]",
					o.Ref.Kind, u.what, name, name, joinDeps(m))))
		}
	}
	return out
}

// joinDeps lists a module's hard and soft dependencies for messages.
func joinDeps(m *module.Module) string {
	return strings.Join(slices.Concat(m.Spec.DependsOn, m.Spec.SoftDependsOn), ", ")
}

// objectUses lists the other modules an object relies on, in field order.
func objectUses(r *rule.Repo, m *module.Module, o *manifest.Object) []use {
	var uses []use
	if p := r.ProviderOf(o.Ref.Group()); p != nil && o.Ref.Group() != "" {
		uses = append(uses, use{"apiVersion", p, fmt.Sprintf("uses API group %s", o.Ref.Group())})
	}
	// An object in a namespace polc.yaml shares needs nothing of the namespace's owner.
	// A cluster-scoped object is in no namespace, whatever a namespace transformer wrote into it.
	if owner := otherOwner(r, m, o.Ref.Namespace); owner != nil && !r.Config.SharedAllows(o.Ref.Namespace, o.Ref.Kind) && !kinds.ClusterScopedKind(o.Ref.Kind) {
		uses = append(uses, use{"metadata.namespace", owner, fmt.Sprintf("is placed in namespace %s", o.Ref.Namespace)})
	}
	if o.Ref.Group() != helmGroup || o.Ref.Kind != "HelmRelease" {
		return uses
	}
	for _, ref := range helmReleaseRefs(o) {
		kind := ref.kind
		if k := ref.node.GetKind(); k != "" {
			kind = k
		}
		name, ns := fieldString(ref.node, "name"), fieldString(ref.node, "namespace")
		field := ref.field + ".name"
		if ns == "" {
			ns = o.Ref.Namespace // Flux defaults a reference's namespace to the HelmRelease's
		} else {
			field = ref.field + ".namespace"
		}
		target := kind + " " + ns + "/" + name
		if p := renderedBy(r, kind, ns, name); p != nil {
			uses = append(uses, use{field, p, fmt.Sprintf("%s points at %s", ref.field, target)})
		} else if owner := otherOwner(r, m, ns); owner != nil {
			uses = append(uses, use{field, owner, fmt.Sprintf("%s points at %s in namespace %s", ref.field, target, ns)})
		}
	}
	return uses
}

// objectReference is a cross-object reference of a HelmRelease: a mapping with kind (unless
// implied), name and optional namespace.
type objectReference struct {
	field string
	// kind is the implied kind when the reference has none.
	kind string
	node *yaml.RNode
}

// helmReleaseRefs returns the references of a HelmRelease to other objects: its chart source
// (spec.chart.spec.sourceRef or spec.chartRef) and the HelmReleases of spec.dependsOn.
func helmReleaseRefs(o *manifest.Object) []objectReference {
	var out []objectReference
	add := func(field, kind string, path ...string) {
		n, err := o.Node.Pipe(yaml.Lookup(path...))
		if err == nil && n != nil && n.YNode().Kind == yaml.MappingNode {
			out = append(out, objectReference{field: field, kind: kind, node: n})
		}
	}
	add("spec.chart.spec.sourceRef", "", "spec", "chart", "spec", "sourceRef")
	add("spec.chartRef", "", "spec", "chartRef")
	if deps, err := o.Node.Pipe(yaml.Lookup("spec", "dependsOn")); err == nil && deps != nil && deps.YNode().Kind == yaml.SequenceNode {
		for i := range deps.YNode().Content {
			add(fmt.Sprintf("spec.dependsOn[%d]", i), "HelmRelease", "spec", "dependsOn", strconv.Itoa(i))
		}
	}
	return out
}

// otherOwner returns the module that owns namespace ns, unless m is one of its owners.
func otherOwner(r *rule.Repo, m *module.Module, ns string) *module.Module {
	if ns == "" {
		return nil
	}
	for _, owner := range r.NamespaceOwners[ns] {
		if owner == m {
			return nil
		}
	}
	return r.Owner(ns)
}

// renderedBy returns the module whose rendered objects include the object
// kind ns/name, or nil. Only modules rendered in this run are searched.
func renderedBy(r *rule.Repo, kind, ns, name string) *module.Module {
	for _, mod := range r.Modules {
		for _, o := range r.Objects[mod.Name()] {
			if o.Ref.Kind == kind && o.Ref.Namespace == ns && o.Ref.Name == name {
				return r.ByName[mod.Name()]
			}
		}
	}
	return nil
}

// fieldString returns the string value of a mapping field, or "".
func fieldString(n *yaml.RNode, field string) string {
	f := n.Field(field)
	if f == nil || f.Value == nil || f.Value.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return f.Value.YNode().Value
}
