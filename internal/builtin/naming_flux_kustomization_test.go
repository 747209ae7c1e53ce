package builtin

import (
	"polc.dev/polc/internal/flux"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// fluxPathRepo has media (modules/apps/media), deep-media (platform/modules/apps/media, whose
// directory ends with media's), platform-core and a component.
func fluxPathRepo() *rule.Repo {
	r := &rule.Repo{Config: module.DefaultConfig(), ByName: map[string]*module.Module{}}
	for _, m := range []*module.Module{
		{Metadata: module.Metadata{Name: "media"}, Spec: module.ModuleSpec{Type: module.Application}, Dir: "modules/apps/media"},
		{Metadata: module.Metadata{Name: "deep-media"}, Spec: module.ModuleSpec{Type: module.Application}, Dir: "platform/modules/apps/media"},
		{Metadata: module.Metadata{Name: "platform-core"}, Spec: module.ModuleSpec{Type: module.Infrastructure}, Dir: "modules/infrastructure/platform-core"},
		{Metadata: module.Metadata{Name: "shared"}, Spec: module.ModuleSpec{Type: module.Component}, Dir: "modules/components/shared"},
	} {
		r.Modules = append(r.Modules, m)
		r.ByName[m.Name()] = m
	}
	return r
}

// TestModuleAtPathIsLiteral: a Flux spec.path points at a module when it is the module's
// directory or ends with /<directory>, optionally with one trailing slash, compared literally as
// both compiled forms compare it: * and ? are characters, not wildcards, and the path is not
// cleaned. The longest directory wins.
func TestModuleAtPathIsLiteral(t *testing.T) {
	r := fluxPathRepo()
	for path, want := range map[string]string{
		"modules/apps/media":                     "media",
		"./modules/apps/media":                   "media",
		"modules/apps/media/":                    "media",
		"./modules/apps/media/":                  "media",
		"../modules/apps/media":                  "media",
		"/modules/apps/media":                    "media",
		"./clusters/../modules/apps/media":       "media",
		"*/modules/apps/media":                   "media", // * is a directory name here
		"./x*y?/modules/apps/media":              "media",
		"./platform/modules/apps/media":          "deep-media",
		"platform/modules/apps/media/":           "deep-media",
		"./modules/infrastructure/platform-core": "platform-core",
		"*":                                      "",
		"?":                                      "",
		"*/*":                                    "",
		"modules/*":                              "",
		"./modules/*":                            "",
		"modules/apps/*":                         "",
		"modules/apps/?edia":                     "",
		"modules/apps/media*":                    "",
		"*media":                                 "",
		"modules/infrastructure/platform-*":      "",
		"./platform/modules/apps/*":              "",
		"modules/apps/media/.":                   "",
		"modules//apps/media":                    "",
		"modules/apps/media//":                   "",
		"xmodules/apps/media":                    "",
		"modules/apps/media/extra":               "",
		"modules/components/shared":              "", // components deploy nothing on their own
		"":                                       "",
	} {
		got := ""
		if m := flux.ModuleAtPath(r, path); m != nil {
			got = m.Name()
		}
		require.Equal(t, want, got, "spec.path %q", path)
	}
}

// TestNamingFluxKustomizationHostilePaths runs the offline check on Flux Kustomizations whose
// spec.path holds wildcards, is not clean, or is not a string.
func TestNamingFluxKustomizationHostilePaths(t *testing.T) {
	ks := fluxKs
	runRuleCases(t, NamingFluxKustomization, []ruleCase{
		{
			name: "wildcards point at no module",
			files: media.with(platform(ks("a", `"*"`), ks("b", `"?"`), ks("c", `modules/*`), ks("d", `./modules/apps/?edia`),
				ks("e", `modules/infrastructure/platform-*`), ks("f", `"*media"`), ks("g", `modules/apps/media*`))),
		},
		{
			name:  "a wildcard before the directory is a directory name",
			files: media.with(platform(ks("a", `"*/modules/apps/media"`), ks("apps-media", `./x*/modules/apps/media`))),
			want:  []string{`flux.yaml:4: Flux Kustomization for module "media" is named "a"; expected "apps-media"`},
		},
		{
			name:  "a wildcard name is not the name",
			files: media.with(platform(ks("apps-me?ia", `./modules/apps/media`), ks("apps-*", `./modules/apps/media`))),
			want: []string{`flux.yaml:4: Flux Kustomization for module "media" is named "apps-me?ia"; expected "apps-media"`,
				`flux.yaml:17: Flux Kustomization for module "media" is named "apps-*"; expected "apps-media"`},
		},
		{
			name:  "paths are not cleaned",
			files: media.with(platform(ks("a", `modules/apps/media/.`), ks("b", `modules//apps/media`), ks("c", `./modules/apps/media/`))),
			want:  []string{`flux.yaml:30: Flux Kustomization for module "media" is named "c"; expected "apps-media"`},
		},
		{
			name:  "a path that is not a string points at no module",
			files: media.with(platform(ks("a", `5`), ks("b", `null`), ks("c", `[modules/apps/media]`), ks("d", `{a: b}`), ks("e", `""`))),
		},
	})
}

// TestPolicyFluxKustomizationIsLiteral: no value of the admitted object reaches a Kyverno
// condition operator, where * and ? are wildcards (AnyIn matches them on both sides) and
// durations and quantities compare by value: JMESPath compares the name with the module's Flux
// name literally and the operator only sees its boolean. Which module a spec.path points at is
// the module table's lookup (ByFluxPath, the longest directory), the same for every module;
// tests/parity/fluxpath_test.go runs it through Kyverno.
func TestPolicyFluxKustomizationIsLiteral(t *testing.T) {
	r := fluxPathRepo()
	for _, m := range r.Deployable() {
		prs := policyFluxKustomization(&rule.CompileContext{Repo: r, Module: m})
		require.Len(t, prs, 1)
		pr := prs[0]
		require.Equal(t, rule.ByFluxPath, pr.Lookup)
		require.Equal(t, map[string]any{"fluxName": r.Config.FluxName(m)}, pr.Data)
		require.Empty(t, pr.Preconditions)
		require.Len(t, pr.Deny, 1)
		require.Equal(t, rule.Condition{Key: "{{ request.object.metadata.name != module.fluxName }}", Operator: "Equals", Value: true}, pr.Deny[0])
		require.Equal(t, []string{"object.metadata.name == variables.module.fluxName"}, pr.CEL)
	}
}
