package builtin

import (
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

func TestVersionsBumpMessages(t *testing.T) {
	m := &module.Module{Dir: "modules/apps/media"}
	m.Metadata.Name = "media"
	m.Spec.Version = "1.0.0"
	for _, tc := range []struct {
		name    string
		since   string
		changes map[string]rule.Change
		want    string
	}{
		{name: "no --changed-since", changes: map[string]rule.Change{"media": {Module: "media", Before: "1.0.0", Objects: []string{"changed A/a"}}}},
		{name: "unchanged", since: "main"},
		{name: "not bumped, five objects", since: "main",
			changes: map[string]rule.Change{"media": {Module: "media", Before: "1.0.0", Objects: []string{"added A/a", "changed B/b", "changed C/c", "removed D/d", "removed E/e"}}},
			want:    "the rendered objects changed since main (added A/a, changed B/b, changed C/c and 2 more) but spec.version is 1.0.0, not higher than 1.0.0 at main"},
		{name: "not comparable", since: "main",
			changes: map[string]rule.Change{"media": {Module: "media", Before: "1.0.0", Err: "it does not render at main: boom"}},
			want:    "the module's objects cannot be compared with main: it does not render at main: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := rule.NewRepo(t.TempDir(), &module.Config{}, []*module.Module{m})
			repo.ChangedSince, repo.Changes = tc.since, tc.changes
			got := checkVersionsBump(repo, m)
			if tc.want == "" {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.Equal(t, tc.want, got[0].Message)
			require.Equal(t, "spec.version", got[0].Field)
		})
	}
}

func TestHasVersionHeading(t *testing.T) {
	log := []byte("# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2025-01-31\n\n```\n## 9.9.9\n```\n\n## 1.1.0\n")
	for v, want := range map[string]bool{"1.2.0": true, "1.1.0": true, "9.9.9": false, "1.0.0": false} {
		require.Equal(t, want, hasVersionHeading(log, v), v)
	}
}
