package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// TestPreCommitHook runs the polc-check hook of .pre-commit-hooks.yaml through pre-commit itself
// (`pre-commit try-repo`), which builds polc from this repository as a golang hook, on a good and on a
// bad testdata repository. .ci/run installs pre-commit; without it the test skips, or fails when CI is set.
func TestPreCommitHook(t *testing.T) {
	if _, err := exec.LookPath("pre-commit"); err != nil {
		testutil.SkipOrFail(t, "pre-commit is not installed, so the hook is not tested: install it with `apt-get install pre-commit` (or `pip install pre-commit`)")
	}
	polcRepo, err := filepath.Abs("..")
	require.NoError(t, err)
	home := t.TempDir()
	goEnv := func(key string) string {
		out, err := exec.Command("go", "env", key).Output()
		require.NoError(t, err)
		return strings.TrimSpace(string(out))
	}
	env := append(os.Environ(), "PRE_COMMIT_HOME="+filepath.Join(home, "pre-commit"),
		// Share the module and build caches so the hook's build does not download everything again.
		"GOMODCACHE="+goEnv("GOMODCACHE"), "GOCACHE="+goEnv("GOCACHE"), "GOFLAGS=-buildvcs=false")
	for _, tc := range []struct {
		repo string
		ok   bool
		want string
	}{
		{repo: "good-minimal", ok: true, want: "Passed"},
		{repo: "bad-labels-module", ok: false, want: "labels/module"},
	} {
		t.Run(tc.repo, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.repo)
			require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", tc.repo))))
			testutil.GitCommitAll(t, dir)
			cmd := exec.Command("pre-commit", "try-repo", polcRepo, "polc-check", "--all-files", "--verbose")
			cmd.Dir, cmd.Env = dir, env
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if tc.ok {
				require.NoError(t, err, out.String())
			} else {
				require.Error(t, err, out.String())
			}
			require.Contains(t, out.String(), tc.want)
		})
	}
}

// requirePreCommit skips the test when pre-commit is not installed, or fails it when CI is set.
func requirePreCommit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pre-commit"); err != nil {
		testutil.SkipOrFail(t, "pre-commit is not installed, so the hooks are not tested: install it with `apt-get install pre-commit` (or `pip install pre-commit`)")
	}
}

// TestPreCommitLocal follows the README: `make install` puts polc into GOBIN, and the README's
// repo: local .pre-commit-config.yaml runs it with pre-commit on a new repository. The hooks pass
// on a module made by polc new (with the policy pack and docs committed), and polc-check fails
// once the module loses its labels.
func TestPreCommitLocal(t *testing.T) {
	requirePreCommit(t)
	gobin := t.TempDir()
	cmd := exec.Command("make", "-C", "..", "install")
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "installed "+gobin+"/polc")
	require.FileExists(t, filepath.Join(gobin, "polc"))

	dir := freshRepo(t)
	for _, args := range [][]string{{"new", "module", "media", "--type", "application"}, {"compile"}, {"doc"}, {"release", "config"}} {
		res := Polc(t, dir, args...)
		require.Equal(t, 0, res.Code, "%v: %s%s", args, res.Stdout, res.Stderr)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".pre-commit-config.yaml"), []byte(readmeSampleBlock(t, "pre-commit-local")), 0o644))
	testutil.GitCommitAll(t, dir)
	env := append(os.Environ(), "PRE_COMMIT_HOME="+filepath.Join(t.TempDir(), "pre-commit"),
		"PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"))
	run := func() (string, error) {
		cmd := exec.Command("pre-commit", "run", "--all-files", "--verbose")
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	got, err := run()
	require.NoError(t, err, got)
	for _, name := range []string{"polc check", "polc compile --check", "polc doc --check", "polc release config --check"} {
		require.Regexp(t, `(?m)^`+regexp.QuoteMeta(name)+`\.+Passed$`, got)
	}

	kust := filepath.Join(dir, "modules", "apps", "media", "kustomization.yaml")
	require.NoError(t, os.WriteFile(kust, []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - namespace.yaml\n"), 0o644))
	testutil.GitCommitAll(t, dir)
	got, err = run()
	require.Error(t, err, got)
	require.Regexp(t, `(?m)^polc check\.+Failed$`, got)
	require.Contains(t, got, "labels/module")
}
