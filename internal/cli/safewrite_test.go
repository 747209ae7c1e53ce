package cli

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// safeRepo is a small repository that compiles: a core module that installs Kyverno and an
// application that depends on it.
var safeRepo = map[string]string{
	"modules/infrastructure/security-core/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: security-core\nspec:\n" +
		"  type: infrastructure\n  tier: core\n  version: 1.0.0\n  namespaces: [{name: kyverno}]\n  provides: {apis: [kyverno.io]}\n",
	"modules/apps/media/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: media\nspec:\n" +
		"  type: application\n  version: 1.0.0\n  description: Jellyfin\n  namespaces: [{name: media}]\n  dependsOn: [security-core]\n",
}

// polcIn runs polc with --repo root (after the command words), giving up after 20 seconds.
func polcIn(t *testing.T, root string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	n := 1 // the command words: "compile", "doc", "init", or "new module"
	if args[0] == "new" {
		n = 2
	}
	full := append(append(append([]string{}, args[:n]...), "--repo", root), args[n:]...)
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		c := Execute(full, &out, &errb)
		done <- result{c, out.String(), errb.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(20 * time.Second):
		t.Fatalf("polc %s hangs", strings.Join(full, " "))
		return 0, "", ""
	}
}

// snapshot lists every path below dir with its contents (symlinks with their targets), so that a
// test can tell that a refused command changed nothing, inside or outside the repository.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			require.NoError(t, err)
			out[p] = "-> " + target
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			out[p] = string(data)
		default:
			out[p] = d.Type().String()
		}
		return nil
	}))
	return out
}

