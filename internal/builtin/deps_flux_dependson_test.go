package builtin

import (
	"strings"
	"testing"
)

func TestDepsFluxDependsOn(t *testing.T) {
	// fluxKs is a Flux Kustomization; deps become its spec.dependsOn (line 12 onwards) when given.
	fluxKs := func(apiVersion, name string, deps ...string) string {
		s := "apiVersion: " + apiVersion + "\nkind: Kustomization\nmetadata:\n  name: " + name + "\n  namespace: flux-system\n" +
			"spec:\n  interval: 10m\n  path: ./somewhere\n  prune: true\n  sourceRef: {kind: GitRepository, name: platform}\n"
		if len(deps) > 0 {
			s += "  dependsOn:\n"
			for _, d := range deps {
				s += "    - name: " + d + "\n"
			}
		}
		return s
	}
	const v1 = "kustomize.toolkit.fluxcd.io/v1"
	// platform-core renders the Flux Kustomizations under test; media hard-depends on it and on
	// storage-core, softly on observability-core.
	platform := func(docs ...string) testFiles {
		return testModule("modules/infrastructure/platform-core", "infrastructure", testFiles{"flux.yaml": strings.Join(docs, "---\n")},
			"tier: core", "namespaces:", "  - name: flux-system")
	}
	repo := func(docs ...string) testFiles {
		return platform(docs...).with(
			testModule("modules/apps/media", "application", testFiles{"namespace.yaml": namespaceYAML("media")},
				"namespaces:", "  - name: media", "dependsOn: [storage-core, platform-core]", "softDependsOn: [observability-core]")).with(
			testModule("modules/infrastructure/storage-core", "infrastructure", nil, "tier: core")).with(
			testModule("modules/infrastructure/observability-core", "infrastructure", nil, "tier: core"))
	}
	runRuleCases(t, DepsFluxDependsOn, []ruleCase{
		{
			name:  "covers the hard dependencies, in any order, with extra entries",
			files: repo(fluxKs(v1, "apps-media", "infra-storage-core", "infra-observability-core", "infra-platform-core")),
		},
		{
			name:  "a module without hard dependencies needs no dependsOn",
			files: repo(fluxKs(v1, "infra-storage-core")),
		},
		{
			name:  "Kustomizations of no module are not checked",
			files: repo(fluxKs(v1, "media"), fluxKs(v1, "apps-media-config"), fluxKs("kustomize.example.com/v1", "apps-media")),
		},
		{
			name:  "a missing dependency",
			files: repo(fluxKs(v1, "apps-media", "infra-platform-core", "infra-observability-core")),
			want: []string{"modules/infrastructure/platform-core/flux.yaml:12: Flux Kustomization apps-media deploys module media but spec.dependsOn lacks infra-storage-core; " +
				"expected it to include [infra-platform-core, infra-storage-core], the Kustomizations of the module's hard dependencies, got [infra-platform-core, infra-observability-core]"},
		},
		{
			name:  "no dependsOn at all, in an older API version",
			files: repo(fluxKs(v1, "infra-platform-core"), fluxKs("kustomize.toolkit.fluxcd.io/v1beta2", "apps-media")),
			want:  []string{"modules/infrastructure/platform-core/flux.yaml:18: Flux Kustomization apps-media deploys module media but spec.dependsOn lacks infra-platform-core, infra-storage-core; expected it to include [infra-platform-core, infra-storage-core], the Kustomizations of the module's hard dependencies, got []"},
		},
		{
			name:  "bare module names are not the Kustomizations' names",
			files: repo(fluxKs(v1, "apps-media", "platform-core", "storage-core")),
			want:  []string{"lacks infra-platform-core, infra-storage-core;"},
		},
	})
}
