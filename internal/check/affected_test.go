package check

import (
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

func TestAffectedModulesOverlaysAndFluxPaths(t *testing.T) {
	mod := func(name string) string {
		return "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + name + "\nspec:\n  type: application\n  version: 1.0.0\n"
	}
	root := testutil.WriteRepo(t, map[string]string{
		"polc.yaml":                             "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modules: [apps/production, apps/staging, other]\n  exclude: [ci/**]\n  clusters: [clusters/home]\n",
		"apps/base/podinfo/kustomization.yaml":  "resources: [deployment.yaml]\n",
		"apps/base/podinfo/deployment.yaml":     "apiVersion: apps/v1\nkind: Deployment\n",
		"apps/production/module.yaml":           mod("podinfo-production"),
		"apps/production/kustomization.yaml":    "resources: [../base/podinfo, https://example.com/x.yaml, ../../../outside]\n",
		"apps/staging/module.yaml":              mod("podinfo-staging"),
		"apps/staging/kustomization.yaml":       "resources:\n- ../base/podinfo\n",
		"other/module.yaml":                     mod("other"),
		"other/kustomization.yaml":              "resources: []\n",
		"deploy/extra/app.yaml":                 "apiVersion: v1\nkind: ConfigMap\n",
		"ci/test/app.yaml":                      "apiVersion: v1\nkind: ConfigMap\n",
		"clusters/home/apps.yaml":               "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n",
		".github/workflows/ci.yaml":             "on: push\n",
		"docs/notes.md":                         "# notes\n",
		"apps/base/podinfo/README.md":           "# podinfo\n",
		"policies/polc-labels-module.yaml":      "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\n",
		"renovate.yaml":                         "extends: []\n",
		"apps/base/unused/kustomization.yaml":   "resources: []\n",
		"apps/base/unused/configmap.yaml":       "apiVersion: v1\nkind: ConfigMap\n",
		"apps/production/patches/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\n",
	})
	repo, findings, err := Load(root, nil)
	require.NoError(t, err)
	require.Empty(t, findings)
	all := []string{"other", "podinfo-production", "podinfo-staging"}
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"apps/base/podinfo/deployment.yaml", []string{"podinfo-production", "podinfo-staging"}},
		{"apps/base/podinfo/README.md", []string{"podinfo-production", "podinfo-staging"}},
		{"apps/production/patches/replicas.yaml", []string{"podinfo-production"}},
		{"deploy/extra/app.yaml", all},           // a manifest no module reaches: a Flux path may deploy it
		{"apps/base/unused/configmap.yaml", all}, // likewise
		{"ci/test/app.yaml", nil},                // excluded
		{"clusters/home/apps.yaml", nil},         // a cluster entry point, checked on its own
		{".github/workflows/ci.yaml", nil},
		{"docs/notes.md", nil},
		{"policies/polc-labels-module.yaml", nil},
		{"renovate.yaml", nil}, // YAML, not a manifest
		{"polc.yaml", all},
	} {
		got := AffectedModules(repo, []string{tc.file})
		if len(tc.want) == 0 {
			require.Empty(t, got, tc.file)
			continue
		}
		require.Equal(t, tc.want, got, tc.file)
	}
}
