package parity

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// fluxPathCases are Flux Kustomizations whose spec.path and name a ClusterPolicy could misread:
// Kyverno's condition operators take * and ? as wildcards (AnyIn on both sides), where polc's
// offline check and the CEL compare literally. Each is {name, spec.path as raw YAML}.
var fluxPathCases = [][2]string{
	{"wild-star", `"*"`},
	{"wild-question", `"?"`},
	{"wild-star-star", `"*/*"`},
	{"wild-modules", `./modules/*`},
	{"wild-modules-bare", `modules/*`},
	{"wild-suffix", `"*media"`},
	{"wild-char-bare", `modules/apps/?edia`},
	{"wild-apps", `./modules/apps/*`},
	{"wild-char", `./modules/apps/?edia`},
	{"wild-infra", `modules/infrastructure/platform-*`},
	{"wild-trailing", `"./modules/apps/media*"`},
	{"wild-prefix-wrong-name", `"*/modules/apps/media"`},              // points at media: fails
	{"wild-dir-wrong-name", `./x*y/modules/apps/media`},               // points at media: fails
	{"apps-me?ia", `./modules/apps/media`},                            // a wildcard name is not the name
	{"apps-*", `./modules/apps/media`},                                // nor is *
	{"dot-suffix", `modules/apps/media/.`},                            // not cleaned: no module
	{"double-slash", `modules//apps/media`},                           // not cleaned: no module
	{"trailing-slash-wrong-name", `modules/apps/media/`},              // points at media: fails
	{"int-path", `5`},                                                 // not a string: no module
	{"null-path", `null`},                                             // not a string: no module
	{"empty-path", `""`},                                              // no module
	{"apps-deep-media", `./platform/modules/apps/media`},              // the deeper module, named for it
	{"apps-media", `./platform/modules/apps/media/`},                  // the deeper module, misnamed
	{"deep-wild", `./platform/modules/apps/*`},                        // no module
	{"infra-platform-core", `./modules/infrastructure/platform-core`}, // named for it
}

// TestFluxPathWildcards compares polc's offline naming/flux-kustomization verdict with both
// compiled targets on Flux Kustomizations whose spec.path or name holds Kyverno wildcards, is not
// a clean path or not a string, or points at a module whose directory ends with another's.
func TestFluxPathWildcards(t *testing.T) {
	bin := kyvernoBin(t)
	loaded, _, err := check.Load(filepath.Join("..", "testdata", "repos", "bad-naming-flux-kustomization"), builtin.All())
	require.NoError(t, err)
	check.Render(context.Background(), loaded)
	// A module whose directory ends with media's: paths pointing at it point at media's too, and
	// the longer directory wins.
	deep := &module.Module{APIVersion: module.APIVersion, Kind: "Module", Metadata: module.Metadata{Name: "deep-media"},
		Spec: module.ModuleSpec{Type: module.Application, Version: "1.0.0"}, Dir: "platform/modules/apps/media", File: "platform/modules/apps/media/module.yaml"}
	repo := rule.NewRepo(loaded.Root, loaded.Config, append(slices.Clone(loaded.Modules), deep))
	maps.Copy(repo.Objects, loaded.Objects)
	maps.Copy(repo.Rendered, loaded.Rendered)
	repo.Rendered[deep.Name()] = true
	platform := repo.ByName["platform-core"]
	require.NotNil(t, platform)
	var objs []*manifest.Object
	for _, c := range fluxPathCases {
		n, err := yaml.Parse("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + c[0] +
			"\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: " + c[1] + "\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: platform\n")
		require.NoError(t, err, c[0])
		objs = append(objs, &manifest.Object{Node: n, Module: platform.Name(), Ref: manifest.RefOf(n), Source: n})
	}
	for _, doc := range []string{"metadata:\n  name: no-path\n  namespace: flux-system\nspec:\n  interval: 10m\n",
		"metadata:\n  name: no-spec\n  namespace: flux-system\n"} {
		n, err := yaml.Parse("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n" + doc)
		require.NoError(t, err)
		objs = append(objs, &manifest.Object{Node: n, Module: platform.Name(), Ref: manifest.RefOf(n), Source: n})
	}
	repo.Objects[platform.Name()] = append(repo.Objects[platform.Name()], objs...)

	// The offline verdicts this test is about, so that it cannot pass by checking nothing.
	failing := map[string]bool{}
	for _, o := range objs {
		for _, f := range check.CheckObject(repo, platform, o, []rule.Rule{builtin.NamingFluxKustomization}) {
			failing[o.Ref.Name] = failing[o.Ref.Name] || f.Rule == builtin.NamingFluxKustomization.ID
		}
	}
	require.Equal(t, map[string]bool{"wild-prefix-wrong-name": true, "wild-dir-wrong-name": true, "apps-me?ia": true, "apps-*": true,
		"trailing-slash-wrong-name": true, "apps-media": true}, failing)

	for _, target := range targets {
		t.Run(string(target), func(t *testing.T) {
			tot := newTotals()
			compare(t, bin, input{name: "flux-path-wildcards", repo: repo}, target, tot)
			require.Equal(t, 1, tot.repos, "the repository compiles")
			c := tot.perRule[builtin.NamingFluxKustomization.ID]
			require.NotNil(t, c)
			require.GreaterOrEqual(t, c.failing+c.passing, len(objs))
			for _, d := range tot.disagreements {
				t.Error(d)
			}
		})
	}
}
