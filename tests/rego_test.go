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
	examples := absPath(t, "../policy/examples")
	typos := absPath(t, "testdata/policies/typos")
	tests := []struct {
		name     string
		policy   string
		code     int
		stderr   []string
		wantRule string
	}{
		{name: "examples apply", policy: examples, code: 1, wantRule: "rego/polc.owner/deny"},
		{name: "syntax error names file and line", policy: bad, code: 2, stderr: []string{filepath.ToSlash(filepath.Join(bad, "team", "bad.rego")) + ":5:1: rego_parse_error: unexpected } token"}},
		{name: "missing directory", policy: filepath.Join(bad, "missing"), code: 2, stderr: []string{"read policy directory"}},
		{
			// Each path is undefined for every object, so without the schemas the rules would
			// silently never fire.
			name: "misspelled data.polc paths name file and line", policy: typos, code: 2,
			stderr: []string{
				typos + `/kind.rego:5:2: rego_type_error: undefined ref: data.polc.module.kind: "kind" is not one of dependents, dependsOn, description, dir, exceptions, name, namespaces, owner, provides, softDependsOn, tier, type, version`,
				typos + `/modul.rego:5:2: rego_type_error: undefined ref: data.polc.modul.type: "modul" is not one of apps, graph, kinds, module, modules, types`,
				typos + `/spec.rego:5:2: rego_type_error: undefined ref: data.polc.module.spec.type: "spec" is not one of dependents, dependsOn,`,
			},
		},
		{
			// team.rego's deny would report every object; it is in a package polc ignores.
			name: "rules in an ignored package never run", policy: absPath(t, "testdata/policies/ignored"), code: 1, wantRule: "rego/polc.owner/deny",
			stderr: []string{absPath(t, "testdata/policies/ignored") + "/team.rego:4:1: polc_warning: rule deny of package team.rules never runs"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Polc(t, filepath.Join("testdata", "repos", "good-minimal"), "check", "--format", "json", "--policy", tc.policy)
			require.Equal(t, tc.code, res.Code, res.Stdout+res.Stderr)
			for _, s := range tc.stderr {
				require.Contains(t, res.Stderr, s)
			}
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

// absPath returns path, relative to the test's directory, as an absolute slash path.
func absPath(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	return filepath.ToSlash(abs)
}
