package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// renderModule renders the module in dir. The renderer bounds its own work (Limits), so a test
// does not time it: a render that never ends is stopped by go test's -timeout.
func renderModule(r *Renderer, dir string) ([]*Object, error) {
	objs, _, err := r.Render(context.Background(), dir, lastElem(dir))
	return objs, err
}

// lastElem returns the last element of a slash-separated path: the module name of a module dir.
func lastElem(dir string) string { return dir[strings.LastIndex(dir, "/")+1:] }

func newRenderer(root string) *Renderer {
	return &Renderer{Root: root, Vars: map[string]string{"cluster_domain": "example.com"}, Sources: NewSources(root)}
}

const mediaKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: media
resources:
  - namespace.yaml
  - app.yaml
components:
  - ../../components/sso
labels:
  - pairs:
      polc.dev/module: media
`

const mediaApp = `# Jellyfin, its service and configuration
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: jellyfin
spec:
  template:
    spec:
      containers:
        - name: jellyfin
          image: jellyfin/jellyfin:10.9.0
---
apiVersion: v1
kind: Service
metadata:
  name: jellyfin
spec:
  ports:
    - port: 8096
---
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: jellyfin-config
data:
  url: https://media.${cluster_domain}
  port: ${port:=8096}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: jellyfin-script
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  run.sh: echo ${HOME} ${cluster_domain}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: jellyfin-labelled
  labels:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  run.sh: echo ${HOME}
`

const ssoKustomization = `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
  - oauth2-proxy.yaml
`

const ssoProxy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: oauth2-proxy
spec:
  template:
    spec:
      containers:
        - name: proxy
          image: quay.io/oauth2-proxy/oauth2-proxy:v7.6.0
`

func mediaRepo(t *testing.T) string {
	return testutil.WriteRepo(t, map[string]string{
		"modules/apps/media/kustomization.yaml":            mediaKustomization,
		"modules/apps/media/namespace.yaml":                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
		"modules/apps/media/app.yaml":                      mediaApp,
		"modules/components/sso/kustomization.yaml":        ssoKustomization,
		"modules/components/sso/oauth2-proxy.yaml":         ssoProxy,
		"modules/components/sso/module.yaml":               "not read by the renderer\n",
		"modules/apps/media/unreferenced-configmap.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unused\n",
		"modules/apps/media/CHANGELOG.md":                  "# Changelog\n",
		"modules/infrastructure/storage-core/module.yaml":  "not read either\n",
		"modules/infrastructure/storage-core/unrelated.md": "\n",
	})
}

func TestRenderPositions(t *testing.T) {
	root := mediaRepo(t)
	objs, err := renderModule(newRenderer(root), "modules/apps/media")
	require.NoError(t, err)

	type want struct {
		ref string
		pos string
	}
	var got []want
	for _, o := range objs {
		got = append(got, want{ref: o.Ref.String(), pos: o.Pos.String()})
		require.Equal(t, "media", o.Module)
		require.Equal(t, "media", o.Node.GetLabels()["polc.dev/module"], "labels transformer applied to %s", o.Ref)
		for key := range o.Node.GetAnnotations() {
			require.NotContains(t, key, "config.kubernetes.io", "internal annotation %s left on %s", key, o.Ref)
		}
	}
	require.Equal(t, []want{
		{ref: "Namespace/media", pos: "modules/apps/media/namespace.yaml:1:1"},
		{ref: "Deployment/media/jellyfin", pos: "modules/apps/media/app.yaml:3:1"},
		{ref: "Service/media/jellyfin", pos: "modules/apps/media/app.yaml:14:1"},
		{ref: "ConfigMap/media/jellyfin-config", pos: "modules/apps/media/app.yaml:23:1"},
		{ref: "ConfigMap/media/jellyfin-script", pos: "modules/apps/media/app.yaml:31:1"},
		{ref: "ConfigMap/media/jellyfin-labelled", pos: "modules/apps/media/app.yaml:40:1"},
		{ref: "Deployment/media/oauth2-proxy", pos: "modules/components/sso/oauth2-proxy.yaml:1:1"},
	}, got, "objects in input order, components last, each at the line of its document")

	fields := []struct {
		name  string
		obj   int
		field string
		want  string
	}{
		{name: "container image in a later document", obj: 1, field: "spec.template.spec.containers[0].image", want: "modules/apps/media/app.yaml:12:18"},
		{name: "sequence item", obj: 2, field: "spec.ports[0].port", want: "modules/apps/media/app.yaml:20:13"},
		{name: "field added by kustomize falls back to the nearest written parent", obj: 1, field: "metadata.labels[polc.dev/module]", want: "modules/apps/media/app.yaml:6:3"},
		{name: "namespace set by kustomize falls back to metadata", obj: 3, field: "metadata.namespace", want: "modules/apps/media/app.yaml:26:3"},
		{name: "key with dots in brackets", obj: 4, field: "metadata.annotations[kustomize.toolkit.fluxcd.io/substitute]", want: "modules/apps/media/app.yaml:36:45"},
		{name: "object in a component", obj: 6, field: "spec.template.spec.containers[0].name", want: "modules/components/sso/oauth2-proxy.yaml:9:17"},
		{name: "empty field path is the object", obj: 2, field: "", want: "modules/apps/media/app.yaml:14:1"},
	}
	for _, tc := range fields {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, objs[tc.obj].FieldPos(tc.field).String())
		})
	}

	t.Run("substitution applied, with defaults", func(t *testing.T) {
		data := objs[3].Node.GetDataMap()
		require.Equal(t, "https://media.example.com", data["url"])
		require.Equal(t, "8096", data["port"])
	})
	t.Run("substitute: disabled is honoured as an annotation and as a label", func(t *testing.T) {
		require.Equal(t, "echo ${HOME} ${cluster_domain}", objs[4].Node.GetDataMap()["run.sh"])
		require.Equal(t, "echo ${HOME}", objs[5].Node.GetDataMap()["run.sh"])
	})
}

