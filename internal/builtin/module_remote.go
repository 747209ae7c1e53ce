package builtin

import (
	"polc.dev/polc/internal/rule"
)

// ModuleRemote is reported by the renderer for each remote reference of a
// kustomization that polc does not fetch.
var ModuleRemote = rule.Rule{
	ID:       rule.RemoteRule,
	Title:    "Kustomizations reference only content in the repository",
	Severity: rule.Warning,
	Scope:    rule.ModuleScope,
	Doc: "polc renders hermetically: it never fetches a URL or clones a git repository named in a kustomization " +
		"(resources, bases, components, crds, patches, configurations, transformers, generators, openapi, " +
		"configMapGenerator and secretGenerator files, in any scheme and in kustomize's github.com/org/repo//path?ref= " +
		"form), because a pull request controls those values. Each remote entry is dropped from an in-memory copy of " +
		"the kustomization and reported here at its file and line; the rest of the module renders and is checked. What " +
		"the remote entry would add is checked only in the cluster, by the compiled policies.",
	Remediation: "Vendor the remote content into the repository (or into a module it depends on), or accept the gap with a module exception for module/remote.",
}
