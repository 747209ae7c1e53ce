package flux_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestExampleClusterUpToDate fails when examples/cluster differs from what the generator writes
// for every module of this repository (run `polc compile --flux examples/cluster`, or this test
// with -update).
func TestExampleClusterUpToDate(t *testing.T) {
	repo := loadRepo(t, filepath.Join("..", ".."))
	out, err := flux.Generate(repo, nil)
	require.NoError(t, err)
	dir := filepath.Join(repo.Root, "examples", "cluster")
	if testutil.Updating() {
		require.NoError(t, out.Write(dir))
	}
	diff, err := out.Diff(dir)
	require.NoError(t, err)
	require.Empty(t, diff, "examples/cluster is out of date; run `polc compile --flux examples/cluster` and review the diff")
}

// loadRepo loads a repository's metadata as polc compile does.
func loadRepo(t *testing.T, root string) *rule.Repo {
	t.Helper()
	repo, findings, err := check.Load(root, builtin.All())
	require.NoError(t, err)
	require.Empty(t, findings)
	return repo
}

// writeRepo writes a repository of module.yaml files: name -> spec lines after type.
func writeRepo(t *testing.T, mods map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, spec := range mods {
		typ, rest, _ := strings.Cut(spec, "\n")
		dir := map[string]string{"infrastructure": "infrastructure", "application": "apps", "component": "components"}[typ]
		p := filepath.Join(root, "modules", dir, name, "module.yaml")
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		doc := "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + name + "\nspec:\n  type: " + typ + "\n  version: 1.0.0\n" + rest
		require.NoError(t, os.WriteFile(p, []byte(doc), 0o644))
	}
	return root
}

// testMods is a small platform: net-core <- sec-core (installs Kyverno) <- media, and a component.
var testMods = map[string]string{
	"net-core": "infrastructure\n  tier: core\n",
	"sec-core": "infrastructure\n  tier: core\n  dependsOn: [net-core]\n  provides:\n    apis: [kyverno.io]\n",
	"media":    "application\n  dependsOn: [sec-core, net-core, net-core]\n",
	"blog":     "application\n",
	"sso":      "component\n",
}

// kustomizations parses the generated files into name -> Kustomization node.
func kustomizations(t *testing.T, out *flux.Output) map[string]*yaml.RNode {
	t.Helper()
	got := map[string]*yaml.RNode{}
	for _, f := range out.Files {
		require.True(t, strings.HasPrefix(string(f.Data), flux.Header), "%s starts with the header", f.Path)
		if f.Path == "kustomization.yaml" {
			continue
		}
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			n, err := yaml.Parse(doc)
			require.NoError(t, err)
			got[n.GetName()] = n
		}
	}
	return got
}

