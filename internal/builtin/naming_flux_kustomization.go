package builtin

import (
	"fmt"
	"polc.dev/polc/internal/flux"

	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// fluxKustomizeGroup is the API group of Flux Kustomizations.
const fluxKustomizeGroup = "kustomize.toolkit.fluxcd.io"

// NamingFluxKustomization requires the Flux Kustomization that deploys a module to be named
// <prefix>-<module>.
var NamingFluxKustomization = rule.Rule{
	ID:       "naming/flux-kustomization",
	Title:    "Flux Kustomizations of modules are named <prefix>-<module>",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "A Flux Kustomization (kustomize.toolkit.fluxcd.io) whose spec.path points at a module " +
		"directory deploys that module, and is named after it: the prefix that polc.yaml " +
		"spec.fluxPrefixes gives the module's type, a dash, and the module name (infra-storage-core, " +
		"apps-media). Other Kustomizations refer to it by that name in their spec.dependsOn, and " +
		"polc derives those dependencies from the module graph, so a different name breaks ordering " +
		"silently. The path matches when, after removing a leading ./, it ends with the module's " +
		"directory.",
	Remediation: "Rename the Flux Kustomization to <prefix>-<module> as configured in polc.yaml spec.fluxPrefixes.",
	Kinds:       []string{"Kustomization"},
	CheckObject: checkFluxKustomization,
	Policy:      policyFluxKustomization,
}

func checkFluxKustomization(r *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	if o.Ref.Group() != fluxKustomizeGroup {
		return nil
	}
	p, err := o.Node.Pipe(yaml.Lookup("spec", "path"))
	if err != nil || p == nil || p.YNode().Kind != yaml.ScalarNode || p.YNode().ShortTag() != yaml.NodeTagString {
		return nil // Flux's schema makes spec.path a string; anything else points at no module
	}
	target := flux.ModuleAtPath(r, p.YNode().Value)
	if target == nil {
		return nil
	}
	if want := r.Config.FluxName(target); o.Ref.Name != want {
		return []rule.Violation{{Field: "metadata.name",
			Message: fmt.Sprintf("Flux Kustomization for module %q is named %q; expected %q", target.Name(), o.Ref.Name, want)}}
	}
	return nil
}

// policyFluxKustomization names every Flux Kustomization whose spec.path points at the module's
// directory <prefix>-<module>, whoever applies it.
//
// The ClusterPolicy form never hands the object's spec.path or name to a Kyverno condition
// operator: Equals, AnyIn and the others read * and ? as wildcards (AnyIn on both sides, so a
// spec.path of * would be "in" every module's list) and compare durations and quantities by
// value. JMESPath compares the strings literally, as the offline check and the CEL do, and only
// its boolean result reaches the operator.
func policyFluxKustomization(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	want := r.Config.FluxName(m)
	ks := func(name string) map[string]any {
		meta := example.Meta(r, m, name, false, nil)
		meta["namespace"] = "flux-system"
		return map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": meta,
			"spec": map[string]any{"path": "./" + m.Dir, "interval": "10m", "prune": true,
				"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}}}
	}
	return []rule.PolicyRule{{
		Name:    "name",
		Kinds:   []rule.Kind{rule.FluxKustomizationKind},
		Lookup:  rule.ByFluxPath,
		Data:    map[string]any{"fluxName": want},
		Message: "the Flux Kustomization whose spec.path points at a module's directory is named <prefix>-<module>",
		Deny:    []rule.Condition{{Key: "{{ request.object.metadata.name != " + rule.ModuleJMES + ".fluxName }}", Operator: "Equals", Value: true}},
		CEL:     []string{"object.metadata.name == " + rule.ModuleCEL + ".fluxName"},
		Pass:    []map[string]any{ks(want)},
		Fail:    []map[string]any{ks(m.Name())},
	}}
}
