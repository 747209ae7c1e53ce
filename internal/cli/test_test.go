package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
