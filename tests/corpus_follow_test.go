package tests

import (
	"context"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// TestCorpusFollowsFluxKustomizations follows every Flux Kustomization of each corpus repository
// as polc check follows those its modules deploy: each one's spec.path must render, or be listed
// in coverage with a reason, or fail with a module/render finding that names it; nothing may
// panic or return a polc error. The Kustomizations are the objects of one synthetic module, so
// Kustomizations deployed by others are also followed through their parents. Counts are logged
// (run with -v).
func TestCorpusFollowsFluxKustomizations(t *testing.T) {
	forEachCorpusRepo(t, func(t *testing.T, name, root string) {
		objs := fluxKustomizations(t, root)
		m := &module.Module{APIVersion: module.APIVersion, Kind: "Module", Metadata: module.Metadata{Name: "corpus"},
			Spec: module.ModuleSpec{Type: module.Application, Version: "0.0.0"}, Dir: "corpus-module", File: "corpus-module/module.yaml"}
		repo := rule.NewRepo(root, module.DefaultConfig(), []*module.Module{m})
		repo.Objects["corpus"] = objs
		r := check.NewRenderer(repo)
		findings := check.Follow(context.Background(), r, repo)
		byOrigin := map[manifest.OriginKind]int{}
		followed := map[string]bool{}
		for _, o := range repo.Objects["corpus"] {
			byOrigin[o.Origin.KindOrDefault()]++
			if o.Origin.Kind == manifest.FromFluxKustomization {
				followed[o.Origin.By] = true
			}
		}
		failed := map[string]bool{}
		for _, f := range findings {
			require.Contains(t, []string{rule.RenderRule, rule.RemoteRule}, f.Rule)
			if f.Rule == rule.RenderRule {
				require.Contains(t, f.Message, "Flux Kustomization ", "a render finding names its Kustomization")
				t.Logf("render finding %s: %.300s", f.Pos, f.Message)
				failed[f.Message] = true
			}
		}
		causes := map[string]int{}
		for _, g := range repo.Gaps {
			require.NotEmpty(t, g.Reason)
			if g.Kind == rule.GapFluxKustomization {
				causes[g.Cause]++
			}
		}
		t.Logf("%d Flux Kustomizations found, %d followed with objects, %d render findings, gaps by cause %v; objects by origin %v",
			len(objs), len(followed), len(failed), causes, byOrigin)
		src := repo.Config.Spec.Source
		for _, o := range objs {
			if manifest.String(o.Node, "spec", "sourceRef", "kind") == src.Kind && manifest.String(o.Node, "spec", "sourceRef", "name") == src.Name {
				require.NotZero(t, byOrigin[manifest.FromFluxKustomization], "no Flux Kustomization path rendered, though %s reads this repository", o.Ref)
			}
		}
	})
}

// fluxKustomizations returns every Flux Kustomization written in the repository at root, as
// source documents, in file order.
func fluxKustomizations(t *testing.T, root string) []*manifest.Object {
	t.Helper()
	sources := manifest.NewSources(root)
	var files []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	}))
	sort.Strings(files)
	var out []*manifest.Object
	for _, rel := range files {
		f := sources.Get(rel)
		if f.Err != nil {
			continue
		}
		for _, d := range f.Docs {
			if manifest.NotObject(d.Node) != nil {
				continue
			}
			ref := manifest.RefOf(d.Node)
			if ref.Group() == flux.Group && ref.Kind == flux.Kind {
				out = append(out, &manifest.Object{Node: d.Node, Module: "corpus", Ref: ref, Pos: d.Pos, Source: d.Node})
			}
		}
	}
	return out
}
