package tests

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// corpusDir is the real-world corpus: POLC_CORPUS, or ../../shared/corpus next to the checkout.
func corpusDir() string {
	if d := os.Getenv("POLC_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "corpus")
}

// forEachCorpusRepo runs fn in a subtest for every repository of the corpus, with root a
// temporary copy of it; without a corpus the test skips, or fails when CI is set.
func forEachCorpusRepo(t *testing.T, fn func(t *testing.T, name, root string)) {
	t.Helper()
	corpus := corpusDir()
	entries, err := os.ReadDir(corpus)
	if err != nil {
		testutil.SkipOrFail(t, fmt.Sprintf("no corpus at %s (%v): put the corpus at ../shared/corpus beside the repository or set POLC_CORPUS to its directory", corpus, err))
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			root := t.TempDir()
			require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join(corpus, e.Name()))))
			fn(t, e.Name(), root)
		})
	}
}

// corpusUnit is one group of objects checked as a module: the output of one kustomization
// directory, or the files of one directory when the repository has no kustomizations (Flux then
// generates one).
type corpusUnit struct {
	dir     string
	objects []*manifest.Object
	// failed is true when kustomize could not build the directory (its objects may be partial).
	failed bool
}

// TestCorpus runs every resource rule over the repositories of the corpus: each is copied into a
// temporary repository, each of its kustomization directories is rendered as polc renders a module
// and checked with a synthetic module (one that declares the namespaces it creates, so Pod Security
// is checked at the restricted default). Nothing may panic and polc may return no error; the
// object and finding counts per rule are logged (run with -v), and POLC_CORPUS_FINDINGS=FILE
// writes every finding for review.
func TestCorpus(t *testing.T) {
	var resourceRules []rule.Rule
	for _, r := range builtin.All() {
		if r.CheckObject != nil {
			resourceRules = append(resourceRules, r)
		}
	}
	var dump strings.Builder
	total := map[string]int{}
	forEachCorpusRepo(t, func(t *testing.T, name, root string) {
		start := time.Now()
		units, renderFailures := corpusUnits(t, root)
		repo := syntheticRepo(root, units)
		counts := map[string]int{}
		unique := map[string]bool{}
		objects := 0
		for _, u := range units {
			objects += len(u.objects)
		}
		found, err := check.Evaluate(context.Background(), repo, resourceRules, nil)
		require.NoError(t, err)
		for _, f := range check.Finalize(repo, found) {
			key := fmt.Sprintf("%s:%d:%d %s %s %s", f.Pos.File, f.Pos.Line, f.Pos.Column, f.Rule, f.Object, f.Message)
			if unique[key] {
				continue // the same source object rendered by another overlay
			}
			unique[key] = true
			counts[f.Rule]++
			fmt.Fprintf(&dump, "%s/%s [%s] %s\n", name, key, f.Module, f.Field)
		}
		t.Logf("%d units, %d objects checked, %d units with render findings, %s", len(units), objects, renderFailures, time.Since(start).Round(time.Millisecond))
		for _, r := range resourceRules {
			t.Logf("  %-26s %d", r.ID, counts[r.ID])
			total[r.ID] += counts[r.ID]
		}
		total["objects"] += objects
	})
	t.Logf("corpus total: %d objects", total["objects"])
	for _, r := range resourceRules {
		t.Logf("  %-26s %d", r.ID, total[r.ID])
	}
	if out := os.Getenv("POLC_CORPUS_FINDINGS"); out != "" {
		require.NoError(t, os.WriteFile(out, []byte(dump.String()), 0o644))
	}
}

// corpusUnits renders every kustomization directory of the repository at root that is not a
// Component. A repository without kustomizations is read the way Flux reads it: every YAML file of
// a directory is one unit. Render problems (unresolved ${VAR}s, kustomize errors) are findings, as
// in polc check, and counted; any other error fails the test.
func corpusUnits(t testing.TB, root string) (units []corpusUnit, renderFailures int) {
	t.Helper()
	var kdirs []string
	yamlDirs := map[string][]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch name := d.Name(); {
		case name == "kustomization.yaml" || name == "kustomization.yml" || name == "Kustomization":
			kdirs = append(kdirs, path.Dir(rel))
		case strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"):
			if !strings.HasPrefix(name, "_") {
				yamlDirs[path.Dir(rel)] = append(yamlDirs[path.Dir(rel)], rel)
			}
		}
		return nil
	}))
	sources := manifest.NewSources(root)
	if len(kdirs) == 0 {
		for dir, files := range yamlDirs {
			u := corpusUnit{dir: dir}
			for _, file := range files {
				f := sources.Get(file)
				if f.Err != nil {
					renderFailures++
					continue
				}
				for _, d := range f.Docs {
					if d.Node.GetKind() == "" || d.Node.GetApiVersion() == "" {
						continue // not a Kubernetes object (helper configs)
					}
					u.objects = append(u.objects, &manifest.Object{Node: d.Node, Module: dir, Ref: manifest.RefOf(d.Node), Pos: d.Pos, Source: d.Node})
				}
			}
			units = append(units, u)
		}
		sort.Slice(units, func(i, j int) bool { return units[i].dir < units[j].dir })
		return units, renderFailures
	}
	sort.Strings(kdirs)
	r := &manifest.Renderer{Root: root, Vars: map[string]string{}, Sources: sources}
	for _, dir := range kdirs {
		if f := sources.Get(path.Join(dir, "kustomization.yaml")); f.Err == nil && len(f.Docs) > 0 && f.Docs[0].Node.GetKind() == "Component" {
			continue // components render through the kustomizations that include them
		}
		objs, _, err := r.Render(context.Background(), dir, dir)
		if err != nil {
			var re *manifest.RenderError
			require.ErrorAs(t, err, &re, "render %s: polc error, not a finding", dir)
			renderFailures++
			t.Logf("render finding %s: %.200s", dir, err)
		}
		units = append(units, corpusUnit{dir: dir, objects: objs, failed: err != nil})
	}
	return units, renderFailures
}

// syntheticRepo builds the rule context for the units: one module per unit, named after its
// directory, of type infrastructure when the path says so and application otherwise, declaring the
// namespaces it creates at the default (restricted) level.
func syntheticRepo(root string, units []corpusUnit) *rule.Repo {
	var mods []*module.Module
	for _, u := range units {
		typ := module.Application
		for _, infra := range []string{"infrastructure", "flux-system", "bootstrap", "clusters", "components", "kube-system"} {
			if strings.Contains(u.dir, infra) {
				typ = module.Infrastructure
			}
		}
		m := &module.Module{APIVersion: module.APIVersion, Kind: "Module", Metadata: module.Metadata{Name: u.dir},
			Spec: module.ModuleSpec{Type: typ, Version: "0.0.0"}, Dir: u.dir, File: u.dir + "/module.yaml"}
		for _, o := range u.objects {
			if o.Ref.Kind == "Namespace" && o.Ref.APIVersion == "v1" {
				m.Spec.Namespaces = append(m.Spec.Namespaces, module.Namespace{Name: o.Ref.Name})
			}
		}
		mods = append(mods, m)
	}
	repo := rule.NewRepo(root, module.DefaultConfig(), mods)
	for _, u := range units {
		repo.Objects[u.dir] = u.objects
		repo.Rendered[u.dir] = !u.failed
	}
	return repo
}
