package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/report"
)

// TestBaseline adopts polc on a repository with findings: polc baseline records them, polc check
// --baseline passes while they stay (even when their lines move), fails on a new finding only,
// and lists the entries that no longer match until polc baseline shrinks the file. Only the
// baseline file is ever written.
func TestBaseline(t *testing.T) {
	repo := t.TempDir()
	require.NoError(t, os.CopyFS(repo, os.DirFS(filepath.Join("testdata", "repos", "bad-labels-module"))))
	file := filepath.Join(t.TempDir(), "baseline.yaml")
	media := filepath.Join(repo, "modules", "apps", "media")

	before := snapshot(t, repo)
	res := Polc(t, repo, "baseline", file)
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Equal(t, "wrote 3 entries (4 findings) to "+file+"\n", res.Stdout)
	require.Equal(t, before, snapshot(t, repo), "polc baseline wrote into the repository")
	written, err := os.ReadFile(file)
	require.NoError(t, err)

	t.Run("polc baseline takes the selection flags of polc check", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "media.yaml")
		res := Polc(t, repo, "baseline", other, "--files", "--", filepath.Join("modules", "apps", "media", "configmap.yaml"))
		require.Equal(t, 0, res.Code, res.Stderr)
		require.Equal(t, string(written), string(readFile(t, other)))
	})
	t.Run("the baseline holds every finding", func(t *testing.T) {
		res := Polc(t, repo, "check", "--baseline", file)
		require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
		require.Empty(t, res.Stderr)
		require.Equal(t, 4, strings.Count(res.Stdout, " (baselined)\n"), res.Stdout)
		require.Contains(t, res.Stdout, "1 module, 3 objects: 0 errors, 0 warnings, 0 excepted, 4 baselined\n")
		require.True(t, strings.HasSuffix(res.Stdout, "rule           errors  warnings  excepted  baselined\n"+
			"labels/module       0         0         0          4\n"), res.Stdout)
		require.Equal(t, before, snapshot(t, repo), "polc check wrote into the repository")
	})
	t.Run("rewriting an unchanged baseline gives the same bytes", func(t *testing.T) {
		require.Equal(t, 0, Polc(t, repo, "baseline", file).Code)
		again, err := os.ReadFile(file)
		require.NoError(t, err)
		require.Equal(t, string(written), string(again))
	})

	// Objects move down their files: nothing is new.
	prepend(t, filepath.Join(media, "configmap.yaml"), "# moved\n# down\n\n")
	prepend(t, filepath.Join(media, "namespace.yaml"), "# moved down too\n")
	t.Run("moving objects keeps them baselined", func(t *testing.T) {
		res := Polc(t, repo, "check", "--baseline", file)
		require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
		require.Contains(t, res.Stdout, "0 errors, 0 warnings, 0 excepted, 4 baselined")
	})

	// A new problem: a ConfigMap without the module labels.
	appendTo(t, filepath.Join(media, "namespace.yaml"), "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: added\n  namespace: media\n")
	t.Run("a new finding fails the run, and only it", func(t *testing.T) {
		res := Polc(t, repo, "check", "--baseline", file, "--format", "json")
		require.Equal(t, 1, res.Code, res.Stdout+res.Stderr)
		require.Empty(t, res.Stderr)
		var rep report.JSONReport
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep))
		require.Equal(t, 4, rep.Summary.Baselined)
		var fresh []string
		for _, f := range rep.Findings {
			if !f.Baselined {
				fresh = append(fresh, f.Object.Name)
			}
		}
		require.Equal(t, []string{"added", "added"}, fresh)

		text := Polc(t, repo, "check", "--baseline", file).Stdout
		var failing []string
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, ": error ") && !strings.HasSuffix(l, "(baselined)") {
				failing = append(failing, l)
			}
		}
		require.Len(t, failing, 2, text)
		for _, l := range failing {
			require.Contains(t, l, "modules/apps/media/namespace.yaml:", l)
		}
		require.Contains(t, text, "2 errors, 0 warnings, 0 excepted, 4 baselined")
	})
	t.Run("SARIF says which results are new", func(t *testing.T) {
		res := Polc(t, repo, "check", "--baseline", file, "--format", "sarif")
		require.Equal(t, 1, res.Code)
		require.Equal(t, 4, strings.Count(res.Stdout, `"baselineState": "unchanged"`))
		require.Equal(t, 2, strings.Count(res.Stdout, `"baselineState": "new"`))
	})
	t.Run("GitHub annotations leave baselined findings out", func(t *testing.T) {
		res := Polc(t, repo, "check", "--baseline", file, "--format", "github")
		require.Equal(t, 1, res.Code)
		require.Equal(t, 2, strings.Count(res.Stdout, "::error "), res.Stdout)
		require.NotContains(t, res.Stdout, "::notice ")
	})

	// The new problem goes, and one of the recorded ones is fixed: its entry is stale.
	require.NoError(t, os.WriteFile(filepath.Join(media, "namespace.yaml"), readFile(t, filepath.Join("testdata", "repos", "bad-labels-module", "modules", "apps", "media", "namespace.yaml")), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(media, "configmap.yaml"),
		[]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: media\n  labels:\n    polc.dev/module: media\n    polc.dev/module-type: application\ndata:\n  key: value\n"), 0o644))
	t.Run("entries that no longer match are listed", func(t *testing.T) {
		res := Polc(t, repo, "check", "--baseline", file)
		require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
		require.Contains(t, res.Stdout, "0 errors, 0 warnings, 0 excepted, 2 baselined")
		lines := strings.Split(strings.TrimSuffix(res.Stderr, "\n"), "\n")
		require.Equal(t, "stale baseline entries: 2; run polc baseline "+file+" to shrink it", lines[0])
		require.Len(t, lines, 3, res.Stderr)
		require.Regexp(t, regexp.MustCompile(`^  .*baseline\.yaml:\d+: labels/module \[media\] ConfigMap media/settings metadata\.labels$`), lines[1])
		require.Regexp(t, regexp.MustCompile(`^  .*baseline\.yaml:\d+: labels/module \[media\] ConfigMap media/settings metadata\.labels\[polc\.dev/module\]$`), lines[2])
	})
	t.Run("checking another module judges no entry stale", func(t *testing.T) {
		// With --files and a file of no module, the run checks no module: media's entries are
		// neither matched nor stale.
		res := Polc(t, repo, "check", "--baseline", file, "--files", "README.md")
		require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
		require.Empty(t, res.Stderr)
	})
	t.Run("polc baseline shrinks the file", func(t *testing.T) {
		res := Polc(t, repo, "baseline", file)
		require.Equal(t, 0, res.Code, res.Stderr)
		require.Equal(t, "wrote 1 entry (2 findings) to "+file+"\n", res.Stdout)
		res = Polc(t, repo, "check", "--baseline", file)
		require.Equal(t, 0, res.Code)
		require.Empty(t, res.Stderr)
	})
}

// TestBaselineErrors: a baseline file that is missing or invalid is a usage error naming it.
func TestBaselineErrors(t *testing.T) {
	repo := filepath.Join("testdata", "repos", "good-minimal")
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	broken := filepath.Join(dir, "broken.yaml")
	require.NoError(t, os.WriteFile(broken, []byte("apiVersion: polc.dev/v1alpha1\nkind: Baseline\nentries:\n  - rule: labels/module\n    count: 1\n    line: 7\n"), 0o644))
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{name: "missing file", args: []string{"check", "--baseline", missing},
			stderr: "polc: baseline " + missing + " does not exist; write it with: polc baseline " + missing + "\n"},
		{name: "unknown field", args: []string{"check", "--baseline", broken}, stderr: "polc: " + broken + ":6: unknown field \"line\"\n"},
		{name: "no file argument", args: []string{"baseline"}, stderr: "polc: requires at least 1 arg(s), only received 0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, repo)
			res := Polc(t, repo, tc.args...)
			require.Equal(t, 2, res.Code, res.Stdout)
			require.Empty(t, res.Stdout)
			require.Equal(t, tc.stderr, res.Stderr)
			require.Equal(t, before, snapshot(t, repo))
		})
	}
}

// prepend writes text before the content of file.
func prepend(t *testing.T, file, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(file, append([]byte(text), readFile(t, file)...), 0o644))
}

// readFile returns the content of file.
func readFile(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	return data
}
