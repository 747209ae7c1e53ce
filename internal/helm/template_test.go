package helm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// summary is one line per object: kind, namespace/name, template, and hook when it is one.
func summary(objs []Object) []string {
	var out []string
	for _, o := range objs {
		s := fmt.Sprintf("%s %s/%s %s", o.Node.GetKind(), o.Node.GetNamespace(), o.Node.GetName(), o.Template)
		if o.Hook {
			s += " hook"
		}
		out = append(out, s)
	}
	return out
}

// find returns the object of kind and name.
func find(t *testing.T, objs []Object, kind, name string) *yaml.RNode {
	t.Helper()
	for _, o := range objs {
		if o.Node.GetKind() == kind && o.Node.GetName() == name {
			return o.Node
		}
	}
	t.Fatalf("no %s %s among %v", kind, name, summary(objs))
	return nil
}

// field returns the scalar at the dotted path of n.
func field(t *testing.T, n *yaml.RNode, path string) string {
	t.Helper()
	v, err := n.Pipe(yaml.Lookup(splitPath(path)...))
	if err != nil || v == nil {
		t.Fatalf("%s: %v", path, err)
	}
	return yaml.GetValue(v)
}

// node parses YAML.
func node(t *testing.T, s string) *yaml.RNode {
	t.Helper()
	n, err := yaml.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// demoOptions are the options of the demo release.
func demoOptions() Options {
	return Options{ReleaseName: "demo", Namespace: "apps", HelmReleaseName: "demo-hr", HelmReleaseNamespace: "flux-system"}
}

func TestTemplateDemo(t *testing.T) {
	check := hermetic(t)
	defer check()
	ch, err := LoadArchive(chartArchive(t, "demo", demo))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		opts  func(o *Options)
		want  []string
		check func(t *testing.T, objs []Object)
	}{
		{
			name: "defaults",
			want: []string{
				"CustomResourceDefinition /widgets.example.com demo/crds/widgets.yaml",
				"CustomResourceDefinition /gadgets.example.com demo/crds/widgets.yaml",
				"ConfigMap apps/caps demo/templates/capabilities.yaml",
				"ConfigMap other/elsewhere demo/templates/scoped.yaml",
				"ClusterRole /demo-reader demo/templates/scoped.yaml",
				"Deployment apps/demo-web demo/templates/deployment.yaml",
				"Gadget apps/g demo/templates/scoped.yaml",
				"Widget /w demo/templates/scoped.yaml",
				"Job apps/migrate demo/templates/hook.yaml hook",
			},
			check: func(t *testing.T, objs []Object) {
				for _, o := range objs {
					labels := o.Node.GetLabels()
					if labels["helm.toolkit.fluxcd.io/name"] != "demo-hr" || labels["helm.toolkit.fluxcd.io/namespace"] != "flux-system" {
						t.Errorf("%s %s: origin labels = %v", o.Node.GetKind(), o.Node.GetName(), labels)
					}
					_, managed := labels["app.kubernetes.io/managed-by"]
					if want := !o.Hook && o.Node.GetKind() != "CustomResourceDefinition"; managed != want {
						t.Errorf("%s %s: managed-by label = %v, want %v", o.Node.GetKind(), o.Node.GetName(), managed, want)
					}
				}
				caps := find(t, objs, "ConfigMap", "caps")
				for path, want := range map[string]string{"data.kube": "v1.35.0", "data.widget": "true", "data.extra": "false", "data.install": "true", "data.host": "", "data.lookup": "0"} {
					if got := field(t, caps, path); got != want {
						t.Errorf("%s = %q, want %q", path, got, want)
					}
				}
				if a := find(t, objs, "Deployment", "demo-web").GetAnnotations(); a["meta.helm.sh/release-name"] != "demo" || a["meta.helm.sh/release-namespace"] != "apps" {
					t.Errorf("release annotations = %v", a)
				}
			},
		},
		{
			name: "CRD policy Skip leaves the CRDs out",
			opts: func(o *Options) {
				o.CRDs = CRDsSkip
				o.KubeVersion = "1.30"
				o.APIVersions = []string{"extra.example.com/v1"}
			},
			want: []string{
				"ConfigMap apps/caps demo/templates/capabilities.yaml",
				"ConfigMap other/elsewhere demo/templates/scoped.yaml",
				"ClusterRole /demo-reader demo/templates/scoped.yaml",
				"Deployment apps/demo-web demo/templates/deployment.yaml",
				"Gadget apps/g demo/templates/scoped.yaml",
				"Widget /w demo/templates/scoped.yaml",
				"Job apps/migrate demo/templates/hook.yaml hook",
			},
			check: func(t *testing.T, objs []Object) {
				caps := find(t, objs, "ConfigMap", "caps")
				for path, want := range map[string]string{"data.kube": "v1.30.0", "data.widget": "false", "data.extra": "true"} {
					if got := field(t, caps, path); got != want {
						t.Errorf("%s = %q, want %q", path, got, want)
					}
				}
			},
		},
		{
			name: "tests included on request",
			opts: func(o *Options) { o.Tests = true; o.CRDs = CRDsSkip },
			check: func(t *testing.T, objs []Object) {
				find(t, objs, "Pod", "smoke")
			},
		},
		{
			name: "post-renderers, then common metadata, then origin labels",
			opts: func(o *Options) {
				o.Values = map[string]any{"replicas": 2}
				o.PostRenderers = []*yaml.RNode{
					node(t, "kustomize:\n  images:\n  - name: nginx\n    newTag: '1.28'\n"),
					node(t, "kustomize:\n  patches:\n  - patch: |\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        name: demo-web\n        labels:\n          patched: 'yes'\n"),
				}
				o.CommonMetadata = node(t, "labels:\n  team: a\n  helm.toolkit.fluxcd.io/name: other\nannotations:\n  owner: me\n")
			},
			check: func(t *testing.T, objs []Object) {
				d := find(t, objs, "Deployment", "demo-web")
				for path, want := range map[string]string{
					"spec.template.spec.containers.[name=web].image": "nginx:1.28",
					"spec.replicas":           "2",
					"metadata.labels.patched": "yes",
					"metadata.labels.team":    "a",
					"metadata.labels.helm\\.toolkit\\.fluxcd\\.io/name": "demo-hr",
					"metadata.annotations.owner":                        "me",
				} {
					v, err := d.Pipe(yaml.Lookup(splitPath(path)...))
					if err != nil || v == nil || yaml.GetValue(v) != want {
						t.Errorf("%s = %v, want %q", path, v, want)
					}
				}
				if crd := find(t, objs, "CustomResourceDefinition", "widgets.example.com"); crd.GetLabels()["team"] != "" {
					t.Errorf("CRDs are not post-rendered, labels = %v", crd.GetLabels())
				}
			},
		},
		{
			name: "nohooks: hooks skip the post-renderers",
			opts: func(o *Options) { o.PostRenderStrategy = "nohooks" },
			check: func(t *testing.T, objs []Object) {
				if l := find(t, objs, "Job", "migrate").GetLabels(); len(l) != 0 {
					t.Errorf("hook labels = %v", l)
				}
			},
		},
		{
			name: "long release names are shortened",
			opts: func(o *Options) { o.ReleaseName = strings.Repeat("a", 60) },
			check: func(t *testing.T, objs []Object) {
				find(t, objs, "Deployment", strings.Repeat("a", 40)+"-"+shortenName(strings.Repeat("a", 60))[41:]+"-web")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := demoOptions()
			if tc.opts != nil {
				tc.opts(&o)
			}
			objs, err := Template(context.Background(), ch, o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if got := summary(objs); !slices.Equal(got, tc.want) {
					t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
			if tc.check != nil {
				tc.check(t, objs)
			}
		})
	}
}

// splitPath splits a dotted path, keeping escaped dots.
func splitPath(p string) []string {
	parts := strings.Split(strings.ReplaceAll(p, `\.`, "\x00"), ".")
	for i := range parts {
		parts[i] = strings.ReplaceAll(parts[i], "\x00", ".")
	}
	return parts
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		opts    func(o *Options)
		wantErr string
		within  time.Duration
	}{
		{
			name:    "range over a huge list",
			files:   with(minimal, "templates/x.yaml", "{{ range until 100000000 }}x{{ end }}"),
			wantErr: "until",
		},
		{
			name:    "huge repeat",
			files:   with(minimal, "templates/x.yaml", `{{ repeat 1000000000 "x" }}`),
			wantErr: "repeat 1000000000: the result would exceed the 64 MiB output limit",
		},
		{
			name:    "output over the cap",
			files:   with(minimal, "templates/x.yaml", "{{ range until 100000 }}# xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n{{ end }}"),
			opts:    func(o *Options) { o.MaxBytes = 1 << 20 },
			wantErr: "rendered output is larger than the 1 MiB limit",
		},
		{
			name:  "output over the cap before post-rendering",
			files: with(minimal, "templates/x.yaml", "{{ range until 200 }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{{ . }}\ndata:\n  x: {{ repeat 6000 \"x\" }}\n{{ end }}"),
			opts: func(o *Options) {
				o.MaxBytes = 1 << 20
				o.PostRenderers = []*yaml.RNode{node(t, "kustomize:\n  images: [{name: x, newTag: y}]\n")}
			},
			wantErr: "error while running post render on files: rendered output is larger than the 1 MiB limit",
		},
		{
			name:    "deadline",
			files:   with(minimal, "templates/x.yaml", "{{ range until 1500 }}{{ range until 1500 }}{{ end }}{{ end }}"),
			opts:    func(o *Options) { o.Timeout = 50 * time.Millisecond },
			wantErr: "template chart mini: did not finish within 50ms",
			within:  2 * time.Second,
		},
		{
			name:    "missing dependencies",
			files:   with(minimal, "Chart.yaml", "apiVersion: v2\nname: mini\nversion: 0.1.0\ndependencies:\n- {name: b, version: 1.0.0}\n- {name: a, version: 1.0.0}\n"),
			wantErr: "chart mini: dependencies listed in Chart.yaml are missing in charts/: b, a",
		},
		{
			name:    "template error names the file",
			files:   with(minimal, "templates/x.yaml", `{{ required "set foo" .Values.foo }}`),
			wantErr: "mini/templates/x.yaml",
		},
		{
			name:    "not an object",
			files:   with(minimal, "templates/x.yaml", "just: data\n"),
			wantErr: "mini/templates/x.yaml: document is not a Kubernetes object",
		},
		{
			name: "duplicate objects",
			files: with(minimal, "templates/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
				"templates/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"),
			wantErr: "ConfigMap default/c is rendered twice",
		},
		{
			name:    "schema violation",
			files:   with(minimal, "values.schema.json", `{"type": "object", "properties": {"replicas": {"type": "integer"}}, "required": ["replicas"]}`),
			wantErr: "values don't meet the specifications of the schema(s) in the following chart(s):\nmini:",
		},
		{
			name:    "kube version",
			files:   with(minimal, "Chart.yaml", "apiVersion: v2\nname: mini\nversion: 0.1.0\nkubeVersion: '>=1.40.0'\n"),
			wantErr: "chart requires kubeVersion: >=1.40.0 which is incompatible with Kubernetes v1.35.0",
		},
		{
			name:    "invalid CRD policy",
			files:   minimal,
			opts:    func(o *Options) { o.CRDs = "Replace" },
			wantErr: `invalid CRD policy "Replace"`,
		},
		{
			name:    "invalid release name",
			files:   minimal,
			opts:    func(o *Options) { o.ReleaseName = "Not_Valid" },
			wantErr: `release name "Not_Valid"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := LoadArchive(chartArchive(t, "mini", tc.files))
			if err != nil {
				t.Fatal(err)
			}
			o := Options{ReleaseName: "mini", Namespace: "default", HelmReleaseName: "mini", HelmReleaseNamespace: "default"}
			if tc.opts != nil {
				tc.opts(&o)
			}
			start := time.Now()
			_, err = Template(context.Background(), ch, o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			if tc.within > 0 && time.Since(start) > tc.within {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
}

func TestTemplateSchema(t *testing.T) {
	// A remote reference is not fetched: it validates as the permissive schema.
	files := with(minimal, "values.schema.json", `{"type": "object", "properties": {"replicas": {"type": "integer"}, "remote": {"$ref": "https://schemas.invalid/x.json"}}}`,
		"values.yaml", "replicas: 1\nremote: {any: thing}\n",
		"templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {replicas: {{ .Values.replicas | quote }}}\n")
	ch, err := LoadArchive(chartArchive(t, "mini", files))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{ReleaseName: "mini", Namespace: "default", HelmReleaseName: "mini", HelmReleaseNamespace: "default"}
	if _, err := Template(context.Background(), ch, o); err != nil {
		t.Fatal(err)
	}
	o.Values = map[string]any{"replicas": "three"}
	if _, err := Template(context.Background(), ch, o); err == nil || !strings.Contains(err.Error(), "replicas") {
		t.Fatalf("error = %v", err)
	}
	o.DisableSchemaValidation = true
	if _, err := Template(context.Background(), ch, o); err != nil {
		t.Fatal(err)
	}
}

// kyvernoOptions are the options of a kyverno release in namespace kyverno.
// kyvernoOptions are the options of the kyverno chart's tests. Their deadline is far above the
// default: these tests check what the chart renders, not how fast, and the race detector on a
// loaded machine can take longer than the default allows (TestTemplate checks the deadline with a looping chart).
func kyvernoOptions() Options {
	return Options{ReleaseName: "kyverno", Namespace: "kyverno", HelmReleaseName: "kyverno", HelmReleaseNamespace: "flux-system",
		Timeout: 10 * time.Minute}
}

func TestKyvernoMissingDependencies(t *testing.T) {
	ch, err := LoadDir(kyvernoDir(t), "charts/kyverno")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Template(context.Background(), ch, kyvernoOptions())
	if want := "missing in charts/: kyverno-api, openreports, reports-server"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

// kyvernoArchive packages the kyverno chart with Helm's own packager and returns the archive.
func kyvernoArchive(t testing.TB) []byte {
	t.Helper()
	dir := t.TempDir()
	file, err := chartutil.Save(kyvernoChart(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestTemplateKyverno(t *testing.T) {
	data := kyvernoArchive(t)
	check := hermetic(t)
	defer check()
	fromArchive, err := LoadArchive(data)
	if err != nil {
		t.Fatal(err)
	}
	values, err := ComposeValues(
		[]ValuesReference{{Kind: "ConfigMap", Name: "kyverno-values"}, {Kind: "Secret", Name: "kyverno-tag", ValuesKey: "tag", TargetPath: "admissionController.container.image.tag"}},
		map[string]any{"backgroundController": map[string]any{"replicas": 2}},
		func(kind, name string) (map[string]string, bool) {
			switch kind + "/" + name {
			case "ConfigMap/kyverno-values":
				return map[string]string{"values.yaml": "admissionController:\n  replicas: 3\n"}, true
			case "Secret/kyverno-tag":
				return map[string]string{"tag": "v1.19.1-test"}, true
			}
			return nil, false
		})
	if err != nil {
		t.Fatal(err)
	}
	o := kyvernoOptions()
	o.Values = values
	o.PostRenderers = []*yaml.RNode{node(t, `kustomize:
  patches:
  - target: {kind: Deployment, name: kyverno-cleanup-controller}
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/image
        value: registry.example.com/cleanup:patched
`)}
	objs, err := Template(context.Background(), fromArchive, o)
	if err != nil {
		t.Fatal(err)
	}
	replicas := map[string]string{"kyverno-admission-controller": "3", "kyverno-background-controller": "2"}
	var deployments []string
	for _, obj := range objs {
		if obj.Node.GetKind() != "Deployment" {
			continue
		}
		n := obj.Node
		deployments = append(deployments, n.GetNamespace()+"/"+n.GetName())
		if l := n.GetLabels(); l["helm.toolkit.fluxcd.io/name"] != "kyverno" || l["helm.toolkit.fluxcd.io/namespace"] != "flux-system" {
			t.Errorf("%s: labels = %v", n.GetName(), l)
		}
		if want, ok := replicas[n.GetName()]; ok && field(t, n, "spec.replicas") != want {
			t.Errorf("%s: replicas = %s, want %s", n.GetName(), field(t, n, "spec.replicas"), want)
		}
	}
	want := []string{"kyverno/kyverno-admission-controller", "kyverno/kyverno-background-controller", "kyverno/kyverno-cleanup-controller", "kyverno/kyverno-reports-controller"}
	if !slices.Equal(deployments, want) {
		t.Errorf("deployments = %v, want %v", deployments, want)
	}
	admission := find(t, objs, "Deployment", "kyverno-admission-controller")
	if img := field(t, admission, "spec.template.spec.containers.[name=kyverno].image"); !strings.HasSuffix(img, ":v1.19.1-test") {
		t.Errorf("admission controller image = %s", img)
	}
	if img := field(t, find(t, objs, "Deployment", "kyverno-cleanup-controller"), "spec.template.spec.containers.[name=controller].image"); img != "registry.example.com/cleanup:patched" {
		t.Errorf("cleanup controller image = %s", img)
	}
	for _, obj := range objs {
		if obj.Node.GetKind() == "ClusterRole" && obj.Node.GetNamespace() != "" {
			t.Errorf("ClusterRole %s has namespace %s", obj.Node.GetName(), obj.Node.GetNamespace())
		}
	}

	// The directory and the packaged chart template the same objects, in the same order (the
	// post-renderer patch changes no object's identity).
	o.PostRenderers = nil
	fromDir, err := Template(context.Background(), kyvernoChart(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := summary(objs), summary(fromDir); !slices.Equal(a, b) {
		t.Errorf("archive and directory differ:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// hermetic points the home, cache, config, data and temporary directories at an empty
// directory, and proxies at a closed port, for the rest of the test: templating must leave
// the directory empty and never need a proxy.
func hermetic(t *testing.T) (check func()) {
	t.Helper()
	home := t.TempDir()
	for _, v := range []string{"HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "TMPDIR", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "HELM_REGISTRY_CONFIG"} {
		t.Setenv(v, filepath.Join(home, strings.ToLower(v)))
	}
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	return func() {
		t.Helper()
		entries, err := os.ReadDir(home)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) > 0 {
			t.Errorf("templating wrote to %v", entries)
		}
	}
}

func TestTemplateLeavesChartAndValues(t *testing.T) {
	files := with(minimal,
		"Chart.yaml", "apiVersion: v2\nname: mini\nversion: 0.1.0\ndependencies:\n- {name: sub, version: 0.1.0, condition: child.enabled, alias: child}\n",
		"charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
		"charts/sub/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\n")
	ch, err := LoadArchive(chartArchive(t, "mini", files))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"child": map[string]any{"enabled": false}}
	o := Options{ReleaseName: "mini", Namespace: "default", HelmReleaseName: "mini", HelmReleaseNamespace: "default", Values: values}
	for _, enabled := range []bool{false, true, false} {
		values["child"].(map[string]any)["enabled"] = enabled
		objs, err := Template(context.Background(), ch, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(objs); got != map[bool]int{false: 0, true: 1}[enabled] {
			t.Errorf("enabled=%v: %d objects", enabled, got)
		}
	}
	if n := len(ch.Dependencies()); n != 1 || ch.Metadata.Dependencies[0].Name != "sub" {
		t.Errorf("chart modified: %d dependencies, %v", n, ch.Metadata.Dependencies[0])
	}
}

func BenchmarkTemplateKyverno(b *testing.B) {
	ch := kyvernoChart(b)
	o := kyvernoOptions()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Template(context.Background(), ch, o); err != nil {
			b.Fatal(err)
		}
	}
}
