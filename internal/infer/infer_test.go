package infer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/testutil"
)

// inferenceRules are the rules whose findings, right after init, would mean that the inference
// itself is wrong rather than the repository.
var inferenceRules = []string{"module/metadata", "module/name", "deps/unknown", "deps/cycle", "deps/undeclared", "deps/direction"}

func copyRepo(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
	return dir
}

// TestInfer runs init on a repository that exercises every inference (see testdata/flux: Flux
// dependsOn through spec.path, an overlay and an artifact path, HelmRelease dependsOn and chart
// sources, CRDs and well-known charts, Pod Security labels, CHANGELOG versions, a cycle turned
// soft, an application promoted to infrastructure, a module that does not render, an existing
// module.yaml, a bad and a duplicate name) and compares what it prints and proposes with golden
// files.
func TestInfer(t *testing.T) {
	root := copyRepo(t, "testdata/flux")
	res, err := Infer(Options{Root: root, ModulesDir: "."})
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, res.Print(&out))
	testutil.Golden(t, "testdata/golden/flux.txt", out.Bytes())
	for _, p := range res.Proposals {
		if p.Existing {
			continue
		}
		data := Encode(p)
		_, err := module.ParseModule(p.File(), data)
		require.NoError(t, err, "proposed %s does not load:\n%s", p.File(), data)
		testutil.Golden(t, filepath.Join("testdata", "golden", "flux", p.File()), data)
	}
	testutil.Golden(t, "testdata/golden/flux/polc.yaml", res.Config)

	again, err := Infer(Options{Root: root, ModulesDir: "."})
	require.NoError(t, err)
	var out2 bytes.Buffer
	require.NoError(t, again.Print(&out2))
	require.Equal(t, out.String(), out2.String(), "output must be deterministic")
}

// TestInferWriteThenCheck writes the proposals and runs polc check's pipeline on the result:
// polc check works, and no finding comes from a wrong inference. Writing again writes nothing.
func TestInferWriteThenCheck(t *testing.T) {
	root := copyRepo(t, "testdata/flux")
	legacy := filepath.Join(root, "apps", "legacy", "module.yaml")
	before, err := os.ReadFile(legacy)
	require.NoError(t, err)

	res, err := Infer(Options{Root: root, ModulesDir: "."})
	require.NoError(t, err)
	written, skipped, err := res.Write()
	require.NoError(t, err)
	require.Empty(t, skipped)
	require.Contains(t, written, "polc.yaml")
	require.Contains(t, written, "infrastructure/security-core/module.yaml")
	require.NotContains(t, written, "apps/legacy/module.yaml")
	after, err := os.ReadFile(legacy)
	require.NoError(t, err)
	require.Equal(t, string(before), string(after), "an existing module.yaml was rewritten")

	result, err := check.Run(context.Background(), check.Options{Root: root, Rules: builtin.All(), Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	require.Equal(t, 10, len(result.Repo.Reported()))
	byRule := map[string]int{}
	for _, f := range result.Findings {
		byRule[f.Rule]++
		for _, r := range inferenceRules {
			require.NotEqual(t, r, f.Rule, "finding caused by the inference: %s: %s", f.Pos, f.Message)
		}
	}
	// What remains is real: the repository lacks polc's files, labels and annotations, names
	// without a tier, and photos' unset variable. The writes into other modules' namespaces
	// (networking into cert-manager's) are declared in spec.uses.
	require.Positive(t, byRule["module/files"])
	require.Positive(t, byRule["labels/module"])
	require.Equal(t, 3, byRule["module/tier"])
	require.Equal(t, 1, byRule["module/render"])
	require.Zero(t, byRule["naming/namespace-ownership"])

	again, err := Infer(Options{Root: root, ModulesDir: "."})
	require.NoError(t, err)
	for _, p := range again.Proposals {
		require.True(t, p.Existing, "%s is proposed again", p.File())
	}
	require.Nil(t, again.Config, "polc.yaml exists now")
	written, skipped, err = again.Write()
	require.NoError(t, err)
	require.Empty(t, written)
	require.Empty(t, skipped)
}

func TestInferErrors(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		modulesDir string
		err        string
	}{
		{name: "no modules directory", files: map[string]string{"README.md": "x"}, err: `modules directory "modules" not found`},
		{name: "modules dir leaves the repository", files: map[string]string{"README.md": "x"}, modulesDir: "../elsewhere", err: "leaves the repository"},
		{name: "bad polc.yaml", files: map[string]string{"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  nope: 1\n", "modules/x": ""}, err: "load polc.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.WriteRepo(t, tc.files)
			_, err := Infer(Options{Root: root, ModulesDir: tc.modulesDir})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.err)
		})
	}
}