func TestGenerate(t *testing.T) {
	repo := loadRepo(t, writeRepo(t, testMods))
	tests := []struct {
		name      string
		modules   []string
		wantFiles []string
		wantAdded []string
		// wantDeps maps each Kustomization to its dependsOn names.
		wantDeps map[string][]string
		// wantPaths maps Kustomizations to their spec.path.
		wantPaths map[string]string
	}{
		{
			name:      "every deployable module",
			wantFiles: []string{"blog.yaml", "kustomization.yaml", "media.yaml", "net-core.yaml", "sec-core.yaml"},
			wantDeps: map[string][]string{"apps-blog": nil, "apps-media": {"infra-net-core", "infra-sec-core"},
				"infra-net-core": nil, "infra-sec-core": {"infra-net-core"}, "infra-sec-core-policies": {"infra-sec-core"}},
			wantPaths: map[string]string{"apps-media": "./modules/apps/media", "infra-sec-core-policies": "./policies"},
		},
		{
			name:      "a module brings its dependencies",
			modules:   []string{"media"},
			wantFiles: []string{"kustomization.yaml", "media.yaml", "net-core.yaml", "sec-core.yaml"},
			wantAdded: []string{"net-core", "sec-core"},
			wantDeps: map[string][]string{"apps-media": {"infra-net-core", "infra-sec-core"}, "infra-net-core": nil,
				"infra-sec-core": {"infra-net-core"}, "infra-sec-core-policies": {"infra-sec-core"}},
		},
		{
			name:      "no Kyverno module, no policies",
			modules:   []string{"blog", "net-core"},
			wantFiles: []string{"blog.yaml", "kustomization.yaml", "net-core.yaml"},
			wantDeps:  map[string][]string{"apps-blog": nil, "infra-net-core": nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := flux.Generate(repo, tc.modules)
			require.NoError(t, err)
			var files []string
			for _, f := range out.Files {
				files = append(files, f.Path)
			}
			require.Equal(t, tc.wantFiles, files)
			require.Equal(t, tc.wantAdded, out.Added)
			ks := kustomizations(t, out)
			require.Len(t, ks, len(tc.wantDeps))
			for name, want := range tc.wantDeps {
				k := ks[name]
				require.NotNil(t, k, name)
				require.Equal(t, flux.APIVersion, k.GetApiVersion())
				require.Equal(t, flux.Namespace, k.GetNamespace())
				var got []string
				deps, err := k.Pipe(yaml.Lookup("spec", "dependsOn"))
				require.NoError(t, err)
				if deps != nil {
					for _, e := range deps.Content() {
						got = append(got, yaml.NewRNode(e).Field("name").Value.YNode().Value)
					}
				}
				require.Equal(t, want, got, "dependsOn of %s", name)
				for _, f := range []string{"prune", "wait"} {
					v, err := k.Pipe(yaml.Lookup("spec", f))
					require.NoError(t, err)
					require.Equal(t, "true", yaml.GetValue(v), "%s spec.%s", name, f)
				}
				require.Nil(t, k.Field("spec").Value.Field("postBuild"), "no postBuild")
			}
			for name, want := range tc.wantPaths {
				p, err := ks[name].Pipe(yaml.Lookup("spec", "path"))
				require.NoError(t, err)
				require.Equal(t, want, yaml.GetValue(p))
			}
			var kust string
			for _, f := range out.Files {
				if f.Path == "kustomization.yaml" {
					kust = string(f.Data)
				}
			}
			for _, f := range tc.wantFiles {
				if f != "kustomization.yaml" {
					require.Contains(t, kust, "  - "+f+"\n")
				}
			}
			again, err := flux.Generate(repo, tc.modules)
			require.NoError(t, err)
			require.Equal(t, out.Files, again.Files, "output is deterministic")
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name    string
		mods    map[string]string
		modules []string
		wantErr string
	}{
		{name: "unknown module", mods: testMods, modules: []string{"nope"},
			wantErr: `unknown module "nope"; modules with a Flux Kustomization: blog, media, net-core, sec-core`},
		{name: "component", mods: testMods, modules: []string{"sso"}, wantErr: "module sso is a component"},
		{name: "dependency on a component", mods: map[string]string{"sso": "component\n", "app": "application\n  dependsOn: [sso]\n"},
			wantErr: `modules/apps/app/module.yaml:8:15: module app depends on "sso", which is not a module with a Flux Kustomization of its own`},
		{name: "unknown dependency", mods: map[string]string{"app": "application\n  dependsOn: [ghost]\n"},
			wantErr: `module app depends on "ghost"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flux.Generate(loadRepo(t, writeRepo(t, tc.mods)), tc.modules)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestModuleOfAndDependsOn(t *testing.T) {
	repo := loadRepo(t, writeRepo(t, testMods))
	for _, tc := range []struct {
		name     string
		flux     string
		want     string
		wantDeps []string
	}{
		{name: "application", flux: "apps-media", want: "media", wantDeps: []string{"infra-net-core", "infra-sec-core"}},
		{name: "infrastructure", flux: "infra-sec-core", want: "sec-core", wantDeps: []string{"infra-net-core"}},
		{name: "bare module name", flux: "media"},
		{name: "wrong prefix", flux: "infra-media"},
		{name: "component", flux: "sso"},
		{name: "policies", flux: "infra-sec-core-policies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := flux.ModuleOf(repo, tc.flux)
			if tc.want == "" {
				require.Nil(t, m)
				return
			}
			require.NotNil(t, m)
			require.Equal(t, tc.want, m.Name())
			require.Equal(t, tc.wantDeps, flux.DependsOn(repo, m))
		})
	}
}

func TestWriteAndDiff(t *testing.T) {
	repo := loadRepo(t, writeRepo(t, testMods))
	dir := filepath.Join(t.TempDir(), "cluster")
	all, err := flux.Generate(repo, nil)
	require.NoError(t, err)

	diff, err := all.Diff(dir)
	require.NoError(t, err)
	require.Len(t, diff, len(all.Files), "everything is missing before the first write")
	require.NoError(t, all.Write(dir))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "patch.yaml"), []byte("# hand-written\n"), 0o644))
	diff, err = all.Diff(dir)
	require.NoError(t, err)
	require.Empty(t, diff)

	blog, err := flux.Generate(repo, []string{"blog"})
	require.NoError(t, err)
	diff, err = blog.Diff(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"kustomization.yaml", "media.yaml", "net-core.yaml", "sec-core.yaml"}, diff, "stale generated files differ")
	require.NoError(t, blog.Write(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"blog.yaml", "kustomization.yaml", "patch.yaml"}, names, "stale generated files are removed, others kept")
}
