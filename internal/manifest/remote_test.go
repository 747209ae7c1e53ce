package manifest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

func TestIsRemote(t *testing.T) {
	tests := []struct {
		ref  string
		want bool
	}{
		{ref: "deployment.yaml", want: false},
		{ref: "../base", want: false},
		{ref: "./github.com-mirror/app", want: false},
		{ref: "dir/with:colon.yaml", want: false},
		{ref: "https://example.com/x.yaml", want: true},
		{ref: "HTTP://example.com/x.yaml", want: true},
		{ref: "  http://example.com/x.yaml", want: true},
		{ref: "ssh://git@example.com/org/repo", want: true},
		{ref: "file:///nonexistent/x?ref=--upload-pack=id%3E/tmp/PWNED%3Bfalse", want: true},
		{ref: "git@github.com:org/repo.git", want: true},
		{ref: "deploy@host:org/repo", want: true},
		{ref: "github.com/org/repo//path?ref=v1", want: true},
		{ref: "GitHub.com:org/repo", want: true},
		{ref: "git::https://example.com/org/repo", want: true},
		{ref: "oci://registry/x", want: true},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			require.Equal(t, tc.want, IsRemote(tc.ref))
		})
	}
}

// TestRenderNeverFetches puts a remote reference in every kustomization field that kustomize
// loads, pointing at a loopback server, and checks that the server receives nothing, that no
// temporary directory is created, that each reference is reported at its line, and that the
// module's local objects still render.
func TestRenderNeverFetches(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n")
	}))
	defer srv.Close()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	marker := t.TempDir() + "/PWNED"
	u := srv.URL
	kust := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ok.yaml
  - ` + u + `/resource.yaml
  - file:///nonexistent/x?ref=--upload-pack=touch%20` + marker + `%3Bfalse
  - github.com/org/repo//deploy?ref=v1
  - git@` + strings.TrimPrefix(u, "http://") + `:org/repo
  - ssh://git@` + strings.TrimPrefix(u, "http://") + `/org/repo
bases:
  - ` + u + `/base
components:
  - ` + u + `/component
crds:
  - ` + u + `/crd.yaml
configurations:
  - ` + u + `/config.yaml
patchesStrategicMerge:
  - ` + u + `/psm.yaml
patches:
  - path: ` + u + `/patch.yaml
  - patch: |-
      - op: add
        path: /metadata/annotations
        value: {a: b}
    target: {kind: ConfigMap}
patchesJson6902:
  - path: ` + u + `/json.yaml
    target: {kind: ConfigMap, name: ok}
replacements:
  - path: ` + u + `/replacements.yaml
transformers:
  - transformer.yaml
  - |-
    apiVersion: builtin
    kind: PatchStrategicMergeTransformer
    metadata: {name: inline}
    paths: [` + u + `/inline.yaml]
openapi:
  path: ` + u + `/openapi.json
configMapGenerator:
  - name: gen
    files: [local.txt, key=` + u + `/file.txt]
    envs: [` + u + `/envs.env]
secretGenerator:
  - name: sec
    env: ` + u + `/env.env
    literals: [a=b]
