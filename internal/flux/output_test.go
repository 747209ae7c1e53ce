package flux

import (
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestKustomizationMarshals: the entry point's kustomization.yaml is marshalled, so hostile file
// names (Generate refuses them anyway) stay values of resources and add no key.
func TestKustomizationMarshals(t *testing.T) {
	tests := []struct {
		name      string
		resources []string
	}{
		{name: "plain", resources: []string{"a.yaml", "b.yaml"}},
		{name: "line break", resources: []string{"media.yaml\nnamePrefix: evil-", "x.yaml\nresources:\n  - https://evil.example/pack"}},
		{name: "YAML syntax", resources: []string{"- a", "b: c", "{d: e}", "'f'", "# g", "&h", "*i", "!!j"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := kustomization(tc.resources)
			require.NoError(t, err)
			require.Equal(t, "kustomization.yaml", f.Path)
			var got map[string]any
			require.NoError(t, yaml.Unmarshal(f.Data, &got))
			want := map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": []any{}}
			for _, r := range tc.resources {
				want["resources"] = append(want["resources"].([]any), r)
			}
			require.Equal(t, want, got)
		})
	}
}