func TestInferNoKustomizations(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "kubernetes", "default", "plex"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "kubernetes", "default", "plex", "plex.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plex\n"), 0o644))
	res, err := Infer(Options{Root: root, ModulesDir: "kubernetes"})
	require.NoError(t, err)
	require.Empty(t, res.Proposals)
	require.Len(t, res.Notes, 1)
	require.Contains(t, res.Notes[0], "no kustomization file under kubernetes")
}

func TestChartName(t *testing.T) {
	tests := []struct{ ref, want string }{
		{ref: "cert-manager", want: "cert-manager"},
		{ref: "./charts/kyverno", want: "kyverno"},
		{ref: "oci://ghcr.io/home-operations/charts-mirror/cert-manager", want: "cert-manager"},
		{ref: "oci://ghcr.io/org/charts/cilium:1.16.2", want: "cilium"},
		{ref: "oci://ghcr.io/org/charts/cilium@sha256:abc", want: "cilium"},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) { require.Equal(t, tc.want, chartName(tc.ref)) })
	}
	for chart, groups := range wellKnownCharts {
		require.NotEmpty(t, groups, chart)
		for _, g := range groups {
			require.True(t, strings.Contains(g, "."), "%s: %q is not an API group", chart, g)
		}
	}
}

// TestInferIgnoresNonObjects: YAML documents that are not mappings (a top-level list, a scalar)
// are no objects and must not break the inference.
func TestInferIgnoresNonObjects(t *testing.T) {
	root := testutil.WriteRepo(t, map[string]string{
		"modules/apps/web/kustomization.yaml": "resources: [cm.yaml]\n",
		"modules/apps/web/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: web\n",
		"modules/apps/web/list.yml":           "- a\n- b\n- c\n",
		"clusters/values.yaml":                "--- just a scalar\n---\n- kind: Kustomization\n- x\n- y\n",
	})
	res, err := Infer(Options{Root: root})
	require.NoError(t, err)
	require.Len(t, res.Proposals, 1)
	require.Equal(t, "web", res.Proposals[0].Name())
}

// TestInferOwnCatalog removes the module.yaml files of this repository's own catalog and infers
// them again: type, tier, namespaces with their Pod Security levels, hard dependencies and
// provided APIs, and the version where a CHANGELOG.md holds it, must match the hand-written
// metadata (soft dependencies, descriptions, owners and exceptions are for people to write).
func TestInferOwnCatalog(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(root, "modules"), os.DirFS("../../modules")))
	data, err := os.ReadFile("../../polc.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "polc.yaml"), data, 0o644))
	want := map[string]*module.Module{}
	require.NoError(t, filepath.WalkDir(filepath.Join(root, "modules"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != module.MetadataFile {
			return err
		}
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		m, err := module.ParseModule(p, data)
		require.NoError(t, err)
		want[m.Name()] = m
		return os.Remove(p)
	}))
	require.NotEmpty(t, want)

	res, err := Infer(Options{Root: root})
	require.NoError(t, err)
	require.Len(t, res.Proposals, len(want))
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	for _, p := range res.Proposals {
		t.Run(p.Name(), func(t *testing.T) {
			w := want[p.Name()]
			require.NotNil(t, w, "no such module in the catalog")
			got := p.Module.Spec
			require.Equal(t, w.Spec.Type, got.Type)
			require.Equal(t, w.Spec.Tier, got.Tier)
			if _, err := os.Stat(filepath.Join(root, p.Dir, "CHANGELOG.md")); err == nil {
				require.Equal(t, w.Spec.Version, got.Version)
			}
			var wantNS, gotNS []string
			for _, ns := range w.Spec.Namespaces {
				wantNS = append(wantNS, ns.Name+"="+string(ns.Level()))
			}
			for _, ns := range got.Namespaces {
				gotNS = append(gotNS, ns.Name+"="+string(ns.Level()))
			}
			require.Equal(t, sorted(wantNS), sorted(gotNS))
			require.Equal(t, sorted(w.Spec.DependsOn), got.DependsOn)
			require.Equal(t, sorted(w.Spec.Provides.APIs), got.Provides.APIs)
		})
	}
}
