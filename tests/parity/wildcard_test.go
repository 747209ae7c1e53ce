package parity

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestWildcardValues sends objects whose compared values hold Kyverno wildcards (* and ?) through
// the offline checks and `kyverno apply` of both compiled targets: a dependsOn entry named "*",
// namespaces "*" and "medi?", an apiVersion "rbac*". Kyverno's AnyIn and AnyNotIn read such values
// as patterns, so the compiled policies must never pass an object's value to them; any
// disagreement fails.
func TestWildcardValues(t *testing.T) {
	bin := kyvernoBin(t)
	repo, _, err := check.Load(filepath.Join("..", "testdata", "repos", "bad-deps-flux-dependson"), builtin.All())
	require.NoError(t, err)
	check.Render(context.Background(), repo)
	docs := []string{
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps-media\n  namespace: media\nspec:\n  interval: 10m\n  path: ./nothing\n  dependsOn:\n    - name: \"*\"\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-star\n  namespace: \"*\"\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-q\n  namespace: \"medi?\"\n",
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"medi?\"\n",
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"m*\"\n",
		"apiVersion: \"rbac*\"\nkind: ClusterRole\nmetadata:\n  name: cr-wild\nrules: []\n",
	}
	for _, d := range docs {
		n, err := yaml.Parse(d)
		require.NoError(t, err)
		repo.Objects["media"] = append(repo.Objects["media"], &manifest.Object{Node: n, Module: "media", Ref: manifest.RefOf(n), Source: n})
	}
	for _, target := range targets {
		t.Run(string(target), func(t *testing.T) {
			tot := newTotals()
			compare(t, bin, input{name: "wildcards", repo: repo}, target, tot)
			for _, d := range tot.disagreements {
				t.Error(d)
			}
		})
	}
}