`
	root := testutil.WriteRepo(t, map[string]string{
		"modules/apps/a/kustomization.yaml": kust,
		"modules/apps/a/ok.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
		"modules/apps/a/local.txt":          "hello\n",
		"modules/apps/a/transformer.yaml":   "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: " + u + "/transformer-patch.yaml\ntarget: {kind: ConfigMap}\n",
	})
	objs, remotes, err := newRenderer(root).Render(context.Background(), "modules/apps/a", "a")
	require.NoError(t, err)
	require.Zero(t, hits.Load(), "the loopback server received requests")
	_, statErr := os.Stat(marker)
	require.True(t, os.IsNotExist(statErr), "git ran a command: %s exists", marker)
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, entries, "rendering created temporary files")

	var got []string
	for _, r := range remotes {
		got = append(got, r.Pos.String()+" "+r.Field)
	}
	require.Equal(t, []string{
		"modules/apps/a/kustomization.yaml:5:5 resources",
		"modules/apps/a/kustomization.yaml:6:5 resources",
		"modules/apps/a/kustomization.yaml:7:5 resources",
		"modules/apps/a/kustomization.yaml:8:5 resources",
		"modules/apps/a/kustomization.yaml:9:5 resources",
		"modules/apps/a/kustomization.yaml:11:5 bases",
		"modules/apps/a/kustomization.yaml:13:5 components",
		"modules/apps/a/kustomization.yaml:15:5 crds",
		"modules/apps/a/kustomization.yaml:17:5 configurations",
		"modules/apps/a/kustomization.yaml:19:5 patchesStrategicMerge",
		"modules/apps/a/kustomization.yaml:21:11 patches.path",
		"modules/apps/a/kustomization.yaml:28:11 patchesJson6902.path",
		"modules/apps/a/kustomization.yaml:31:11 replacements.path",
		"modules/apps/a/kustomization.yaml:34:5 transformers",
		"modules/apps/a/kustomization.yaml:40:9 openapi.path",
		"modules/apps/a/kustomization.yaml:43:24 configMapGenerator.files",
		"modules/apps/a/kustomization.yaml:44:12 configMapGenerator.envs",
		"modules/apps/a/kustomization.yaml:47:10 secretGenerator.env",
		"modules/apps/a/transformer.yaml:5:7 transformers",
	}, got)
	var names []string
	for _, o := range objs {
		names = append(names, o.Ref.Kind+"/"+strings.SplitN(o.Ref.Name, "-", 2)[0])
	}
	require.Equal(t, []string{"ConfigMap/ok", "ConfigMap/gen", "Secret/sec"}, names)
	require.Equal(t, map[string]string{"local.txt": "hello\n"}, objs[1].Node.GetDataMap(), "local generator files are kept")
	require.Equal(t, "b", objs[0].Node.GetAnnotations()["a"], "the local inline patch still applies")
}

// TestRenderLimits checks that work without bound is refused before or while kustomize runs.
func TestRenderLimits(t *testing.T) {
	nested := map[string]string{}
	const depth = 12
	for i := 0; i < depth; i++ {
		dir := fmt.Sprintf("modules/apps/a/l%d", i)
		if i == 0 {
			dir = "modules/apps/a"
		}
		next := "l1"
		if i > 0 {
			next = fmt.Sprintf("../l%d", i+1)
		}
		if i == depth-1 {
			nested[dir+"/kustomization.yaml"] = "resources: [cm.yaml]\n"
			nested[dir+"/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaf\n"
			continue
		}
		// The same base three times, through three names (kustomize builds each).
		nested[dir+"/kustomization.yaml"] = fmt.Sprintf("resources: [%[1]s, ./%[1]s, %[1]s/]\n", next)
	}
	many := make([]string, 6000)
	for i := range many {
		many[i] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n", i)
	}
	tests := []struct {
		name    string
		files   map[string]string
		vars    map[string]string
		wantErr string
	}{
		{name: "bases listed several times at every level", files: nested, wantErr: "kustomize would build 265720 kustomizations"},
		{name: "too many objects", files: map[string]string{
			"modules/apps/a/kustomization.yaml": "resources: [many.yaml]\n",
			"modules/apps/a/many.yaml":          strings.Join(many, "---\n"),
		}, wantErr: "kustomize would read 6000 documents for this module; the limit is 5000 objects"},
		{name: "large value referenced many times", files: map[string]string{
			"modules/apps/a/kustomization.yaml": "resources: [cm.yaml]\n",
			"modules/apps/a/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: " + strings.Repeat("${big}", 100) + "\n",
		}, vars: map[string]string{"big": strings.Repeat("x", 3<<20)}, wantErr: "the result of substitution is larger than the limit of 4 MiB"},
		{name: "alias bomb in a substitution value", files: map[string]string{
			"modules/apps/a/kustomization.yaml": "resources: [cm.yaml]\n",
			"modules/apps/a/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: ${bomb}\n",
		}, vars: map[string]string{"bomb": "x\n  b: &a [\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\"]\n" + bombLevels()}, wantErr: "alias bomb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.WriteRepo(t, tc.files)
			r := newRenderer(root)
			if tc.vars != nil {
				r.Vars = tc.vars
			}
			_, _, err := r.Render(context.Background(), "modules/apps/a", "a")
			require.ErrorContains(t, err, tc.wantErr)
			var re *RenderError
			require.ErrorAs(t, err, &re)
		})
	}
}

// bombLevels returns the levels of a billion-laughs mapping, indented as values of data.
func bombLevels() string {
	var b strings.Builder
	prev := "a"
	for i := 0; i < 9; i++ {
		name := fmt.Sprintf("b%d", i)
		fmt.Fprintf(&b, "  %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	return b.String()
}

func TestRenderDeadline(t *testing.T) {
	root := testutil.WriteRepo(t, map[string]string{
		"modules/apps/a/kustomization.yaml": "resources: [cm.yaml]\n",
		"modules/apps/a/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
	})
	r := newRenderer(root)
	r.Limits.Timeout = time.Nanosecond
	_, _, err := r.Render(context.Background(), "modules/apps/a", "a")
	require.ErrorContains(t, err, "kustomize did not finish within 1ns")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = newRenderer(root).Render(ctx, "modules/apps/a", "a")
	require.ErrorIs(t, err, context.Canceled)
}
