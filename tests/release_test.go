package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReleaseConfigCheck: `polc release config --check` exits 1 on a repository whose release
// files drifted from the metadata, naming each differing file and its first differing line and
// writing nothing; `polc release config` rewrites them (keeping the settings polc does not own);
// then --check passes, and so does rule versions/release-config.
func TestReleaseConfigCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", "bad-versions-release-config"))))
	before := snapshot(t, dir)

	res := Polc(t, dir, "release", "config", "--check")
	require.Equal(t, 1, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "the release files are out of date; run `polc release config`")
	require.Contains(t, res.Stdout, "stale release-please-config.json:3\n")
	require.Contains(t, res.Stdout, "stale .release-please-manifest.json:2\n")
	require.Contains(t, res.Stdout, "stale .commitlint-scopes.json:1\n")
	require.Contains(t, res.Stdout, "missing renovate/polc-modules.json")
	require.Equal(t, before, snapshot(t, dir), "--check wrote into the repository")

	res = Polc(t, dir, "release", "config")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "wrote renovate/polc-modules.json")
	require.Contains(t, res.Stdout, "(4 files, 4 changed)")
	cfg, err := os.ReadFile(filepath.Join(dir, "release-please-config.json"))
	require.NoError(t, err)
	require.Contains(t, string(cfg), `"sentence-case"`)
	require.Contains(t, string(cfg), `"tools/cli"`)
	require.NotContains(t, string(cfg), `"modules/apps/old"`)

	res = Polc(t, dir, "release", "config", "--check")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "the release files are up to date (4 files)")
	res = Polc(t, dir, "release", "config")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "(4 files, 0 changed)")
	res = Polc(t, dir, "check")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.NotContains(t, res.Stdout, "versions/release-config")

	// A metadata change makes both the check and the rule fail, at the drifted line.
	mod := filepath.Join(dir, "modules", "apps", "media", "module.yaml")
	data, err := os.ReadFile(mod)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mod, []byte(strings.Replace(string(data), "version: 1.0.0", "version: 1.1.0", 1)), 0o644))
	cl := filepath.Join(dir, "modules", "apps", "media", "CHANGELOG.md")
	data, err = os.ReadFile(cl)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cl, []byte(strings.Replace(string(data), "## ", "## [1.1.0] - 2025-02-01\n\n- x\n\n## ", 1)), 0o644))
	res = Polc(t, dir, "release", "config", "--check")
	require.Equal(t, 1, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "stale .release-please-manifest.json:")
	require.Contains(t, res.Stdout, `have: "modules/apps/media": "1.0.0",`)
	require.Contains(t, res.Stdout, `want: "modules/apps/media": "1.1.0",`)
	res = Polc(t, dir, "check")
	require.Equal(t, 1, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, `.release-please-manifest.json:2:3: error versions/release-config: "modules/apps/media" is "1.0.0"; expected "1.1.0"`)
}
