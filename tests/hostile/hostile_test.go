// Package hostile runs the built polc binary on repositories written by an attacker: one case per
// class of attack in SECURITY.md. Every case asserts the exit code and the message, and that polc
// started no program (a marker file that a command injected through git would create stays
// absent), reached no server (a loopback HTTP server, which never answers, receives no request),
// created no temporary file, and changed nothing outside the output it was asked to write.
package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// polcBin is the binary under test, built once by TestMain.
var polcBin string

func TestMain(m *testing.M) {
	bin, remove, err := testutil.BuildPolc("../../cmd/polc")
	if err != nil {
		panic(err)
	}
	polcBin = bin
	code := m.Run()
	remove()
	os.Exit(code)
}

// runLimit is how long one polc run may take before the case fails as a hang.
const runLimit = 90 * time.Second

// hostileCase is one attack. Placeholders in files, links and args: {{URL}} (the loopback
// server), {{MARKER}} (a file an injected command would create), {{OUTSIDE}} (a directory
// outside the repository, holding victim.txt).
type hostileCase struct {
	name string
	// files are written into a copy of the base repository (slash-separated paths).
	files map[string]string
	// links are symlinks to create: repository path -> target.
	links map[string]string
	// fifos are named pipes to create in the repository.
	fifos []string
	// git commits the repository before the run.
	git   bool
	args  []string
	stdin string
	// wantCode is the exit code; want are substrings of stdout+stderr, wantNot must not appear.
	wantCode int
	want     []string
	wantNot  []string
	// writes lists the repository paths polc may create or change (its output); by default none.
	writes []string
	// after runs more assertions on the repository.
	after func(t *testing.T, repo, out string)
}

