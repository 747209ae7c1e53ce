package check

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// gitRepo writes files to a new directory and commits them.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testutil.SkipOrFail(t, "git is not installed: install it with `apt-get install git`")
	}
	dir := testutil.WriteRepo(t, files)
	testutil.GitCommitAll(t, dir)
	return dir
}

// TestChangedFilesRevIsNotAnOption: a --changed-since value that git would read as an option
// (git diff --output=FILE writes FILE) is refused as a revision, and nothing is written.
func TestChangedFilesRevIsNotAnOption(t *testing.T) {
	dir := gitRepo(t, map[string]string{"a.txt": "a\n"})
	out := filepath.Join(t.TempDir(), "written")
	for _, rev := range []string{"--output=" + out, "-p", "--", "no-such-rev", "HEAD:a.txt", "HEAD~5"} {
		t.Run(rev, func(t *testing.T) {
			files, err := ChangedFiles(dir, rev)
			require.Error(t, err)
			require.Nil(t, files)
			var re *RevError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Contains(t, err.Error(), "--changed-since "+`"`+rev+`"`)
			require.NoFileExists(t, out)
		})
	}
	// A revision that resolves to a commit works, whatever its spelling.
	for _, rev := range []string{"HEAD", "HEAD^{commit}", "master", "main"} {
		if _, err := git(dir, "rev-parse", "--verify", "--end-of-options", rev+"^{commit}"); err != nil {
			continue // master or main, whichever is not the default branch
		}
		files, err := ChangedFiles(dir, rev)
		require.NoError(t, err, rev)
		require.Empty(t, files, rev)
	}
}

// TestChangedFilesNames: names are listed as they are, not as git quotes them: non-ASCII,
// spaces, quotes, a leading dash; tracked changes and untracked files; relative to a
// repository root below the git top level, leaving out what is outside it.
func TestChangedFilesNames(t *testing.T) {
	dir := gitRepo(t, map[string]string{
		"repo/modules/apps/média/deployment.yaml": "a: 1\n",
		"repo/modules/apps/plain/config.yaml":     "a: 1\n",
		"outside/x.yaml":                          "a: 1\n",
		"repo/..dots/x.yaml":                      "a: 1\n",
	})
	root := filepath.Join(dir, "repo")
	testutil.WriteFiles(t, dir, map[string]string{
		"repo/modules/apps/média/deployment.yaml": "a: 2\n",
		"repo/modules/apps/日本/new file.yaml":      "a: 1\n",
		"repo/--format=text=x.txt":                "x\n",
		"repo/quote\"and\\back.yaml":              "x\n",
		"repo/..dots/x.yaml":                      "a: 2\n",
		"outside/x.yaml":                          "a: 2\n",
	})
	require.NoError(t, os.Remove(filepath.Join(dir, "repo/modules/apps/plain/config.yaml")))
	files, err := ChangedFiles(root, "HEAD")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{
		"modules/apps/média/deployment.yaml",
		"modules/apps/plain/config.yaml",
		"modules/apps/日本/new file.yaml",
		"--format=text=x.txt",
		`quote"and\back.yaml`,
		"..dots/x.yaml",
	}, files)
	require.NoFileExists(t, filepath.Join(root, "x.txt"))
}

// TestChangedFilesNotARepository: outside a git repository, the error says so.
func TestChangedFilesNotARepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		testutil.SkipOrFail(t, "git is not installed: install it with `apt-get install git`")
	}
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	_, err := ChangedFiles(dir, "HEAD")
	require.ErrorContains(t, err, "git rev-parse")
}
