package check

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// clusterRepo has two modules, media and net-core, and two cluster entry points: one rendered as
// a kustomization, one read file by file.
var clusterRepo = map[string]string{
	"polc.yaml":                                          "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  clusters: [clusters/kust, ./clusters/plain/]\n",
	"modules/apps/media/module.yaml":                     "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: media\nspec:\n  type: application\n  version: 1.0.0\n",
	"modules/apps/media/kustomization.yaml":              "resources: []\n",
	"modules/infrastructure/net-core/module.yaml":        "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: net-core\nspec:\n  type: infrastructure\n  tier: core\n  version: 1.0.0\n",
	"modules/infrastructure/net-core/kustomization.yaml": "resources: []\n",
	"clusters/kust/kustomization.yaml":                   "resources: [media.yaml]\n",
	"clusters/kust/media.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps-media
  namespace: flux-system
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
`,
	"clusters/plain/a.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra-net-core
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
---
apiVersion: example.com/v1
kind: Kustomization
metadata:
  name: apps-media
`,
	"clusters/plain/notes.txt":               "not: [yaml\n",
	"clusters/plain/sub/b.yaml":              "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps-media\n",
	"clusters/plain/ignored.yml":             "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps-media\n",
	"clusters/broken/bad.yaml":               "a: [\n",
	"clusters/not-a-dir.yaml":                "a: b\n",
	"clusters/unresolved/k.yaml":             "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: infra-${missing}\n",
	"clusters/unresolved/kustomization.yaml": "resources: [k.yaml]\n",
}

// clusterRules are a rule that checks cluster objects (and reports each Kustomization it is
// given with its module) and a rule that does not (and reports every ConfigMap).
var clusterRules = []rule.Rule{
	{ID: "test/cluster", Title: "test", Severity: rule.Error, Scope: rule.ResourceScope, Remediation: "Fix it.",
		Kinds: []string{"Kustomization"}, ClusterObjects: true,
		CheckObject: func(_ *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
			return []rule.Violation{{Message: o.Ref.Name + " of " + m.Name(), Field: "metadata.name"}}
		}},
	kindRule("test/configmap", "ConfigMap", rule.Error),
}

func TestRunClusters(t *testing.T) {
	type row struct{ rule, module, at, msg string }
	tests := []struct {
		name     string
		clusters string
		modules  []string
		rules    []rule.Rule
		want     []row
		wantErr  string
	}{
		{
			name: "Kustomizations of modules, rendered or read, and nothing else",
			want: []row{
				{rule: "test/cluster", module: "media", at: "clusters/kust/media.yaml:4:9", msg: "apps-media of media"},
				{rule: "test/cluster", module: "net-core", at: "clusters/plain/a.yaml:9:9", msg: "infra-net-core of net-core"},
			},
		},
		{
			name:    "only the selected modules",
			modules: []string{"net-core"},
			want:    []row{{rule: "test/cluster", module: "net-core", at: "clusters/plain/a.yaml:9:9", msg: "infra-net-core of net-core"}},
		},
		{
			name:  "no rule checks cluster objects",
			rules: clusterRules[1:],
		},
		{
			name:     "an entry point that does not parse",
			clusters: "[clusters/broken]",
			want: []row{{rule: "test/cluster", at: "clusters/broken/bad.yaml:1:1",
				msg: "cluster entry point clusters/broken cannot be read, so some of its Flux Kustomizations may go unchecked: invalid YAML: did not find expected node content"}},
		},
		{
			name:     "an entry point with variables without value",
			clusters: "[clusters/unresolved]",
			want: []row{
				{rule: "test/cluster", at: "clusters/unresolved/kustomization.yaml",
					msg: "cluster entry point clusters/unresolved cannot be read, so some of its Flux Kustomizations may go unchecked: variables without a value or default (set them in polc.yaml spec.substitute): ${missing} in Kustomization/infra-"},
			},
		},
		{name: "a missing directory", clusters: "[clusters/nope]", wantErr: "polc.yaml:4:14: spec.clusters[0]: cluster entry point: read clusters/nope: no such file or directory"},
		{name: "a file", clusters: "[clusters/not-a-dir.yaml]", wantErr: `polc.yaml:4:14: spec.clusters[0]: cluster entry point "clusters/not-a-dir.yaml" is not a directory`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range clusterRepo {
				files[k] = v
			}
			if tc.clusters != "" {
				files["polc.yaml"] = "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  clusters: " + tc.clusters + "\n"
			}
			rules := tc.rules
			if rules == nil {
				rules = clusterRules
			}
			res, err := Run(context.Background(), Options{Root: writeRepo(t, files), Modules: tc.modules, Rules: rules})
			if tc.wantErr != "" {
				var ce *ConfigError
				require.True(t, errors.As(err, &ce), "a configuration error: %v", err)
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			var got []row
			for _, f := range res.Findings {
				got = append(got, row{rule: f.Rule, module: f.Module, at: f.Pos.String(), msg: f.Message})
			}
			require.Equal(t, tc.want, got)
		})
	}
}
