package hermetic

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnter checks that after Enter the default HTTP client reaches nothing, that no program is
// found in PATH, and that git is still found at its absolute path.
func TestEnter(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	path := os.Getenv("PATH")
	t.Cleanup(func() { os.Setenv("PATH", path) })
	_, gitErr := exec.LookPath("git")

	Enter()

	_, err := http.Get(srv.URL)
	require.ErrorIs(t, err, ErrNetwork)
	_, err = (&http.Client{}).Get(srv.URL) // a client without transport, as kustomize builds one
	require.ErrorIs(t, err, ErrNetwork)
	require.Zero(t, hits.Load(), "the server received a request")
	_, err = exec.LookPath("sh")
	require.Error(t, err, "programs are still found in PATH")
	git, err := Git()
	if gitErr == nil {
		require.NoError(t, err)
		require.True(t, len(git) > 0 && git[0] == '/', "git resolves to an absolute path: %q", git)
	} else {
		require.Error(t, err)
	}
}
