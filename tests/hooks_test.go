package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// hookEntry returns the entry of a hook of .pre-commit-hooks.yaml, split into arguments as
// pre-commit splits it (the entries hold no quotes).
func hookEntry(t *testing.T, id string) []string {
	t.Helper()
	data, err := os.ReadFile("../.pre-commit-hooks.yaml")
	require.NoError(t, err)
	var hooks []struct {
		ID            string `yaml:"id"`
		Entry         string `yaml:"entry"`
		PassFilenames bool   `yaml:"pass_filenames"`
	}
	require.NoError(t, yaml.Unmarshal(data, &hooks))
	for _, h := range hooks {
		if h.ID == id {
			require.True(t, h.PassFilenames)
			return strings.Fields(h.Entry)
		}
	}
	t.Fatalf("no hook %s in .pre-commit-hooks.yaml", id)
	return nil
}

// TestHookFileNamedLikeAFlag: a committed file named like a flag (--format=text=x.txt, which
// polc would otherwise read as "write a text report to x.txt") reaches the polc-check hook as a
// path. The hook is run as pre-commit runs it: its entry, then the file names.
func TestHookFileNamedLikeAFlag(t *testing.T) {
	entry := hookEntry(t, "polc-check")
	require.Equal(t, []string{"polc", "check", "--files", "--"}, entry)
	dir := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", "good-minimal"))))
	const name = "--format=text=x.txt"
	testutil.WriteFiles(t, dir, map[string]string{name: "x\n", "modules/apps/media/" + name: "x\n"})

	// At the root, the file belongs to no module: nothing is selected, nothing is written.
	res := Polc(t, dir, append(entry[1:], name)...)
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "0 modules, 0 objects")
	require.NoFileExists(t, filepath.Join(dir, "x.txt"))

	// In a module's directory, the file selects that module: it is read as a path.
	moduleDir := filepath.Join(dir, "modules/apps/media")
	res = Polc(t, moduleDir, "check", "--repo", "../../..", "--files", "--", name)
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "1 module,")
	require.NoFileExists(t, filepath.Join(moduleDir, "x.txt"))
	require.NoFileExists(t, filepath.Join(dir, "x.txt"))

	// Without "--", the same argument is the flag it looks like; that is why the hook has "--".
	res = Polc(t, dir, "check", "--files", name)
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.FileExists(t, filepath.Join(dir, "x.txt"))

	// Files before "--" and flags between them still work (polc check --files a b).
	res = Polc(t, dir, "check", "--files", "modules/apps/media/service.yaml", "--format", "json", "--", name)
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, `"modules": 1`)

	// An option after "--" that names no file (pre-commit args) is refused, not ignored.
	res = Polc(t, dir, append(entry[1:], "--fail-on", "warning", "modules/apps/media/service.yaml")...)
	require.Equal(t, 2, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stderr, `"--fail-on" follows -- but is not a file`)
}

// TestChangedSinceIsNotAnOption: --changed-since=--output=FILE is refused as a revision (exit
// 2) and git writes nothing; git diff --output=FILE would have overwritten FILE.
func TestChangedSinceIsNotAnOption(t *testing.T) {
	dir := gitRepo(t)
	target := filepath.Join(t.TempDir(), "overwritten")
	require.NoError(t, os.WriteFile(target, []byte("keep\n"), 0o600))
	for _, rev := range []string{"--output=" + target, "-p", "no-such-rev"} {
		res := Polc(t, dir, "check", "--changed-since="+rev)
		require.Equal(t, 2, res.Code, res.Stdout+res.Stderr)
		require.Contains(t, res.Stderr, `--changed-since "`+rev+`" is not a commit`)
		data, err := os.ReadFile(target)
		require.NoError(t, err)
		require.Equal(t, "keep\n", string(data))
	}
}

// TestChangedSinceNonASCIIName: a changed file whose name git would quote (non-ASCII) selects
// its module.
func TestChangedSinceNonASCIIName(t *testing.T) {
	dir := gitRepo(t)
	testutil.WriteFiles(t, dir, map[string]string{"modules/apps/app005/café ünïcode.yaml": "x: 1\n"})
	res := Polc(t, dir, "check", "--changed-since", "HEAD", "--format", "json")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, `"modules": 1`)
}