// TestWritersRefuse runs every writer against a hostile repository and checks that it refuses
// with exit code 2 and a clear message, and that nothing changed anywhere (the repository and the
// directory next to it where symlinks point).
func TestWritersRefuse(t *testing.T) {
	type env struct{ root, outside string }
	link := func(target, name string) func(t *testing.T, e env) {
		return func(t *testing.T, e env) {
			p := filepath.Join(e.root, filepath.FromSlash(name))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.Symlink(strings.ReplaceAll(target, "OUTSIDE", e.outside), p))
		}
	}
	files := func(files map[string]string) func(t *testing.T, e env) {
		return func(t *testing.T, e env) { testutil.WriteFiles(t, e.root, files) }
	}
	badName := func(name string) func(t *testing.T, e env) {
		return files(map[string]string{"modules/apps/media/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + name +
			"\nspec:\n  type: application\n  version: 1.0.0\n  namespaces: [{name: media}]\n  dependsOn: [security-core]\n"})
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, e env)
		args  []string
		msg   string
	}{
		{name: "compile: symlinked output directory", setup: link("OUTSIDE", "policies"), args: []string{"compile"},
			msg: "policies is a symlink"},
		{name: "compile: symlinked parent of the output directory", setup: func(t *testing.T, e env) {
			link("OUTSIDE", "deploy")(t, e)
			files(map[string]string{"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  policiesDir: deploy/policies\n"})(t, e)
		}, args: []string{"compile"}, msg: "deploy is a symlink"},
		{name: "compile: file symlink in the pack", setup: link("OUTSIDE/target", "policies/README.md"), args: []string{"compile"},
			msg: "README.md: it is a symlink"},
		{name: "compile: symlinked directory in the pack", setup: link("OUTSIDE", "policies/tests"), args: []string{"compile"},
			msg: "directory tests is a symlink"},
		{name: "compile: directory where a file goes", setup: func(t *testing.T, e env) {
			require.NoError(t, os.MkdirAll(filepath.Join(e.root, "policies", "kustomization.yaml"), 0o755))
		}, args: []string{"compile"}, msg: "kustomization.yaml: it is not a regular file"},
		{name: "compile --flux: symlinked output directory", setup: link("OUTSIDE", "clusters/home"), args: []string{"compile", "--flux", "clusters/home"},
			msg: "home is a symlink"},
		{name: "compile --flux: file symlink", setup: link("OUTSIDE/target", "clusters/home/media.yaml"), args: []string{"compile", "--flux", "clusters/home"},
			msg: "media.yaml: it is a symlink"},
		{name: "compile --flux: name with ..", setup: badName(`"../../../escaped/owned"`), args: []string{"compile", "--flux", "clusters/home"},
			msg: `modules/apps/media/module.yaml:4:9: metadata.name "../../../escaped/owned" is not a DNS-1123 label`},
		{name: "compile --flux: name with a line break", setup: badName(`"media\nnamePrefix: evil-"`), args: []string{"compile", "--flux", "clusters/home"},
			msg: `metadata.name "media\nnamePrefix: evil-" is not a DNS-1123 label`},
		{name: "compile --flux: Flux prefix with a line break", setup: files(map[string]string{"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  fluxPrefixes: {application: \"apps\\n# x\"}\n"}),
			args: []string{"compile", "--flux", "clusters/home"}, msg: "polc.yaml:4:31: the Flux Kustomization name of module media"},
		{name: "compile: name with ..", setup: badName(`"../../../escaped/owned"`), args: []string{"compile"}, msg: "metadata.name"},
		{name: "doc: symlinked output directory", setup: link("OUTSIDE", "docs/modules"), args: []string{"doc"}, msg: "modules is a symlink"},
		{name: "doc: symlinked docs", setup: link("OUTSIDE", "docs"), args: []string{"doc"}, msg: "docs is a symlink"},
		{name: "doc: file symlink", setup: link("OUTSIDE/target", "docs/modules/media.md"), args: []string{"doc"}, msg: "media.md: it is a symlink"},
		{name: "doc: name with ..", setup: badName(`"../../../escaped/owned"`), args: []string{"doc"},
			msg: `modules/apps/media/module.yaml:4:9: metadata.name "../../../escaped/owned" is not a DNS-1123 label`},
		{name: "new module: symlinked modules directory", setup: func(t *testing.T, e env) {
			require.NoError(t, os.Rename(filepath.Join(e.root, "modules", "apps"), filepath.Join(e.outside, "apps")))
			link("OUTSIDE/apps", "modules/apps")(t, e)
		}, args: []string{"new", "module", "blog", "--type", "application"}, msg: "directory modules/apps is a symlink"},
		{name: "new module: name with ..", args: []string{"new", "module", "../x", "--type", "application"}, msg: "DNS-1123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			e := env{root: filepath.Join(base, "repo"), outside: filepath.Join(base, "outside")}
			testutil.WriteFiles(t, e.root, safeRepo)
			testutil.WriteFiles(t, e.outside, map[string]string{"target": "not polc's\n"})
			if tc.setup != nil {
				tc.setup(t, e)
			}
			t.Chdir(e.root)
			before := snapshot(t, base)
			code, stdout, stderr := polcIn(t, e.root, tc.args...)
			require.Equal(t, 2, code, "stdout: %s\nstderr: %s", stdout, stderr)
			require.Contains(t, stderr, tc.msg)
			require.Equal(t, before, snapshot(t, base), "a refused command changed files")
		})
	}
}

// TestInitWriteSymlink: polc init --write never writes through a symlink where it would create
// module.yaml (even a dangling one): it counts as an existing file and is skipped.
func TestInitWriteSymlink(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "repo"), filepath.Join(base, "outside")
	testutil.WriteFiles(t, root, map[string]string{
		"modules/apps/blog/kustomization.yaml":  "resources: []\n",
		"modules/apps/media/kustomization.yaml": "resources: []\n",
	})
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.Symlink(filepath.Join(outside, "owned.yaml"), filepath.Join(root, "modules/apps/blog/module.yaml")))
	code, stdout, stderr := polcIn(t, root, "init", "--infer", "--write")
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	require.Contains(t, stdout, "wrote modules/apps/media/module.yaml")
	require.Contains(t, stdout, "skipped modules/apps/blog/module.yaml: it exists")
	require.NoFileExists(t, filepath.Join(outside, "owned.yaml"), "written through a symlink")
}

