package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// TestTestCmdSetupErrors covers what polc test refuses before it talks to an API server.
func TestTestCmdSetupErrors(t *testing.T) {
	repo := filepath.Join("..", "..", "tests", "testdata", "apitest", "crd-waves")
	t.Setenv("KUBECONFIG", "")
	t.Setenv("KUBEBUILDER_ASSETS", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown format", []string{"--format", "xml"}, `unknown --format "xml"`},
		{"unknown module", []string{"nope"}, `unknown module "nope"`},
		{"no control plane binaries", nil, "etcd not found in $KUBEBUILDER_ASSETS"},
		{"unreadable kubeconfig", []string{"--kubeconfig", filepath.Join(t.TempDir(), "missing")}, "kubeconfig"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Execute(append([]string{"test", "--repo", repo}, tc.args...), &out, &errb)
			assert.Equal(t, 2, code, errb.String())
			assert.Contains(t, errb.String(), tc.msg)
			assert.Empty(t, out.String())
		})
	}
}

// TestTestCmdEmitChainsaw writes one chainsaw test per module without an API server.
func TestTestCmdEmitChainsaw(t *testing.T) {
	repo := filepath.Join("..", "..", "tests", "testdata", "apitest", "crd-waves")
	dir := t.TempDir()
	var out, errb bytes.Buffer
	require.Equal(t, 0, Execute([]string{"test", "--repo", repo, "--emit-chainsaw", dir}, &out, &errb), errb.String())
	for _, f := range []string{"app/chainsaw-test.yaml", "app/01-crds-core-crds.yaml", "app/02-app.yaml", "app/02-app-assert.yaml", "crds-core/chainsaw-test.yaml"} {
		_, err := os.Stat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}
	assert.Contains(t, errb.String(), "2 chainsaw tests written")
}

// changedRepo is a committed git repository: crds-core, app (depends on crds-core, includes the
// component sso) and other (depends on nothing).
func changedRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testutil.SkipOrFail(t, "git is not installed: install it with `apt-get install git`")
	}
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "tests", "testdata", "apitest", "crd-waves"))))
	testutil.WriteFiles(t, dir, map[string]string{
		"modules/components/sso/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: sso\n" +
			"spec:\n  type: component\n  version: 1.0.0\n  description: Test component sso\n",
		"modules/components/sso/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" +
			"commonAnnotations:\n  sso.polc.dev/enabled: \"true\"\n",
		"modules/apps/app/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
			"labels:\n  - pairs:\n      polc.dev/module: app\n      polc.dev/module-type: application\n" +
			"resources:\n  - namespace.yaml\n  - widget.yaml\ncomponents:\n  - ../../components/sso\n",
		"modules/apps/other/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: other\n" +
			"spec:\n  type: application\n  version: 1.0.0\n  description: Test module other\n  namespaces:\n    - name: other\n",
		"modules/apps/other/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" +
			"labels:\n  - pairs:\n      polc.dev/module: other\n      polc.dev/module-type: application\n" +
			"resources:\n  - namespace.yaml\n",
		"modules/apps/other/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n" +
			"  labels:\n    pod-security.kubernetes.io/enforce: restricted\n",
		"modules/apps/other/CHANGELOG.md": "# Changelog\n\n## 1.0.0\n\n- First release.\n",
	})
	testutil.GitCommitAll(t, dir)
	return dir
}

// emitted lists the modules that an --emit-chainsaw run wrote a test for.
func emitted(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestTestCmdChangedSince selects the modules changed since a revision, their dependents and the
// users of a changed component, with the MODULE arguments; the plans are written with
// --emit-chainsaw, so no API server is needed.
func TestTestCmdChangedSince(t *testing.T) {
	tests := []struct {
		name   string
		change string // a file appended to, relative to the repository
		args   []string
		want   []string
	}{
		{"a module and its dependents", "modules/infrastructure/crds-core/crd.yaml", nil, []string{"app", "crds-core"}},
		{"a module without dependents", "modules/apps/app/widget.yaml", nil, []string{"app"}},
		{"a component: the modules that include it", "modules/components/sso/kustomization.yaml", nil, []string{"app"}},
		{"a new file in a module", "modules/apps/other/extra.txt", nil, []string{"other"}},
		{"with MODULE arguments: both", "modules/apps/other/namespace.yaml", []string{"crds-core"}, []string{"crds-core", "other"}},
		{"nothing, with MODULE arguments", "", []string{"app"}, []string{"app"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := changedRepo(t)
			if tc.change != "" {
				f, err := os.OpenFile(filepath.Join(repo, filepath.FromSlash(tc.change)), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				require.NoError(t, err)
				_, err = f.WriteString("# changed\n")
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			dir := t.TempDir()
			var out, errb bytes.Buffer
			args := append([]string{"test", "--repo", repo, "--changed-since", "HEAD", "--emit-chainsaw", dir}, tc.args...)
			require.Equal(t, 0, Execute(args, &out, &errb), errb.String())
			assert.Equal(t, tc.want, emitted(t, dir))
		})
	}
}

// TestTestCmdChangedSinceNothing: when no module changed, polc test says so, writes an empty
// report and exits 0 without an API server (the kubeconfig it would use does not exist).
func TestTestCmdChangedSinceNothing(t *testing.T) {
	repo := changedRepo(t)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	var out, errb bytes.Buffer
	require.Equal(t, 0, Execute([]string{"test", "--repo", repo, "--changed-since", "HEAD"}, &out, &errb), errb.String())
	assert.Equal(t, "no module changed since HEAD\n", errb.String())
	assert.Equal(t, "0 modules tested, 0 failed\n", out.String())

	// A change outside every module that deploys nothing selects nothing either.
	require.NoError(t, os.WriteFile(filepath.Join(repo, "README.md"), []byte("# platform\n"), 0o644))
	dir := t.TempDir()
	out.Reset()
	errb.Reset()
	require.Equal(t, 0, Execute([]string{"test", "--repo", repo, "--changed-since", "HEAD", "--emit-chainsaw", dir}, &out, &errb), errb.String())
	assert.Equal(t, "no module changed since HEAD\n", errb.String())
	assert.Empty(t, emitted(t, dir))

	// Without the flag, the same run needs the API server, and fails setting it up.
	errb.Reset()
	assert.Equal(t, 2, Execute([]string{"test", "--repo", repo}, &out, &errb))
	assert.Contains(t, errb.String(), "kubeconfig")
}

// TestTestCmdChangedSinceBadRev: a revision git does not resolve, or one that looks like an
// option, is a usage error that names it.
func TestTestCmdChangedSinceBadRev(t *testing.T) {
	repo := changedRepo(t)
	for _, rev := range []string{"no-such-rev", "--output=x"} {
		var out, errb bytes.Buffer
		assert.Equal(t, 2, Execute([]string{"test", "--repo", repo, "--changed-since=" + rev}, &out, &errb), rev)
		assert.Contains(t, errb.String(), `--changed-since "`+rev+`" is not a commit`)
		assert.Empty(t, out.String())
	}
	_, err := os.Stat(filepath.Join(repo, "x"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")
}
