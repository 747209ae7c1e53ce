package check

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
)

// TestOneModuleSeesOtherModulesSources checks one module, as the pre-commit hook does, whose
// HelmRelease reads its values from a ConfigMap of another module: the other module is rendered
// for the lookup, so the chart still renders with those values, and nothing else of it is checked.
func TestOneModuleSeesOtherModulesSources(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "tests", "testdata", "repos", "good-helm-charts"))))
	media := filepath.Join(root, "modules", "apps", "media")
	platform := filepath.Join(root, "modules", "infrastructure", "platform-core")
	// Move the values ConfigMap into platform-core (in the media namespace, as the HelmRelease reads it).
	values := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: echo-values\n  namespace: media\ndata:\n  values.yaml: |\n    timezone: Asia/Tokyo\n  domain: example.net\n"
	require.NoError(t, os.WriteFile(filepath.Join(platform, "echo-values.yaml"), []byte(values), 0o644))
	k, err := os.ReadFile(filepath.Join(platform, "kustomization.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(platform, "kustomization.yaml"), append(k, []byte("  - echo-values.yaml\n")...), 0o644))
	hr, err := os.ReadFile(filepath.Join(media, "helmrelease.yaml"))
	require.NoError(t, err)
	i := strings.Index(string(hr), "---\napiVersion: v1\nkind: ConfigMap")
	require.Positive(t, i)
	require.NoError(t, os.WriteFile(filepath.Join(media, "helmrelease.yaml"), hr[:i], 0o644))

	res, err := Run(context.Background(), Options{Root: root, Rules: builtin.All(), Modules: []string{"media"}})
	require.NoError(t, err)
	require.Empty(t, res.Repo.Gaps)
	var env []string
	for _, o := range res.Repo.Objects["media"] {
		if o.Origin.Kind == manifest.FromHelm && o.Ref.Kind == "Deployment" {
			for _, e := range []string{"TZ", "PUBLIC_URL"} {
				env = append(env, e+"="+manifest.String(o.Node, "spec", "template", "spec", "containers", "[name=echo]", "env", "[name="+e+"]", "value"))
			}
		}
	}
	require.Equal(t, []string{"TZ=Asia/Tokyo", "PUBLIC_URL=https://echo.example.net"}, env)
	require.Nil(t, res.Repo.Objects["platform-core"], "the other module is rendered for lookups only")
	for _, f := range res.Findings {
		require.NotEqual(t, rule.RenderRule, f.Rule, f.Message)
	}
}
