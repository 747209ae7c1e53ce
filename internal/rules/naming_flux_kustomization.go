package rules

import (
	"fmt"
	"path"
	"strings"

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
	if err != nil || p == nil {
		return nil
	}
	target := moduleAtPath(r, yaml.GetValue(p))
	if target == nil {
		return nil
	}
	if want := r.Config.FluxName(target); o.Ref.Name != want {
		return []rule.Violation{{Field: "metadata.name",
			Message: fmt.Sprintf("Flux Kustomization for module %q is named %q; expected %q", target.Name(), o.Ref.Name, want)}}
	}
	return nil
}

// moduleAtPath returns the non-component module whose directory a Flux spec.path ends with (the
// longest match), or nil.
func moduleAtPath(r *rule.Repo, p string) *module.Module {
	p = path.Clean(strings.TrimPrefix(p, "./"))
	var best *module.Module
	for _, m := range r.Modules {
		if r.ByName[m.Name()] != m || m.Spec.Type == module.Component {
			continue
		}
		if (p == m.Dir || strings.HasSuffix(p, "/"+m.Dir)) && (best == nil || len(m.Dir) > len(best.Dir)) {
			best = m
		}
	}
	return best
}

// policyFluxKustomization names every Flux Kustomization whose spec.path is the module's
// directory <prefix>-<module>, whoever applies it.
func policyFluxKustomization(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	want := r.Config.FluxName(m)
	ks := func(name string) map[string]any {
		meta := rule.ExampleMeta(r, m, name, false, nil)
		meta["namespace"] = "flux-system"
		return map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": meta,
			"spec": map[string]any{"path": "./" + m.Dir, "interval": "10m", "prune": true,
				"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}}}
	}
	// Offline, the path matches after removing a leading ./ when it is the module directory or
	// ends with /<directory>; a trailing slash is ignored.
	paths := []any{m.Dir, m.Dir + "/", "*/" + m.Dir, "*/" + m.Dir + "/"}
	path := `object.spec.?path.orValue("")`
	return []rule.PolicyRule{{
		Name:          m.Name(),
		Kinds:         []rule.Kind{rule.FluxKustomizationKind},
		Preconditions: []rule.Condition{{Key: "{{ request.object.spec.path || '' }}", Operator: "AnyIn", Value: paths}},
		Message:       fmt.Sprintf("the Flux Kustomization of module %s (spec.path %s) is named %s", m.Name(), m.Dir, want),
		Deny:          []rule.Condition{{Key: "{{ request.object.metadata.name }}", Operator: "NotEquals", Value: want}},
		CEL: []string{fmt.Sprintf(`!(%s in [%q, %q] || %s.endsWith(%q) || %s.endsWith(%q)) || object.metadata.name == %q`,
			path, m.Dir, m.Dir+"/", path, "/"+m.Dir, path, "/"+m.Dir+"/", want)},
		Pass: []map[string]any{ks(want)},
		Fail: []map[string]any{ks(m.Name())},
	}}
}
