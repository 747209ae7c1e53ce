package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTestCmdKyvernoUsage covers what polc test --kyverno refuses before it starts or reaches
// an API server: no server is started (etcd and kube-apiserver cannot be found here, and the
// message would say so).
func TestTestCmdKyvernoUsage(t *testing.T) {
	repo := filepath.Join("..", "..", "tests", "testdata", "apitest", "crd-waves")
	t.Setenv("KUBEBUILDER_ASSETS", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	tests := []struct {
		name       string
		kubeconfig string
		args       []string
		msg        string
	}{
		{"no kubeconfig", "", []string{"--kyverno"},
			"polc: --kyverno needs --kubeconfig (or $KUBECONFIG) to a cluster where Kyverno runs: the local control plane runs etcd and kube-apiserver only, no admission controller\n"},
		{"no kubeconfig, a module named", "", []string{"--kyverno", "app"}, "--kyverno needs --kubeconfig"},
		{"with --emit-chainsaw", "", []string{"--kyverno", "--emit-chainsaw", t.TempDir()},
			"polc: --kyverno installs the policy pack for a test run; --emit-chainsaw writes the plan without running it\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.kubeconfig)
			var out, errb bytes.Buffer
			code := Execute(append([]string{"test", "--repo", repo}, tc.args...), &out, &errb)
			assert.Equal(t, 2, code, errb.String())
			assert.Contains(t, errb.String(), tc.msg)
			assert.NotContains(t, errb.String(), "not found in $KUBEBUILDER_ASSETS", "no control plane is started")
			assert.NotContains(t, errb.String(), "starting")
			assert.Empty(t, out.String())
		})
	}
}

// TestTestCmdKyvernoNotServed fails with exit code 2, before any module, on a cluster that does
// not serve Kyverno's policy kinds; the API server (a loopback stub that serves discovery only)
// receives nothing but discovery requests.
func TestTestCmdKyvernoNotServed(t *testing.T) {
	repo := filepath.Join("..", "..", "tests", "testdata", "apitest", "crd-waves")
	var mu sync.Mutex
	var others []string
	docs := map[string]string{
		"/api":    `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}`,
		"/apis":   `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`,
		"/api/v1": `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["get","create","delete","patch"]}]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, ok := docs[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, d)
			return
		}
		mu.Lock()
		others = append(others, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "+srv.URL+
		"\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"), 0o600))
	t.Setenv("KUBECONFIG", "")

	var out, errb bytes.Buffer
	code := Execute([]string{"test", "--repo", repo, "--kyverno", "--kubeconfig", kubeconfig}, &out, &errb)
	assert.Equal(t, 2, code, errb.String())
	assert.Contains(t, errb.String(), "polc: --kyverno needs a cluster where Kyverno runs: the API server does not serve Kyverno's policy kinds: no ClusterPolicy (kyverno.io/v1)\n")
	assert.NotContains(t, errb.String(), "applying", "no module is tested")
	assert.Empty(t, out.String())
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, others, "only discovery requests")
}