func TestRenderErrors(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(outside, "base"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "base/kustomization.yaml"), []byte("resources: [cm.yaml]\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "base/cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\n"), 0o644))

	bomb := billionLaughsConfigMap()
	tests := []struct {
		name  string
		files map[string]string
		// links are symlinks to create: path in the repository -> target (absolute, or "OUTSIDE/x").
		links map[string]string
		// wantErr must be contained in the error; wantPos is the error's position.
		wantErr []string
		wantPos string
	}{
		{
			name: "resource path escaping the repository",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources:\n  - ok.yaml\n  - ../../../../outside/secret.yaml\n",
				"modules/apps/a/ok.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
			},
			wantErr: []string{`modules/apps/a/kustomization.yaml:3:5: resources entry "../../../../outside/secret.yaml": path leaves the repository`},
			wantPos: "modules/apps/a/kustomization.yaml:3:5",
		},
		{
			name: "resource path leaving the kustomization but not the repository",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources:\n  - ../../../outside/secret.yaml\n",
				"outside/secret.yaml":               "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
			},
			wantErr: []string{"security; file 'outside/secret.yaml' is not in or below 'modules/apps/a'"},
			wantPos: "modules/apps/a/kustomization.yaml",
		},
		{
			name: "resource file symlinked outside the repository",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources:\n  - secret.yaml\n",
			},
			links:   map[string]string{"modules/apps/a/secret.yaml": "OUTSIDE/secret.yaml"},
			wantErr: []string{`modules/apps/a/kustomization.yaml:2:5: resources entry "secret.yaml": symlink points outside the repository (not followed)`},
			wantPos: "modules/apps/a/kustomization.yaml:2:5",
		},
		{
			name: "resource directory symlinked outside the repository",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources:\n  - base\n",
			},
			links:   map[string]string{"modules/apps/a/base": "OUTSIDE/base"},
			wantErr: []string{`modules/apps/a/kustomization.yaml:2:5: resources entry "base": symlink points outside the repository (not followed)`},
			wantPos: "modules/apps/a/kustomization.yaml:2:5",
		},
		{
			name: "patch file symlinked outside the repository",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources: [ok.yaml]\npatches:\n  - path: patch.yaml\n",
				"modules/apps/a/ok.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
			},
			links:   map[string]string{"modules/apps/a/patch.yaml": "OUTSIDE/secret.yaml"},
			wantErr: []string{`modules/apps/a/kustomization.yaml:3:11: patches.path entry "patch.yaml": symlink points outside the repository (not followed)`},
			wantPos: "modules/apps/a/kustomization.yaml:3:11",
		},
		{
			name:    "kustomization symlinked outside the repository",
			files:   map[string]string{"modules/apps/a/README.md": "\n"},
			links:   map[string]string{"modules/apps/a/kustomization.yaml": "OUTSIDE/base/kustomization.yaml"},
			wantErr: []string{"modules/apps/a/kustomization.yaml: symlink points outside the repository (not followed)"},
			wantPos: "modules/apps/a/kustomization.yaml",
		},
		{
			name: "alias bomb in a resource",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources:\n  - ok.yaml\n  - bomb.yaml\n",
				"modules/apps/a/ok.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
				"modules/apps/a/bomb.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\n" + bomb,
			},
			wantErr: []string{"modules/apps/a/bomb.yaml:6:1: YAML aliases expand this document by more than 100000 nodes (alias bomb?)"},
			wantPos: "modules/apps/a/bomb.yaml:6:1",
		},
		{
			name: "alias bomb in the kustomization",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources: []\n" + strings.Replace(bomb, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n", "", 1),
			},
			wantErr: []string{"modules/apps/a/kustomization.yaml:1:1: YAML aliases expand"},
			wantPos: "modules/apps/a/kustomization.yaml:1:1",
		},
		{
			name: "alias bomb in a component of a base",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml":       "resources:\n  - ../../base\n",
				"modules/base/kustomization.yaml":         "resources: []\ncomponents: [../components/c]\n",
				"modules/components/c/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [bomb.yaml]\n",
				"modules/components/c/bomb.yaml":          bomb,
			},
			wantErr: []string{"modules/components/c/bomb.yaml:1:1: YAML aliases expand"},
			wantPos: "modules/components/c/bomb.yaml:1:1",
		},
		{
			name: "alias bomb in a patch file",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources: [ok.yaml]\npatches:\n  - path: patch.yaml\n",
				"modules/apps/a/ok.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n",
				"modules/apps/a/patch.yaml":         bomb,
			},
			wantErr: []string{"modules/apps/a/patch.yaml:1:1: YAML aliases expand"},
			wantPos: "modules/apps/a/patch.yaml:1:1",
		},
		{
			name: "alias bomb in an inline patch",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources: [ok.yaml]\npatches:\n  - patch: |-\n" + indent(bomb, "      ") + "\n",
				"modules/apps/a/ok.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n",
			},
			wantErr: []string{"modules/apps/a/kustomization.yaml:3:12: YAML aliases expand"},
			wantPos: "modules/apps/a/kustomization.yaml:3:12",
		},
		{
			name: "variables without a value",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources: [cm.yaml]\n",
				"modules/apps/a/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: ${zone}\n  b: ${region}-${zone}\n",
			},
			wantErr: []string{"variables without a value or default (set them in polc.yaml spec.substitute): ${region} in ConfigMap/cm, ${zone} in ConfigMap/cm"},
			wantPos: "modules/apps/a/kustomization.yaml",
		},
		{
			name: "missing resource",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources: [gone.yaml]\n",
			},
			wantErr: []string{"gone.yaml"},
			wantPos: "modules/apps/a/kustomization.yaml",
		},
		{
			name: "invalid YAML in a resource",
			files: map[string]string{
				"modules/apps/a/kustomization.yaml": "resources: [bad.yaml]\n",
				"modules/apps/a/bad.yaml":           "apiVersion: v1\nkind: [\n",
			},
			wantErr: []string{"bad.yaml"},
			wantPos: "modules/apps/a/kustomization.yaml",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.WriteRepo(t, tc.files)
			for link, target := range tc.links {
				target = strings.Replace(target, "OUTSIDE", outside, 1)
				require.NoError(t, os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))))
			}
			_, err := renderModule(newRenderer(root), "modules/apps/a")
			require.Error(t, err)
			require.NotErrorIs(t, err, context.DeadlineExceeded, "refused before kustomize runs, not stopped by the deadline")
			for _, w := range tc.wantErr {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), root, "messages name repository-relative paths")
			var re *RenderError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.wantPos, re.Pos.String())
		})
	}
}

