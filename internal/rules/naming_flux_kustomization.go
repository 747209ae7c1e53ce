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
