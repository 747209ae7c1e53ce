package kyverno

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// repoDir is the test repository with modules, namespaces of every level and exceptions.
const repoDir = "../../tests/testdata/repos/good-exceptions-excepted"

// now is a fixed date for exception expiry.
var now = kyvernotest.Now

func load(t *testing.T, dir string) *rule.Repo { return kyvernotest.Load(t, dir) }

func compile(t *testing.T, repo *rule.Repo, target Target) *Result {
	t.Helper()
	res, err := Compile(repo, builtin.All(), Options{Target: target, Now: now})
	require.NoError(t, err)
	return res
}

func TestExceptions(t *testing.T) {
	tests := []struct {
		name   string
		now    time.Time
		expect int
		notes  int
	}{
		{name: "live", now: now, expect: 1},
		{name: "expired", now: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), expect: 0, notes: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := load(t, repoDir)
			var live int
			for _, m := range repo.Modules {
				for i := range m.Spec.Exceptions {
					m.Spec.Exceptions[i].Expires = "2030-06-30"
					live++
				}
			}
			require.Positive(t, live)
			res, err := Compile(repo, builtin.All(), Options{Target: ClusterPolicy, Now: tc.now})
			require.NoError(t, err)
			var exceptions int
			for _, p := range res.Policies {
				for _, ex := range p.Exceptions {
					require.True(t, strings.HasPrefix(ex.Path, "exceptions/"), ex.Path)
					require.NotNil(t, ex.Object, ex.Name)
					exceptions++
				}
			}
			if tc.expect == 0 {
				require.Zero(t, exceptions)
				require.Len(t, res.Notes, live)
				require.Contains(t, res.Notes[0], "expired on 2030-06-30; not compiled")
			} else {
				require.Positive(t, exceptions)
				require.Empty(t, res.Notes)
			}
		})
	}
}

// TestWarningsAudit: a rule of severity warning does not fail polc check, so its compiled form
// admits and reports (Audit), whatever polc.yaml's action; an error enforces.
func TestWarningsAudit(t *testing.T) {
	repo := load(t, repoDir)
	res := compile(t, repo, ClusterPolicy)
	seen := map[rule.Severity]bool{}
	for _, p := range res.Policies {
		for _, r := range p.Rules {
			want := module.Enforce
			if p.Severity == rule.Warning {
				want = module.Audit
			}
			require.Equal(t, want, r.Action, "%s rule %s (severity %s)", p.Name, r.Name, p.Severity)
		}
		seen[p.Severity] = true
	}
	require.True(t, seen[rule.Warning] && seen[rule.Error], "the pack has policies of both severities")
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("a", 60) + "-undeclared-namespaces"
	got := Shorten(long)
	require.LessOrEqual(t, len(got), maxName)
	require.NotEqual(t, got, Shorten(strings.Repeat("a", 60)+"-undeclared-namespaceX"), "distinct names stay distinct")
	require.Equal(t, "short", Shorten("short"))
}