// billionLaughsConfigMap is a ConfigMap whose data aliases would expand to 9^9 nodes.
func billionLaughsConfigMap() string {
	return testutil.AliasBomb("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n")
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func TestParseFileRefusesAliasBomb(t *testing.T) {
	// The bomb must be caught before kustomize decodes it.
	src := billionLaughsConfigMap()
	f := ParseFile("bomb.yaml", []byte(src))
	require.EqualError(t, f.Err, "bomb.yaml:1:1: YAML aliases expand this document by more than 100000 nodes (alias bomb?)")
	require.Empty(t, f.Docs)

	// Finding it out costs work linear in the document as written: the expansion count visits each
	// written node once (BenchmarkParseFileAliasBomb measures the time).
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(src), &doc))
	top := doc.Content[0]
	nodes, aliases := count(top)
	require.Positive(t, aliases)
	limit := nodes + maxAliasExpansion
	visited := map[*yaml.Node]int{}
	require.Greater(t, expansion(top, visited, limit), limit)
	require.LessOrEqual(t, len(visited), nodes, "each written node is counted at most once")
}

// BenchmarkParseFileAliasBomb measures the refusal of a billion-laughs document.
func BenchmarkParseFileAliasBomb(b *testing.B) {
	src := []byte(billionLaughsConfigMap())
	for b.Loop() {
		if f := ParseFile("bomb.yaml", src); f.Err == nil {
			b.Fatal("the alias bomb was not refused")
		}
	}
}

