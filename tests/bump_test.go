package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// commit commits every change in dir.
func commit(t *testing.T, dir, msg string) {
	t.Helper()
	for _, args := range [][]string{{"add", "-A"}, {"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", msg}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
}

// TestVersionsBumpCLI: a committed object change without a version bump fails
// `polc check --changed-since HEAD~1` with a versions/bump finding at module.yaml spec.version;
// a formatting-only change, and a change with a bump and a CHANGELOG heading, pass.
func TestVersionsBumpCLI(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, testutil.GenerateRepo(dir, 3))
	testutil.GitCommitAll(t, dir)
	mod := filepath.Join(dir, "modules/apps/app001")

	// Formatting only: a comment and the resources in another order.
	testutil.WriteFiles(t, mod, map[string]string{"kustomization.yaml": "# app001\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n  - pairs: {polc.dev/module: app001, polc.dev/module-type: application}\nresources: [config.yaml, workload.yaml, namespace.yaml]\n"})
	commit(t, dir, "reformat")
	res := Polc(t, dir, "check", "--changed-since", "HEAD~1")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.NotContains(t, res.Stdout, "versions/bump")

	// An object change without a bump.
	appendTo(t, filepath.Join(mod, "config.yaml"), "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: app001\n")
	commit(t, dir, "add a ConfigMap")
	res = Polc(t, dir, "check", "--changed-since", "HEAD~1")
	require.Equal(t, 1, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "modules/apps/app001/module.yaml:7:12")
	require.Contains(t, res.Stdout, "versions/bump")
	require.Contains(t, res.Stdout, "the rendered objects changed since HEAD~1 (added ConfigMap/app001/extra) but spec.version is 1.0.0, not higher than 1.0.0 at HEAD~1")
	require.Contains(t, res.Stdout, "polc release bump MODULE")

	// The bump, with its CHANGELOG heading.
	data, err := os.ReadFile(filepath.Join(mod, "module.yaml"))
	require.NoError(t, err)
	testutil.WriteFiles(t, mod, map[string]string{
		"module.yaml":  strings.Replace(string(data), "version: 1.0.0", "version: 1.1.0", 1),
		"CHANGELOG.md": "# Changelog\n\n## 1.1.0\n\n- Extra ConfigMap.\n\n## 1.0.0\n\n- Generated.\n",
	})
	res = Polc(t, dir, "check", "--changed-since", "HEAD~1")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
}