// media's kustomization, with extra lines in its resources list.
func mediaKustomization(extraResources ...string) string {
	res := ""
	for _, r := range extraResources {
		res += "  - " + r + "\n"
	}
	return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs:
      polc.dev/module: media
      polc.dev/module-type: application
resources:
  - namespace.yaml
  - service.yaml
  - settings.yaml
` + res + `components:
  - ../../components/sso
`
}

// mediaModule is media's module.yaml with another name and description.
func mediaModule(name, description string) string {
	return fmt.Sprintf(`apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: %s
spec:
  type: application
  version: 1.0.0
  description: %s
  namespaces:
    - name: media
  dependsOn: [platform-core]
`, name, description)
}

func regoPolicy(body string) map[string]string {
	return map[string]string{"policy/x.rego": "package main\n\n" + body}
}

func TestHostile(t *testing.T) {
	tests := []hostileCase{
		// Command execution and network access through kustomize.
		{
			name:     "git upload-pack injection in a remote resource runs nothing",
			files:    map[string]string{"modules/apps/media/kustomization.yaml": mediaKustomization("file:///nonexistent/x?ref=--upload-pack=touch%20{{MARKER}}%3Bfalse")},
			args:     []string{"check"},
			wantCode: 0,
			want:     []string{`modules/apps/media/kustomization.yaml:11:5: warning module/remote: resources entry "file:///nonexistent/x?ref=--upload-pack=touch%20`},
		},
		{
			name:     "the same through the pre-commit path",
			files:    map[string]string{"modules/apps/media/kustomization.yaml": mediaKustomization("file:///nonexistent/x?ref=--upload-pack=touch%20{{MARKER}}%3Bfalse")},
			args:     []string{"check", "--files", "--", "modules/apps/media/kustomization.yaml"},
			wantCode: 0,
			want:     []string{"warning module/remote"},
		},
		{
			name: "remote references in every field are reported, never fetched",
			files: map[string]string{
				"modules/apps/media/kustomization.yaml": mediaKustomization("{{URL}}/r.yaml", "ssh://git@127.0.0.1:1/org/repo", "github.com/org/repo//deploy?ref=v1", "git@127.0.0.1:org/repo") +
					"bases: [{{URL}}/base]\ncrds: [{{URL}}/crd.yaml]\nconfigurations: [{{URL}}/c.yaml]\ntransformers: [{{URL}}/t.yaml]\n" +
					"patches:\n  - path: {{URL}}/p.yaml\nopenapi:\n  path: {{URL}}/openapi.json\n",
			},
			args:     []string{"check", "--format", "json"},
			wantCode: 0,
			want:     []string{`"rule": "module/remote"`, `"warnings": 10,`, `"errors": 0,`},
		},
		{
			name:     "a remote base does not hide the module's local objects",
			files:    map[string]string{"modules/apps/media/kustomization.yaml": mediaKustomization("{{URL}}/r.yaml")},
			args:     []string{"render", "media"},
			wantCode: 0,
			want:     []string{"kind: Service", "module/remote"},
		},
		{
			name: "a kustomization's openapi schema that does not parse is the module's render error, not a crash",
			files: map[string]string{
				"modules/apps/media/kustomization.yaml": mediaKustomization("widget.yaml") + "openapi:\n  path: bad.json\n",
				"modules/apps/media/bad.json":           "{not json\n",
				// A kind outside kustomize's precomputed scopes makes it parse the schema.
				"modules/apps/media/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: media\n",
			},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"modules/apps/media/kustomization.yaml: error module/render: kustomize failed: invalid schema file"},
			wantNot:  []string{"panic", "goroutine"},
		},
		// Rego policies.
		{
			name:     "http.send is refused at load time",
			files:    regoPolicy("deny contains msg if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"{{URL}}\"})\n\tmsg := sprintf(\"%v\", [r])\n}\n"),
			args:     []string{"check"},
			wantCode: 2,
			want:     []string{"policy/x.rego:4:7", "builtin http.send is not allowed"},
		},
		{
			name:     "http.send to a unix socket is refused",
			files:    regoPolicy("deny contains msg if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"unix:///var/run/docker.sock\"})\n\tmsg := sprintf(\"%v\", [r])\n}\n"),
			args:     []string{"check"},
			wantCode: 2,
			want:     []string{"builtin http.send is not allowed"},
		},
		{
			name:     "DNS lookups are refused",
			files:    regoPolicy("deny contains msg if {\n\tips := net.lookup_ip_addr(\"example.com\")\n\tmsg := sprintf(\"%v\", [ips])\n}\n"),
			args:     []string{"check"},
			wantCode: 2,
			want:     []string{"builtin net.lookup_ip_addr is not allowed"},
		},
		{
			name:     "the clock is refused, so output stays deterministic",
			files:    regoPolicy("deny contains msg if {\n\tmsg := sprintf(\"%d\", [time.now_ns()])\n}\n"),
			args:     []string{"check"},
			wantCode: 2,
			want:     []string{"builtin time.now_ns is not allowed"},
		},
		{
			name:     "a two-billion-element range fails instead of taking gigabytes",
			files:    regoPolicy("deny contains msg if {\n\tn := count([i | some i in numbers.range(1, 2000000000)])\n\tmsg := sprintf(\"%d\", [n])\n}\n"),
			args:     []string{"check"},
			wantCode: 2,
			want:     []string{"numbers.range"},
		},
		{
			name:     "a symlinked policy file is an error, not silently skipped",
			links:    map[string]string{"policy/stolen.rego": "{{OUTSIDE}}/victim.txt"},
			args:     []string{"check"},
			wantCode: 2,
			want:     []string{"stolen.rego is a symlink"},
		},
		// Writes through symlinks and outside the output directory.
		{
			name:     "a symlinked policies directory is not written through",
			links:    map[string]string{"policies": "{{OUTSIDE}}"},
			args:     []string{"compile"},
			wantCode: 2,
			want:     []string{"symlink"},
		},
		{
			name:     "a symlinked file in the pack is not overwritten",
			links:    map[string]string{"policies/README.md": "{{OUTSIDE}}/victim.txt"},
			args:     []string{"compile"},
			wantCode: 2,
			want:     []string{"README.md"},
		},
		{
			name:     "a symlinked file in the module docs is not overwritten",
			links:    map[string]string{"docs/modules/media.md": "{{OUTSIDE}}/victim.txt"},
			args:     []string{"doc"},
			wantCode: 2,
			want:     []string{"media.md"},
		},
		{
			name:     "a module name with .. writes no page outside docs",
			files:    map[string]string{"modules/apps/media/module.yaml": mediaModule(`"../../../escaped/owned"`, "x")},
			args:     []string{"doc"},
			wantCode: 2,
			want:     []string{"modules/apps/media/module.yaml:4:9"},
		},
		{
			name:     "a module name with .. writes no Flux Kustomization outside its directory",
			files:    map[string]string{"modules/apps/media/module.yaml": mediaModule(`"../../../escaped/owned"`, "x")},
			args:     []string{"compile", "--flux", "clusters/home"},
			wantCode: 2,
			want:     []string{"modules/apps/media/module.yaml:4:9"},
		},
		{
			name:     "a module name with a newline injects nothing into kustomization.yaml",
			files:    map[string]string{"modules/apps/media/module.yaml": mediaModule(`"media\nnamePrefix: evil-\nresources: [{{URL}}]"`, "x")},
			args:     []string{"compile", "--flux", "clusters/home"},
			wantCode: 2,
			want:     []string{"modules/apps/media/module.yaml:4:9"},
		},
		{
			name:     "a hand-written file where compile --flux writes is never overwritten",
			files:    map[string]string{"clusters/home/kustomization.yaml": "resources: [mine.yaml]\n"},
			args:     []string{"compile", "--flux", "clusters/home"},
			wantCode: 2,
			want:     []string{"kustomization.yaml: it was not written by polc", "nothing written"},
		},
		{
			name:     "compile --check does not read /dev/zero",
			links:    map[string]string{"policies/README.md": "/dev/zero"},
			args:     []string{"compile", "--check"},
			wantCode: 1,
			want:     []string{"README.md"},
		},
		{
			name:     "compile --check does not hang on a FIFO",
			fifos:    []string{"policies/kustomization.yaml"},
			args:     []string{"compile", "--check"},
			wantCode: 1,
			want:     []string{"kustomization.yaml"},
		},
		{
			name:     "doc --check does not read /dev/zero",
			links:    map[string]string{"docs/modules/README.md": "/dev/zero"},
			args:     []string{"doc", "--check"},
			wantCode: 1,
			want:     []string{"README.md"},
		},
		// git and hooks.
		{
			name:     "--changed-since cannot pass options to git",
			git:      true,
			args:     []string{"check", "--changed-since=--output={{OUTSIDE}}/victim.txt"},
			wantCode: 2,
			want:     []string{"is not a commit"},
		},
		{
			name:     "a file named like a flag is a path after --",
			files:    map[string]string{"modules/apps/media/--format=text=x.txt": "x\n"},
			args:     []string{"check", "--files", "--", "modules/apps/media/--format=text=x.txt"},
			wantCode: 0,
			after: func(t *testing.T, repo, _ string) {
				_, err := os.Stat(filepath.Join(repo, "x.txt"))
				require.True(t, errors.Is(err, fs.ErrNotExist), "x.txt was written")
			},
		},
		// Resource exhaustion.
		{
			name:     "bases listed three times at twelve levels are refused before kustomize runs",
			files:    nestedBases(12),
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"error module/render: kustomize would build 88575 kustomizations"},
		},
		{
			name: "ten thousand objects in one module are refused",
			files: map[string]string{
				"modules/apps/media/kustomization.yaml": mediaKustomization("many.yaml"),
				"modules/apps/media/many.yaml":          manyConfigMaps(10000),
			},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"kustomize would read 10003 documents for this module; the limit is 5000 objects"},
		},
		{
			name: "a large substitution value referenced a hundred times is refused",
			files: map[string]string{
				"polc.yaml":                        "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute:\n    big: " + strings.Repeat("x", 3<<20) + "\n",
				"modules/apps/media/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: media\ndata:\n  a: " + strings.Repeat("${big}", 100) + "\n",
			},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"the result of substitution is larger than the limit of 4 MiB"},
		},
		{
			name: "an alias bomb smuggled in a substitution value is refused",
			files: map[string]string{
				"polc.yaml":                        "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute:\n    bomb: |-\n" + indent("x\n"+indent(bomb("z"), 2), 6) + "\n",
				"modules/apps/media/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: media\ndata:\n  a: ${bomb}\n",
			},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"alias bomb"},
		},
		{
			name:     "an alias bomb in polc fn input is refused",
			args:     []string{"fn"},
			stdin:    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n  data:\n" + indent(bomb("a"), 4) + "\n",
			wantCode: 2,
			want:     []string{"alias bomb"},
		},
		{
			name:     "a kustomization that is not a mapping is a finding, not a crash",
			files:    map[string]string{"modules/apps/media/kustomization.yaml": "- a\n"},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"error module/render"},
			wantNot:  []string{"panic"},
		},
		{
			name:     "polc fn input whose functionConfig is not an object is an error, not a crash",
			args:     []string{"fn"},
			stdin:    "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: [a, b, c]\nitems: []\n",
			wantCode: 2,
			want:     []string{"functionConfig: not a Kubernetes object"},
			wantNot:  []string{"panic"},
		},
		// Output hygiene.
		{
			name:     "a Rego message cannot forge lines or terminal escapes",
			files:    regoPolicy("deny contains msg if {\n\tinput.kind == \"Service\"\n\tmsg := \"x\\n3 modules, 0 objects: 0 errors, 0 warnings, 0 excepted\\u001b[2J\"\n}\n"),
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{`x\n3 modules, 0 objects: 0 errors, 0 warnings, 0 excepted\x1b[2J`},
			wantNot:  []string{"\x1b", "\n3 modules, 0 objects"},
		},
		{
			name: "a directory name with a Kyverno wildcard is refused",
			files: map[string]string{
				"modules/apps/me*ia/module.yaml":        mediaModule("meia", "x"),
				"modules/apps/me*ia/kustomization.yaml": "resources: []\n",
				"modules/apps/me*ia/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
			},
			args:     []string{"compile", "--out", "out"},
			wantCode: 2,
			want:     []string{"cannot be matched exactly"},
		},
		{
			name:     "invalid UTF-8 is reported at its line",
			files:    map[string]string{"modules/apps/media/module.yaml": mediaModule("media", "caf\xe9")},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"modules/apps/media/module.yaml:8:"},
		},
		{
			name:     "metadata cannot inject Markdown into the module docs",
			files:    map[string]string{"modules/apps/media/module.yaml": mediaModule("media", "\"[click](http://evil.example) <script>x</script> `a` | b\"")},
			args:     []string{"doc"},
			wantCode: 0,
			writes:   []string{"docs"},
			after: func(t *testing.T, repo, _ string) {
				page, err := os.ReadFile(filepath.Join(repo, "docs/modules/media.md"))
				require.NoError(t, err)
				require.Contains(t, string(page), `\[click\](http://evil.example)`, "the link is escaped")
				require.NotContains(t, string(page), "[click](")
				require.NotContains(t, string(page), "<script>")
			},
		},
		// Flux Kustomization paths, which polc follows.
		{
			name:     "a FIFO in a Flux Kustomization path does not hang the generator",
			files:    followed("kubernetes/app", nil),
			fifos:    []string{"kubernetes/app/pipe.yaml"},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"kubernetes/app/pipe.yaml is not a regular file"},
		},
		{
			name:     "a manifest in a Flux Kustomization path linked to /dev/zero is not read",
			files:    followed("kubernetes/app", nil),
			links:    map[string]string{"kubernetes/app/zero.yaml": "/dev/zero"},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"kubernetes/app/zero.yaml", "error module/render"},
		},
		{
			name: "a Flux Kustomization path linked outside the repository is not followed",
			files: map[string]string{
				"modules/apps/media/kustomization.yaml": mediaKustomization("flux.yaml"),
				"modules/apps/media/flux.yaml":          fluxKustomization("app", "./kubernetes/app"),
			},
			links:    map[string]string{"kubernetes/app": "{{OUTSIDE}}"},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"error module/render", "kubernetes/app"},
			wantNot:  []string{"victim"},
		},
		{
			name:     "an alias bomb in a Flux Kustomization path is refused before kustomize reads it",
			files:    followed("kubernetes/app", map[string]string{"kubernetes/app/bomb.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n" + indent(bomb("a"), 2) + "\n"}),
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"alias bomb"},
		},
		{
			name: "a remote resource in a Flux Kustomization path is reported, never fetched",
			files: followed("kubernetes/app", map[string]string{
				"kubernetes/app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - cm.yaml\n  - {{URL}}/remote.yaml\n",
				"kubernetes/app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n  namespace: media\n",
			}),
			args:     []string{"check"},
			wantCode: 0,
			want:     []string{"warning module/remote", "kubernetes/app/kustomization.yaml:5"},
		},
		// Adoption: init, fix and the baseline read more of the repository.
		{
			name:     "init --infer reads no FIFO as git tags and no /dev/zero as the release-please manifest",
			files:    map[string]string{".git/HEAD": "ref: refs/heads/main\n", ".git/refs/tags/media-v1.2.3": "0000000000000000000000000000000000000000\n"},
			fifos:    []string{".git/packed-refs"},
			links:    map[string]string{".release-please-manifest.json": "/dev/zero"},
			args:     []string{"init", "--infer"},
			wantCode: 0,
			want:     []string{"propose"},
		},
		{
			name:     "fix does not hang on a FIFO kustomization",
			fifos:    []string{"modules/apps/media/kustomization.yaml"},
			args:     []string{"fix"},
			wantCode: 0,
			want:     []string{"not a regular file"},
		},
		{
			name:     "fix writes nothing through a kustomization linked outside the repository",
			links:    map[string]string{"modules/apps/media/kustomization.yaml": "{{OUTSIDE}}/victim.txt"},
			args:     []string{"fix", "--write"},
			wantCode: 0,
			wantNot:  []string{"fixed modules/apps/media/kustomization.yaml"},
		},
		{
			name:     "a baseline linked to /dev/zero is refused",
			links:    map[string]string{"baseline.yaml": "/dev/zero"},
			args:     []string{"check", "--baseline", "baseline.yaml"},
			wantCode: 2,
			want:     []string{"baseline.yaml"},
		},
		{
			name:     "a FIFO baseline does not hang check",
			fifos:    []string{"baseline.yaml"},
			args:     []string{"check", "--baseline", "baseline.yaml"},
			wantCode: 2,
			want:     []string{"baseline.yaml", "not a regular file"},
		},
		{
			name:     "polc baseline writes nothing through a link outside",
			links:    map[string]string{"baseline.yaml": "{{OUTSIDE}}/victim.txt"},
			args:     []string{"baseline", "baseline.yaml"},
			wantCode: 2,
			want:     []string{"symlink"},
		},
		{
			name:     "module globs made of many ** answer at once",
			files:    map[string]string{"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modules: ['" + strings.Repeat("**/m*/", 40) + "x']\n  exclude: ['" + strings.Repeat("**/*/", 40) + "y']\n"},
			args:     []string{"check"},
			wantCode: 0,
			want:     []string{"0 modules, 0 objects"},
		},
		{
			name: "Flux Kustomizations that deploy each other stop at the cycle",
			files: followed("kubernetes/a", map[string]string{
				"kubernetes/a/ks.yaml": fluxKustomization("b", "./kubernetes/b"),
				"kubernetes/b/ks.yaml": fluxKustomization("app", "./kubernetes/a"),
			}),
			args:     []string{"check"},
			wantCode: 0,
			want:     []string{"warning coverage/unrendered", "media/app -> media/b -> media/app"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

// runCase prepares the repository, runs polc and checks the outcome and every containment
// promise.
func runCase(t *testing.T, tc hostileCase) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select { // a tarpit: it never answers
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	base := t.TempDir()
	repo, outside, tmp := filepath.Join(base, "repo"), filepath.Join(base, "outside"), filepath.Join(base, "tmp")
	marker := filepath.Join(base, "PWNED")
	for _, d := range []string{outside, tmp} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(outside, "victim.txt"), []byte("original\n"), 0o644))
	require.NoError(t, os.CopyFS(repo, os.DirFS("../testdata/repos/good-minimal")))
	expand := strings.NewReplacer("{{URL}}", srv.URL, "{{MARKER}}", marker, "{{OUTSIDE}}", outside).Replace
	for p, content := range tc.files {
		write(t, filepath.Join(repo, filepath.FromSlash(p)), expand(content))
	}
	for p, target := range tc.links {
		full := filepath.Join(repo, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		_ = os.Remove(full) // a link may replace a file of the base repository
		require.NoError(t, os.Symlink(expand(target), full))
	}
	for _, p := range tc.fifos {
		full := filepath.Join(repo, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		_ = os.Remove(full) // a FIFO may replace a file of the base repository
		require.NoError(t, syscall.Mkfifo(full, 0o644))
	}
	if tc.git {
		gitCommit(t, repo)
	}
	beforeRepo, beforeOutside := snapshot(t, repo), snapshot(t, outside)

	args := make([]string, len(tc.args))
	for i, a := range tc.args {
		args[i] = expand(a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, polcBin, args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdin = strings.NewReader(tc.stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "polc did not finish within %s (hang?)", runLimit)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	output := out.String()
	require.Equal(t, tc.wantCode, code, "exit code; output:\n%.3000s", output)
	for _, w := range tc.want {
		require.Contains(t, output, expand(w))
	}
	for _, w := range tc.wantNot {
		require.NotContains(t, output, w)
	}

	require.Zero(t, hits.Load(), "the loopback server received a request")
	_, err = os.Stat(marker)
	require.True(t, errors.Is(err, fs.ErrNotExist), "an injected command ran: %s exists", marker)
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, entries, "polc created temporary files")
	require.Equal(t, beforeOutside, snapshot(t, outside), "polc changed files outside the repository")
	afterRepo := snapshot(t, repo)
	for p := range afterRepo {
		if allowed(p, tc.writes) {
			delete(afterRepo, p)
		}
	}
	for p := range beforeRepo {
		if allowed(p, tc.writes) {
			delete(beforeRepo, p)
		}
	}
	require.Equal(t, beforeRepo, afterRepo, "polc changed repository files it was not asked to write")
	if tc.after != nil {
		tc.after(t, repo, output)
	}
}

// allowed reports whether p (slash-separated, relative) is under one of the writable paths.
func allowed(p string, writes []string) bool {
	for _, w := range writes {
		if p == w || strings.HasPrefix(p, w+"/") {
			return true
		}
	}
	return false
}

func write(t *testing.T, p, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// snapshot maps every path under root (relative, slash-separated) to its type and, for regular
// files, content; symlinks map to their target and are not followed, special files are not read.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "link " + target
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "file " + string(data)
		default:
			out[rel] = d.Type().String()
		}
		return nil
	}))
	return out
}

