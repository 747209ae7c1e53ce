package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/report"
)

// TestRegoPolicy runs polc check with an explicit --policy directory on a repository that has
// none of its own, and with broken or missing policy directories.
func TestRegoPolicy(t *testing.T) {
	bad := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(bad, "team"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "team", "bad.rego"), []byte("package main\n\ndeny contains msg if {\n\tinput.kind ==\n}\n"), 0o644))
	examples, err := filepath.Abs("../policy/examples")
	require.NoError(t, err)
	tests := []struct {
		name     string
		policy   string
		code     int
		stderr   string
		wantRule string
	}{
		{name: "examples apply", policy: examples, code: 1, wantRule: "rego/polc.owner/deny"},
		{name: "syntax error names file and line", policy: bad, code: 2, stderr: filepath.ToSlash(filepath.Join(bad, "team", "bad.rego")) + ":5:1: rego_parse_error: unexpected } token"},
		{name: "missing directory", policy: filepath.Join(bad, "missing"), code: 2, stderr: "read policy directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Polc(t, filepath.Join("testdata", "repos", "good-minimal"), "check", "--format", "json", "--policy", tc.policy)
			require.Equal(t, tc.code, res.Code, res.Stdout+res.Stderr)
			require.Contains(t, res.Stderr, tc.stderr)
			if tc.wantRule == "" {
				return
			}
			var rep report.JSONReport
			require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep))
			var rules []string
			for _, f := range rep.Findings {
				rules = append(rules, f.Rule)
			}
			require.Equal(t, []string{tc.wantRule}, rules)
		})
	}
}
