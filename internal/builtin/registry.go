// Package builtin holds polc's built-in rules, one file per rule, and the registry that lists them.
package builtin

import (
	"sort"

	"polc.dev/polc/internal/rule"
)

// All returns every built-in rule, sorted by ID. Registration is explicit: a rule that is not
// listed here does not exist.
func All() []rule.Rule {
	all := []rule.Rule{
		CoverageUnrendered, ModuleMetadata,
		ModuleRender, ModuleRemote,
		LabelsModule,
		ModuleName, ModuleTier, ModuleExtraNeedsCore, ModuleFiles, ModuleVersion, DepsUnknown, DepsCycle, DepsDirection, DepsUndeclared, DepsNamespaceAnnotation, DepsFluxDependsOn, NamingNamespaceOwnership, NamingFluxKustomization, LabelsAppName,
		SecurityPodSecurity, SecurityNamespacePSA, SecurityImageTag, SecurityImageDigest, SecurityResources, SecurityClusterRBAC, VersionsChartPinned, VersionsReleaseConfig, VersionsBump, ExceptionsValid,
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}