func TestParseFile(t *testing.T) {
	t.Run("multi-document positions are absolute and empty documents skipped", func(t *testing.T) {
		f := ParseFile("app.yaml", []byte(mediaApp))
		require.NoError(t, f.Err)
		var got []string
		for _, d := range f.Docs {
			got = append(got, d.Node.GetKind()+"/"+d.Node.GetName()+" "+d.Pos.String())
		}
		require.Equal(t, []string{
			"Deployment/jellyfin app.yaml:3:1",
			"Service/jellyfin app.yaml:14:1",
			"ConfigMap/jellyfin-config app.yaml:23:1",
			"ConfigMap/jellyfin-script app.yaml:31:1",
			"ConfigMap/jellyfin-labelled app.yaml:40:1",
		}, got)
	})
	t.Run("a large document without aliases is not a bomb", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n")
		for i := 0; i < 150_000; i++ {
			b.WriteString("  k" + strconv.Itoa(i) + ": v\n")
		}
		f := ParseFile("big.yaml", []byte(b.String()))
		require.NoError(t, f.Err)
		require.Len(t, f.Docs, 1)
	})
	t.Run("a few aliases are fine", func(t *testing.T) {
		f := ParseFile("a.yaml", []byte("a: &x {b: 1}\nc: *x\nd: *x\n"))
		require.NoError(t, f.Err)
	})
	t.Run("invalid YAML", func(t *testing.T) {
		f := ParseFile("bad.yaml", []byte("a: 1\n---\nb: [\n"))
		require.EqualError(t, f.Err, "bad.yaml:3:1: invalid YAML: did not find expected node content")
	})
}

func TestRepoFSNeverWrites(t *testing.T) {
	root := testutil.WriteRepo(t, map[string]string{"a.yaml": "a: 1\n"})
	fs := newRepoFS(root, nil, nil)
	p := filepath.Join(root, "new.yaml")
	_, err := fs.Create(p)
	require.ErrorIs(t, err, errReadOnly)
	require.ErrorIs(t, fs.WriteFile(p, []byte("x")), errReadOnly)
	require.ErrorIs(t, fs.WriteFile(filepath.Join(root, "a.yaml"), []byte("x")), errReadOnly)
	require.ErrorIs(t, fs.Mkdir(filepath.Join(root, "d")), errReadOnly)
	require.ErrorIs(t, fs.MkdirAll(filepath.Join(root, "d/e")), errReadOnly)
	require.ErrorIs(t, fs.RemoveAll(filepath.Join(root, "a.yaml")), errReadOnly)
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing was created or removed")
	data, err := os.ReadFile(filepath.Join(root, "a.yaml"))
	require.NoError(t, err)
	require.Equal(t, "a: 1\n", string(data))

	data, err = fs.ReadFile(filepath.Join(root, "a.yaml"))
	require.NoError(t, err)
	require.Equal(t, "a: 1\n", string(data))
	_, err = fs.ReadFile("/etc/hostname")
	require.Error(t, err)
	_, err = fs.Open("/etc/hostname")
	require.Error(t, err)
}

func TestRenderDoesNotWrite(t *testing.T) {
	root := mediaRepo(t)
	before := snapshot(t, root)
	_, err := renderModule(newRenderer(root), "modules/apps/media")
	require.NoError(t, err)
	require.Equal(t, before, snapshot(t, root))
}

// snapshot maps every path under root to its content and mode.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		data := ""
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data = string(b)
		}
		out[p] = info.Mode().String() + " " + info.ModTime().String() + " " + data
		return nil
	}))
	return out
}

func TestRenderConcurrentlySharesSources(t *testing.T) {
	// Two modules include the same component; one Renderer (and its Sources cache) serves both
	// from several goroutines, as polc check does. Run with -race.
	root := mediaRepo(t)
	require.NoError(t, os.MkdirAll(filepath.Join(root, "modules/apps/other"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "modules/apps/other/kustomization.yaml"),
		[]byte("namespace: other\ncomponents:\n  - ../../components/sso\n"), 0o644))
	r := newRenderer(root)
	type result struct {
		dir  string
		objs []*Object
		err  error
	}
	results := make(chan result)
	dirs := []string{"modules/apps/media", "modules/apps/other"}
	for i := 0; i < 8; i++ {
		dir := dirs[i%2]
		go func() {
			objs, _, err := r.Render(context.Background(), dir, lastElem(dir))
			results <- result{dir, objs, err}
		}()
	}
	for i := 0; i < 8; i++ {
		res := <-results
		require.NoError(t, res.err)
		last := res.objs[len(res.objs)-1]
		require.Equal(t, "oauth2-proxy", last.Ref.Name)
		require.Equal(t, lastElem(res.dir), last.Ref.Namespace)
		require.Equal(t, "modules/components/sso/oauth2-proxy.yaml:1:1", last.Pos.String())
	}
}