// TestChecksReadNoSpecialFiles: --check never follows a symlink or opens a special file: a
// symlink to /dev/zero and a FIFO are reported as differences, promptly.
func TestChecksReadNoSpecialFiles(t *testing.T) {
	zero := func(t *testing.T, p string) { require.NoError(t, os.Symlink("/dev/zero", p)) }
	fifo := func(t *testing.T, p string) { require.NoError(t, syscall.Mkfifo(p, 0o644)) }
	tests := []struct {
		name string
		args []string
		file string
		make func(t *testing.T, p string)
		want string
	}{
		{name: "compile, /dev/zero", args: []string{"compile"}, file: "policies/README.md", make: zero, want: "unsafe README.md: it is a symlink"},
		{name: "compile, FIFO", args: []string{"compile"}, file: "policies/README.md", make: fifo, want: "unsafe README.md: it is not a regular file"},
		{name: "compile, FIFO not generated", args: []string{"compile"}, file: "policies/fifo.yaml", make: fifo},
		{name: "compile --flux, /dev/zero", args: []string{"compile", "--flux", "clusters/home"}, file: "clusters/home/kustomization.yaml", make: zero, want: "unsafe kustomization.yaml: it is a symlink"},
		{name: "compile --flux, FIFO", args: []string{"compile", "--flux", "clusters/home"}, file: "clusters/home/media.yaml", make: fifo, want: "unsafe media.yaml: it is not a regular file"},
		{name: "doc, /dev/zero", args: []string{"doc"}, file: "docs/modules/README.md", make: zero, want: "unsafe README.md: it is a symlink"},
		{name: "doc, FIFO", args: []string{"doc"}, file: "docs/modules/media.md", make: fifo, want: "media.md: it is not a regular file"},
		{name: "doc, FIFO not generated", args: []string{"doc"}, file: "docs/modules/fifo.md", make: fifo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.WriteRepo(t, safeRepo)
			t.Chdir(root)
			code, stdout, stderr := polcIn(t, root, tc.args...)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
			p := filepath.Join(root, filepath.FromSlash(tc.file))
			if tc.want != "" {
				require.NoError(t, os.Remove(p))
			}
			tc.make(t, p)
			code, stdout, stderr = polcIn(t, root, append(tc.args, "--check")...)
			if tc.want == "" {
				require.Equal(t, 0, code, "a special file polc does not generate is not a difference: %s%s", stdout, stderr)
				return
			}
			require.Equal(t, 1, code, "stdout: %s\nstderr: %s", stdout, stderr)
			require.Contains(t, stdout, tc.want)
			// Writing refuses it too, and leaves it alone.
			code, _, stderr = polcIn(t, root, tc.args...)
			require.Equal(t, 2, code)
			require.Contains(t, stderr, "nothing written")
			fi, err := os.Lstat(p)
			require.NoError(t, err)
			require.NotZero(t, fi.Mode().Type(), "the special file was replaced")
		})
	}
}

// TestCompileFluxYAML parses the written entry point back: kustomization.yaml has exactly the
// keys polc writes and lists exactly the module files.
func TestCompileFluxYAML(t *testing.T) {
	root := testutil.WriteRepo(t, safeRepo)
	t.Chdir(root)
	code, stdout, stderr := polcIn(t, root, "compile", "--flux", "clusters/home")
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	data, err := os.ReadFile(filepath.Join(root, "clusters", "home", "kustomization.yaml"))
	require.NoError(t, err)
	var k map[string]any
	require.NoError(t, yaml.Unmarshal(data, &k))
	require.Equal(t, map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
		"resources": []any{"media.yaml", "security-core.yaml"}}, k)
	entries, err := os.ReadDir(filepath.Join(root, "clusters", "home"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"kustomization.yaml", "media.yaml", "security-core.yaml"}, names)
}

// TestCompileOutsideRepo: an --out chosen by the user outside the repository works, but is still
// refused when it is itself a symlink.
func TestCompileOutsideRepo(t *testing.T) {
	root := testutil.WriteRepo(t, safeRepo)
	t.Chdir(root)
	out := filepath.Join(t.TempDir(), "pack")
	code, stdout, stderr := polcIn(t, root, "compile", "--out", out)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	require.FileExists(t, filepath.Join(out, "kustomization.yaml"))

	link := filepath.Join(t.TempDir(), "link")
	require.NoError(t, os.Symlink(out, link))
	code, _, stderr = polcIn(t, root, "compile", "--out", link)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, link+" is a symlink")
	_, err := os.Lstat(filepath.Join(out, "README.md"))
	require.False(t, errors.Is(err, fs.ErrNotExist))
}
