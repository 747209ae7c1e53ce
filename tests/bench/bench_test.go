// Package bench measures polc check on a generated 200-module repository and on the corpus.
// Run with `make bench`; timing lives here, never in pass/fail tests.
package bench

import (
	"context"
	"runtime/metrics"
	"testing"
	"time"

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
	b.ReportAllocs()
	peak := watchHeap(b)
	b.ResetTimer()
	for b.Loop() {
		res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All()})
		require.NoError(b, err)
		objects = report.Summarize(res.Repo, res.Findings).Objects
	}
	peak.report()
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// heapWatch samples the heap while a benchmark runs (see watchHeap).
type heapWatch struct {
	b          *testing.B
	stop, done chan struct{}
	// heap is the largest heap seen (live objects and garbage not yet swept); live is the largest
	// heap that a collection found live, which does not depend on GOGC.
	heap, live uint64
}

// heapSampleEvery is how often watchHeap samples: often enough for a run of a second.
const heapSampleEvery = 2 * time.Millisecond

// watchHeap samples the heap until report is called, which reports the peaks as the metrics
// peak-heap-MB and peak-live-MB: what a run holds at once, which allocs/op does not show.
func watchHeap(b *testing.B) *heapWatch {
	w := &heapWatch{b: b, stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	sample := func() {
		metrics.Read(samples)
		w.heap = max(w.heap, samples[0].Value.Uint64())
		w.live = max(w.live, samples[1].Value.Uint64())
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(heapSampleEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				sample()
				return
			case <-t.C:
				sample()
			}
		}
	}()
	return w
}

// report stops sampling and reports the peaks.
func (w *heapWatch) report() {
	close(w.stop)
	<-w.done
	w.b.ReportMetric(float64(w.heap)/(1<<20), "peak-heap-MB")
	w.b.ReportMetric(float64(w.live)/(1<<20), "peak-live-MB")
}

// generatedReleases is how many of the 200 generated modules deploy a HelmRelease.
const generatedReleases = 50

// BenchmarkCheckGenerated200Charts checks the generated 200-module repository in which 50
// modules also deploy a HelmRelease whose chart is in the chart cache: 5,100 objects from
// kustomize and 200 templated from the chart.
func BenchmarkCheckGenerated200Charts(b *testing.B) {
	dir, cache := b.TempDir(), b.TempDir()
	require.NoError(b, testutil.GenerateRepoWithCharts(dir, 200, generatedReleases, cache))
	objects := 0
	b.ReportAllocs()
	peak := watchHeap(b)
	b.ResetTimer()
	for b.Loop() {
		res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All(), ChartCache: cache})
		require.NoError(b, err)
		objects = report.Summarize(res.Repo, res.Findings).Objects
	}
	peak.report()
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}

// TestGeneratedChartsRepoIsClean keeps the charts benchmark honest: every HelmRelease renders
// its chart from the cache, and the repository has no findings.
func TestGeneratedChartsRepoIsClean(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	require.NoError(t, testutil.GenerateRepoWithCharts(dir, 20, 5, cache))
	res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All(), ChartCache: cache})
	require.NoError(t, err)
	summary := report.Summarize(res.Repo, res.Findings)
	require.Equal(t, map[string]int{"kustomize": 510, "helm": 5 * testutil.GeneratedChartObjects}, summary.Coverage.Objects)
	require.Equal(t, 5, summary.Coverage.HelmReleases)
	require.Empty(t, summary.Coverage.NotRendered)
	require.Empty(t, res.Findings)
	require.Error(t, testutil.GenerateRepoWithCharts(t.TempDir(), 20, 6, t.TempDir()), "20 modules hold 5 HelmReleases")
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
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All(), ByFiles: true, Files: []string{"modules/apps/app005/config.yaml"}})
		require.NoError(b, err)
	}
}
