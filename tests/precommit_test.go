package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// TestPreCommitHook runs the polc-check hook of .pre-commit-hooks.yaml through pre-commit itself
// (`pre-commit try-repo`), which builds polc from this repository as a golang hook, on a good and on a
// bad testdata repository. .ci/run installs pre-commit; without it the test says so and skips.
func TestPreCommitHook(t *testing.T) {
	if _, err := exec.LookPath("pre-commit"); err != nil {
		t.Skip("SKIPPED: pre-commit is not installed (apt-get install pre-commit); the hook is not tested")
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
