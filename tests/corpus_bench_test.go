package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// BenchmarkCorpus renders every kustomization of the real-world corpus and runs the resource rules
// on the objects, as TestCorpus does: the cost of polc check on repositories written by others.
func BenchmarkCorpus(b *testing.B) {
	corpus, err := filepath.Abs(corpusDir()) // the renderer needs an absolute root
	if err != nil {
		b.Fatal(err)
	}
	entries, err := os.ReadDir(corpus)
	if err != nil {
		testutil.SkipOrFail(b, fmt.Sprintf("no corpus at %s (%v): put the corpus at ../shared/corpus beside the repository or set POLC_CORPUS to its directory", corpus, err))
	}
	var resourceRules []rule.Rule
	for _, r := range builtin.All() {
		if r.CheckObject != nil {
			resourceRules = append(resourceRules, r)
		}
	}
	objects := 0
	for b.Loop() {
		objects = 0
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			root := filepath.Join(corpus, e.Name())
			units, _ := corpusUnits(b, root)
			repo := syntheticRepo(root, units)
			for _, u := range units {
				for _, o := range u.objects {
					objects++
					check.CheckObject(repo, repo.ByName[u.dir], o, resourceRules)
				}
			}
		}
	}
	b.ReportMetric(float64(objects)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(objects), "objects")
}
