// Package tests runs the built polc binary against the repositories in testdata and compares its
// output with golden files. Run `go test ./tests -update` to rewrite them, then review the diff.
package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/testutil"
)

// polcBin is the binary under test, built once by TestMain.
var polcBin string

func TestMain(m *testing.M) {
	bin, remove, err := testutil.BuildPolc("../cmd/polc")
	if err != nil {
		panic(err)
	}
	polcBin = bin
	// An empty chart cache, whatever the machine's holds: charts render only from the repository
	// unless a test fills a cache of its own.
	cache, err := os.MkdirTemp("", "polc-cache")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", cache)
	code := m.Run()
	remove()
	os.RemoveAll(cache)
	os.Exit(code)
}

// Result is one run of the binary.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Polc runs the built binary with args in dir.
func Polc(t *testing.T, dir string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(polcBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// repos lists the testdata repositories: good-* must pass, bad-* must fail.
func repos(t *testing.T) []string {
	entries, err := os.ReadDir("testdata/repos")
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestRepos checks every testdata repository and compares the JSON findings with its golden file.
// Good repositories exit 0 with no finding that fails; bad ones exit 1.
func TestRepos(t *testing.T) {
	for _, name := range repos(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "repos", name)
			before := snapshot(t, dir)
			res := Polc(t, dir, "check", "--format", "json")
			require.Empty(t, res.Stderr)
			testutil.Golden(t, filepath.Join("testdata", "golden", name+".json"), []byte(res.Stdout))
			var rep report.JSONReport
			require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep))
			if strings.HasPrefix(name, "good") {
				require.Equal(t, 0, res.Code, res.Stdout)
				require.Zero(t, rep.Summary.Errors)
			} else {
				require.Equal(t, 1, res.Code, "a bad repository must fail: %s", res.Stdout)
				for _, f := range rep.Findings {
					require.NotEmpty(t, f.File, "finding without file: %+v", f)
				}
			}
			require.Equal(t, before, snapshot(t, dir), "polc wrote into the repository it checked")
		})
	}
}

// TestEveryRuleHasABadRepo requires that each rule fails at least one bad testdata repository.
func TestEveryRuleHasABadRepo(t *testing.T) {
	if testutil.Updating() {
		t.Skip("golden files are being rewritten")
	}
	seen := map[string]bool{}
	for _, name := range repos(t) {
		data, err := os.ReadFile(filepath.Join("testdata", "golden", name+".json"))
		require.NoError(t, err)
		var rep report.JSONReport
		require.NoError(t, json.Unmarshal(data, &rep))
		for _, f := range rep.Findings {
			seen[f.Rule] = true
		}
	}
	// A rule that compares with a git revision cannot fail a static repository; the test named
	// here builds the history it needs and runs the binary on it.
	history := map[string]string{"versions/bump": "TestVersionsBumpCLI"}
	var missing []string
	for _, r := range builtin.All() {
		if !seen[r.ID] && history[r.ID] == "" {
			missing = append(missing, r.ID)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "rules without a failing testdata repository")
}

// snapshot records every file's size and modification time under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil // unreadable entries are part of some fixtures
		}
		out[p] = info.ModTime().String() + "/" + info.Mode().String()
		return nil
	})
	require.NoError(t, err)
	return out
}
