//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/apitest"
	"polc.dev/polc/internal/cli"
)

// testAssets points KUBEBUILDER_ASSETS at etcd (from PATH) and the kube-apiserver that make e2e
// builds into bin/, unless it is set already, and keeps polc test off the stack's cluster.
func testAssets(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	if os.Getenv(apitest.AssetsEnv) != "" {
		return
	}
	dir := t.TempDir()
	etcd, err := exec.LookPath("etcd")
	require.NoError(t, err, "etcd is not on PATH (hack/e2e/prereqs.sh installs it)")
	api, err := filepath.Abs(filepath.Join(root, "bin", "kube-apiserver"))
	require.NoError(t, err)
	require.FileExists(t, api, "hack/e2e/build.sh builds it")
	require.NoError(t, os.Symlink(etcd, filepath.Join(dir, "etcd")))
	require.NoError(t, os.Symlink(api, filepath.Join(dir, "kube-apiserver")))
	t.Setenv(apitest.AssetsEnv, dir)
}

// polcTest runs polc test on a repository against a local control plane and returns the exit code
// and the results by module.
func polcTest(t *testing.T, repo string, args ...string) (int, map[string]apitest.Result) {
	t.Helper()
	var out, errb bytes.Buffer
	t0 := time.Now()
	code := cli.Execute(append([]string{"test", "--repo", repo, "--format", "json", "--timeout", "5m"}, args...), &out, &errb)
	t.Logf("polc test --repo %s: exit %d in %s\n%s", repo, code, time.Since(t0).Round(time.Millisecond), errb.String())
	var doc struct{ Modules []apitest.Result }
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc), "stdout: %s", out.String())
	byName := map[string]apitest.Result{}
	for _, r := range doc.Modules {
		byName[r.Module] = r
	}
	return code, byName
}

// messages lists the problems of a result as "position: object: message".
func messages(ps []apitest.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Position+": "+p.Object+": "+p.Message)
	}
	return out
}

// TestModuleTests runs polc test, each time with its own local control plane, on the test
// repositories of tests/testdata/apitest and on the starter catalog.
func TestModuleTests(t *testing.T) {
	testAssets(t)
	dir := filepath.Join(root, "tests", "testdata", "apitest")

	t.Run("crd-undeclared", func(t *testing.T) {
		code, res := polcTest(t, filepath.Join(dir, "crd-undeclared"))
		assert.Equal(t, 1, code)
		app := res["app"]
		assert.Equal(t, []string{"modules/apps/app/widget.yaml:1:1: Widget/app/gizmo: kind Widget of group example.com is not served: no declared dependency provides it"},
			messages(app.Unserved))
		assert.Empty(t, app.Rejected)
		assert.Equal(t, []string{"app"}, app.Modules, "crds-core is no dependency of app")
		assert.False(t, res["crds-core"].Failed())
	})

	t.Run("crd-schema", func(t *testing.T) {
		code, res := polcTest(t, filepath.Join(dir, "crd-schema"), "app")
		assert.Equal(t, 1, code)
		app := res["app"]
		require.Len(t, app.Rejected, 2, "%v", messages(app.Rejected))
		assert.Equal(t, "modules/apps/app/widget.yaml:16:9", app.Rejected[0].Position)
		assert.Equal(t, "Widget/app/bad", app.Rejected[0].Object)
		assert.Contains(t, app.Rejected[0].Message, ".spec.size: expected numeric")
		assert.Equal(t, "modules/apps/app/widget.yaml:25:9", app.Rejected[1].Position)
		assert.Contains(t, app.Rejected[1].Message, "spec.size in body should be greater than or equal to 1")
		assert.Equal(t, 3, app.Applied, "the CRD, the namespace and the good widget")
		assert.Len(t, res, 1, "only the named module is tested")
	})

	t.Run("crd-waves", func(t *testing.T) {
		code, res := polcTest(t, filepath.Join(dir, "crd-waves"))
		assert.Equal(t, 0, code)
		assert.Equal(t, []string{"crds-core", "app"}, res["app"].Modules)
		assert.Equal(t, 3, res["app"].Applied)
	})

	// Hostile: a module that claims a namespace the API server made itself. polc test applies
	// nothing over an object it did not create, and deletes nothing of it.
	t.Run("foreign-objects", func(t *testing.T) {
		code, res := polcTest(t, filepath.Join(dir, "foreign-objects"))
		assert.Equal(t, 1, code)
		app := res["app"]
		require.NotEmpty(t, app.Errors)
		assert.Contains(t, app.Errors[0], "namespace.yaml:1:1: Namespace/kube-public:")
		assert.Contains(t, app.Errors[0], "exists in the cluster and was not created by this test run: left untouched")
	})

	t.Run("starter catalog", func(t *testing.T) {
		t0 := time.Now()
		code, res := polcTest(t, root)
		for _, r := range res {
			assert.False(t, r.Failed(), "%s: %s", r.Module, strings.Join(append(r.Errors, append(messages(r.Unserved), messages(r.Rejected)...)...), "\n"))
		}
		assert.Equal(t, 0, code)
		assert.NotEmpty(t, res)
		t.Logf("polc test: starter catalog, %d modules, in %s", len(res), time.Since(t0).Round(time.Millisecond))
	})
}
