package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// BenchmarkCheckChangedSince checks the generated 200-module repository as the pre-commit hook
// does with --changed-since HEAD after one application module changed, with rule versions/bump
// (which renders that module again at HEAD, from git) and without it.
func BenchmarkCheckChangedSince(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git is not installed")
	}
	dir := b.TempDir()
	require.NoError(b, testutil.GenerateRepo(dir, 200))
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, string(out))
	}
	f, err := os.OpenFile(filepath.Join(dir, "modules/apps/app005/config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(b, err)
	_, err = f.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n  namespace: app005\n")
	require.NoError(b, err)
	require.NoError(b, f.Close())

	without := slices.DeleteFunc(builtin.All(), func(r rule.Rule) bool { return r.ID == rule.BumpRule })
	with := append(slices.Clone(without), builtin.VersionsBump)
	for _, bc := range []struct {
		name  string
		rules []rule.Rule
		want  int // versions/bump findings
	}{{"without-bump", without, 0}, {"with-bump", with, 1}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: bc.rules, ByFiles: true, ChangedSince: "HEAD"})
				require.NoError(b, err)
				n := 0
				for _, f := range res.Findings {
					if f.Rule == rule.BumpRule {
						n++
					}
				}
				require.Equal(b, bc.want, n)
			}
		})
	}
}
