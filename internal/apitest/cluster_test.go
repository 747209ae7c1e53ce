package apitest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/manifest"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestBody sends objects as Flux applies them: with the run label, the Flux Kustomization's
// name label (which Kyverno policies find the module by) and the namespace the mapping chose.
func TestBody(t *testing.T) {
	tests := []struct {
		name, doc, ns, flux string
		want                map[string]any
	}{
		{"labels added to existing ones",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    polc.dev/module: app\n", "app", "apps-app",
			map[string]any{"name": "c", "namespace": "app", "labels": map[string]any{
				"polc.dev/module": "app", RunLabel: "r1", "kustomize.toolkit.fluxcd.io/name": "apps-app"}}},
		{"cluster-scoped, no labels before", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n", "", "apps-app",
			map[string]any{"name": "app", "labels": map[string]any{RunLabel: "r1", "kustomize.toolkit.fluxcd.io/name": "apps-app"}}},
		{"no Flux name", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n", "", "",
			map[string]any{"name": "app", "labels": map[string]any{RunLabel: "r1"}}},
	}
	r := &run{c: &Cluster{opt: Options{RunID: "r1"}}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := yaml.Parse(tc.doc)
			require.NoError(t, err)
			b, err := r.body(&manifest.Object{Node: n}, tc.ns, tc.flux)
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got))
			assert.Equal(t, tc.want, got["metadata"])
		})
	}
}
