package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// gitRepo generates a small repository in a temp dir and commits it.
func gitRepo(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, testutil.GenerateRepo(dir, 40))
	testutil.GitCommitAll(t, dir)
	return dir
}

func appendTo(t *testing.T, file, text string) {
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(text)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestChangedSince checks only changed modules and their dependents.
func TestChangedSince(t *testing.T) {
	dir := gitRepo(t)
	res := Polc(t, dir, "check", "--changed-since", "HEAD")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "0 modules, 0 objects")

	appendTo(t, filepath.Join(dir, "modules/apps/app005/config.yaml"), "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unlabelled\n  namespace: other\n")
	res = Polc(t, dir, "check", "--changed-since", "HEAD")
	require.Equal(t, 1, res.Code, res.Stdout)
	require.Contains(t, res.Stdout, "1 module, 26 objects")
	require.Contains(t, res.Stdout, "modules/apps/app005/config.yaml")

	// A core module's change reaches every module that depends on it.
	appendTo(t, filepath.Join(dir, "modules/infrastructure/area020-core/CHANGELOG.md"), "\n")
	res = Polc(t, dir, "check", "--changed-since", "HEAD", "--format", "json")
	require.Contains(t, res.Stdout, `"modules": 21`)

	// The pre-commit form: file arguments.
	res = Polc(t, dir, "check", "--files", "modules/apps/app007/workload.yaml")
	require.Equal(t, 0, res.Code, res.Stdout)
	require.Contains(t, res.Stdout, "1 module, 25 objects")

	res = Polc(t, dir, "check", "--changed-since", "no-such-rev")
	require.Equal(t, 2, res.Code)
	require.Contains(t, res.Stderr, "no-such-rev")
}

// TestChangedClusterEntryPoint: a change in a cluster entry point alone checks that entry point's
// Flux Kustomizations (deps/flux-dependson), and not the other entry points'.
func TestChangedClusterEntryPoint(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", "bad-deps-flux-dependson"))))
	res := Polc(t, dir, "check", "--files", "clusters/home/apps.yaml")
	require.Equal(t, 1, res.Code, res.Stdout+res.Stderr)
	require.Contains(t, res.Stdout, "clusters/home/apps.yaml:16:5: error deps/flux-dependson")
	require.Contains(t, res.Stdout, "clusters/home/infrastructure.yaml")
	require.NotContains(t, res.Stdout, "clusters/lab/")
	require.Contains(t, res.Stdout, "0 modules, 0 objects: 2 errors")

	res = Polc(t, dir, "check", "--files", "README.md")
	require.Equal(t, 0, res.Code, res.Stdout)
	require.Contains(t, res.Stdout, "0 modules, 0 objects: 0 errors")
}

// TestChangedPolicySelectsEveryModule: a change that only adds a Rego policy selects every module,
// as a polc.yaml change does, in both the --changed-since and the pre-commit form; the policy's
// findings are reported as a full check reports them.
func TestChangedPolicySelectsEveryModule(t *testing.T) {
	dir := gitRepo(t)
	policy := "package main\n\ndeny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\tmsg := \"no ConfigMaps\"\n}\n"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "policy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "policy", "x.rego"), []byte(policy), 0o644))
	full := Polc(t, dir, "check", "--format", "json")
	require.Equal(t, 1, full.Code, full.Stderr)

	res := Polc(t, dir, "check", "--changed-since", "HEAD", "--format", "json")
	require.Equal(t, 1, res.Code, res.Stderr)
	require.Equal(t, full.Stdout, res.Stdout)

	res = Polc(t, dir, "check", "--format", "json", "--files", "--", "policy/x.rego")
	require.Equal(t, 1, res.Code, res.Stderr)
	require.Equal(t, full.Stdout, res.Stdout)
}
