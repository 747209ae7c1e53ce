package cli

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/testutil"
)

// TestRulesDocUpToDate fails when docs/rules.md differs from `polc rules --format markdown`
// (run `make generate`, or this test with -update).
func TestRulesDocUpToDate(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, RulesMarkdown(&b, builtin.All()))
	testutil.Golden(t, "../../docs/rules.md", b.Bytes())
}

func TestExecuteExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{name: "version", args: []string{"--version"}, code: 0},
		{name: "unknown flag", args: []string{"check", "--nope"}, code: 2},
		{name: "bad fail-on", args: []string{"check", "--fail-on", "info"}, code: 2},
		{name: "bad format", args: []string{"check", "--format", "xml"}, code: 2},
		{name: "no modules dir", args: []string{"check", "--repo", os.TempDir() + "/polc-does-not-exist"}, code: 2},
		{name: "explain unknown", args: []string{"explain", "nope/nope"}, code: 2},
		{name: "explain known", args: []string{"explain", "labels/module"}, code: 0},
		{name: "rules markdown", args: []string{"rules", "--format", "markdown"}, code: 0},
		{name: "graph bad format", args: []string{"graph", "--format", "png"}, code: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, tc.code, Execute(tc.args, &out, &errb), "stdout: %s\nstderr: %s", out.String(), errb.String())
		})
	}
}

// TestRulesListRegoRules: polc rules and polc explain know the Rego rules that polc check runs.
func TestRulesListRegoRules(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 0, Execute([]string{"rules", "--policy", "../../policy/examples", "--format", "json"}, &out, &errb), errb.String())
	require.Contains(t, out.String(), `"id": "rego/polc.owner/deny"`)
	require.Contains(t, out.String(), `"id": "labels/module"`)

	out.Reset()
	require.Equal(t, 0, Execute([]string{"explain", "--policy", "../../policy/examples", "rego/polc.owner/deny"}, &out, &errb), errb.String())
	require.Contains(t, out.String(), "rego/polc.owner/deny: Application modules name their owner")
	require.Contains(t, out.String(), "Fix: ")

	// Without the policy directory the Rego rule is unknown.
	out.Reset()
	require.Equal(t, 2, Execute([]string{"explain", "--repo", t.TempDir(), "rego/polc.owner/deny"}, &out, &errb))
}
