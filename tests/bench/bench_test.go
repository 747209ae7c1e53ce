// Package bench measures polc check on a generated 200-module repository and on the corpus.
// Run with `make bench`; timing lives here, never in pass/fail tests.
package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/testutil"
)

// BenchmarkCheckGenerated200 checks a generated repository of 200 modules (5,000 objects).
func BenchmarkCheckGenerated200(b *testing.B) {
	dir := b.TempDir()
	require.NoError(b, testutil.GenerateRepo(dir, 200))
	objects := 0
	b.ResetTimer()
	for b.Loop() {
		res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All()})
		require.NoError(b, err)
		objects = report.Summarize(res.Repo, res.Findings).Objects
	}
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// TestGeneratedRepoIsClean keeps the benchmark honest: the generated repository has no findings,
// so the benchmark measures a full, passing check.
func TestGeneratedRepoIsClean(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, testutil.GenerateRepo(dir, 20))
	res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All()})
	require.NoError(t, err)
	require.Equal(t, 500, report.Summarize(res.Repo, res.Findings).Objects)
	require.Empty(t, res.Findings)
}

// BenchmarkCheckChangedOne checks the generated 200-module repository as the pre-commit hook does
// after one application module changed: that module and its dependents only.
func BenchmarkCheckChangedOne(b *testing.B) {
	dir := b.TempDir()
	require.NoError(b, testutil.GenerateRepo(dir, 200))
	b.ResetTimer()
	for b.Loop() {
		_, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All(), ByFiles: true, Files: []string{"modules/apps/app005/config.yaml"}})
		require.NoError(b, err)
	}
}
