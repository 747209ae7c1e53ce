package builtin

import (
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// DepsFluxDependsOn requires the Flux Kustomization of a module to depend on the Flux
// Kustomizations of the module's hard dependencies.
var DepsFluxDependsOn = rule.Rule{
	ID:       "deps/flux-dependson",
	Title:    "Flux Kustomizations of modules depend on those of the module's hard dependencies",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "Flux orders a cluster's deployment by spec.dependsOn: a Kustomization waits until the ones it " +
		"names are Ready. A Flux Kustomization named <prefix>-<module> deploys that module (see " +
		"naming/flux-kustomization), so its spec.dependsOn must name the Kustomization of every hard " +
		"dependency of the module (spec.dependsOn in module.yaml, each as <prefix>-<module>), or the " +
		"module may start before what it needs exists. More entries are fine. polc checks the Flux " +
		"Kustomizations that modules render and those of the cluster entry points that polc.yaml " +
		"spec.clusters lists; entries are compared by name, whatever their namespace. " +
		"`polc compile --flux DIR` writes these Kustomizations from the metadata, so the lists never drift.",
	Remediation:    "Add the missing Kustomizations to spec.dependsOn, or regenerate the cluster entry point with `polc compile --flux DIR`.",
	Kinds:          []string{flux.Kind},
	CheckObject:    checkFluxDependsOn,
	Policy:         policyFluxDependsOn,
	ClusterObjects: true,
}

func checkFluxDependsOn(r *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	if o.Ref.Group() != flux.Group {
		return nil
	}
	target := flux.ModuleOf(r, o.Ref.Name)
	if target == nil {
		return nil
	}
	want := flux.DependsOn(r, target)
	if len(want) == 0 {
		return nil
	}
	field := "spec.dependsOn"
	list, err := o.Node.Pipe(yaml.Lookup("spec", "dependsOn"))
	if err != nil || list == nil {
		field = "spec"
	}
	var got []string
	if list != nil {
		for _, e := range list.Content() {
			if e.Kind != yaml.MappingNode {
				continue
			}
			if n := yaml.NewRNode(e).Field("name"); n != nil && n.Value != nil {
				got = append(got, yaml.GetValue(n.Value))
			}
		}
	}
	var missing []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []rule.Violation{{Field: field, Message: fmt.Sprintf(
		"Flux Kustomization %s deploys module %s but spec.dependsOn lacks %s; expected it to include [%s], the Kustomizations of the module's hard dependencies, got [%s]",
		o.Ref.Name, target.Name(), strings.Join(missing, ", "), strings.Join(want, ", "), strings.Join(got, ", "))}}
}

// policyFluxDependsOn requires the Flux Kustomization named after the module to depend on the
// Kustomizations of its hard dependencies, whoever applies it.
func policyFluxDependsOn(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	want := flux.DependsOn(r, m)
	if len(want) == 0 {
		return nil
	}
	name := r.Config.FluxName(m)
	ks := func(deps []string) map[string]any {
		meta := example.Meta(r, m, name, false, nil)
		meta["namespace"] = "flux-system"
		var list []any
		for _, d := range deps {
			list = append(list, map[string]any{"name": d})
		}
		spec := map[string]any{"path": "./" + m.Dir, "interval": "10m", "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}}
		if len(list) > 0 {
			spec["dependsOn"] = list
		}
		return map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": meta, "spec": spec}
	}
	// Kyverno's AnyNotIn would read * and ? in the object's dependsOn names as wildcards (a name of
	// * would stand for every Kustomization): JMESPath's contains compares them literally, for each
	// name the module's Kustomization must depend on.
	return []rule.PolicyRule{{
		Name:     "dependson",
		Kinds:    []rule.Kind{rule.FluxKustomizationKind},
		Lookup:   rule.ByFluxName,
		Data:     map[string]any{"dependsOn": want},
		Message:  "the Flux Kustomization of a module has spec.dependsOn including the Kustomizations of the modules it depends on",
		DenyEach: rule.ModuleJMES + ".dependsOn",
		Deny:     []rule.Condition{{Key: "{{ contains(request.object.spec.dependsOn[].name || `[]`, element) }}", Operator: "Equals", Value: false}},
		CEL:      []string{rule.ModuleCEL + `.dependsOn.all(w, object.?spec.?dependsOn.orValue([]).exists(d, d.?name.orValue("") == w))`},
		Pass:     []map[string]any{ks(want)},
		Fail:     []map[string]any{ks(nil)},
	}}
}
