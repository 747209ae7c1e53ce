package kyvernotest

import (
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/manifest"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestWithLabelResolvesAliases(t *testing.T) {
	n := yaml.MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: &labels\n    app: x\ndata:\n  <<: *labels\n")
	doc, err := withLabel(&manifest.Object{Node: n}, "k", "v")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"app": "x", "k": "v"}, doc["metadata"].(map[string]any)["labels"])
	require.Equal(t, map[string]any{"app": "x"}, doc["data"], "the merged copy is not changed")
}
