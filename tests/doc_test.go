package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocCheckOwnRepository runs the polc-doc-check hook's command on this repository: the
// committed docs/modules must be up to date.
func TestDocCheckOwnRepository(t *testing.T) {
	res := Polc(t, "..", "doc", "--check")
	require.Equal(t, 0, res.Code, "%s\n%s", res.Stdout, res.Stderr)
	require.Contains(t, res.Stdout, "is up to date")
}

// TestDoc writes the docs of a small repository, checks them, makes them stale, missing and
// extra, and checks that polc doc writes only under its output directory.
func TestDoc(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../internal/docgen/testdata/repo")))
	docs := filepath.Join(dir, "docs", "modules")

	res := Polc(t, dir, "doc", "--check")
	require.Equal(t, 1, res.Code, res.Stdout)
	require.Contains(t, res.Stdout, docs+" is out of date; run `polc doc`. Differing files:\n  missing README.md\n")
	_, err := os.Stat(docs)
	require.True(t, os.IsNotExist(err), "--check wrote files")

	before := snapshot(t, dir)
	res = Polc(t, dir, "doc")
	require.Equal(t, 0, res.Code, res.Stderr)
	after := snapshot(t, dir)
	for p := range after {
		if before[p] != after[p] {
			require.True(t, p == docs || strings.HasPrefix(p, docs+string(filepath.Separator)) || p == filepath.Dir(docs) || p == dir,
				"polc doc wrote %s outside %s", p, docs)
		}
	}
	for _, name := range []string{"README.md", "media.md", "sso.md", "storage-core.md"} {
		want, err := os.ReadFile(filepath.Join("../internal/docgen/testdata/golden", name))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(docs, name))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), name)
	}
	res = Polc(t, dir, "doc", "--check")
	require.Equal(t, 0, res.Code, res.Stdout)

	// A version bump makes a page and the catalog stale; a removed module leaves an extra page.
	meta := filepath.Join(dir, "modules", "apps", "media", "module.yaml")
	data, err := os.ReadFile(meta)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(meta, []byte(strings.Replace(string(data), "version: 1.0.0", "version: 1.1.0", 1)), 0o644))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "modules", "components", "sso")))
	res = Polc(t, dir, "doc", "--check")
	require.Equal(t, 1, res.Code, res.Stdout)
	for _, line := range []string{"  stale README.md\n", "  stale media.md\n", "  extra sso.md\n"} {
		require.Contains(t, res.Stdout, line)
	}
	require.NotContains(t, res.Stdout, "storage-core.md")

	res = Polc(t, dir, "doc", "--out", "elsewhere")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.FileExists(t, filepath.Join(dir, "elsewhere", "media.md"))

	res = Polc(t, dir, "doc")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "removed sso.md (generated, no longer produced)")
	require.NoFileExists(t, filepath.Join(docs, "sso.md"))
	res = Polc(t, dir, "doc", "--check")
	require.Equal(t, 0, res.Code, res.Stdout)
}