// gitCommit makes repo a git repository with everything committed.
func gitCommit(t *testing.T, repo string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "-A"},
		{"-c", "user.name=polc", "-c", "user.email=polc@example.com", "commit", "-q", "-m", "init"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
}

// nestedBases lists the next level three times (through three spellings) at each of depth levels
// below the media module.
func nestedBases(depth int) map[string]string {
	files := map[string]string{"modules/apps/media/kustomization.yaml": mediaKustomization("l1")}
	for i := 1; i < depth; i++ {
		dir := fmt.Sprintf("modules/apps/media/l%d", i)
		if i == 1 {
			files[dir+"/kustomization.yaml"] = "resources: [../l2, ./../l2, ../l2/]\n"
		} else if i == depth-1 {
			files[dir+"/kustomization.yaml"] = "resources: [cm.yaml]\n"
			files[dir+"/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaf\n"
		} else {
			files[dir+"/kustomization.yaml"] = fmt.Sprintf("resources: [../l%[1]d, ./../l%[1]d, ../l%[1]d/]\n", i+1)
		}
	}
	return files
}

func manyConfigMaps(n int) string {
	docs := make([]string, n)
	for i := range docs {
		docs[i] = fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c%d\n  namespace: media\n", i)
	}
	return strings.Join(docs, "---\n")
}

// bomb returns a billion-laughs mapping whose first key is first.
func bomb(first string) string {
	lines := []string{first + `: &a ["l","l","l","l","l","l","l","l","l"]`}
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		lines = append(lines, fmt.Sprintf("%s: &%s [%s*%s]", n, n, strings.Repeat("*"+prev+",", 8), prev))
		prev = n
	}
	return strings.Join(lines, "\n")
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// followed adds to media a Flux Kustomization named app that deploys dir from this repository,
// and the files given.
func followed(dir string, files map[string]string) map[string]string {
	out := map[string]string{
		"modules/apps/media/kustomization.yaml": mediaKustomization("flux.yaml"),
		"modules/apps/media/flux.yaml":          fluxKustomization("app", "./"+dir),
		dir + "/cm.yaml":                        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: media\n",
	}
	for p, c := range files {
		out[p] = c
	}
	return out
}

// fluxKustomization is a Flux Kustomization in media that deploys path from this repository.
func fluxKustomization(name, path string) string {
	return fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: %s
  namespace: media
spec:
  interval: 10m
  path: %s
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  commonMetadata:
    labels: {polc.dev/module: media, polc.dev/module-type: application}
`, name, path)
}
