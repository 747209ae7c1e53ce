// Package chartstest serves and packages Helm charts for tests: real charts from Go modules, tiny
// generated ones, and a loopback Helm repository.
package chartstest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// KyvernoVersion is the version of charts/kyverno in the kyverno module that go.mod requires.
const KyvernoVersion = "3.9.1"

var kyverno struct {
	once sync.Once
	data []byte
	err  error
}

// KyvernoChart packages the real kyverno chart shipped in the github.com/kyverno/kyverno Go
// module (once per test binary) and returns the .tgz.
func KyvernoChart(t *testing.T) []byte {
	t.Helper()
	kyverno.once.Do(func() { kyverno.data, kyverno.err = packageKyverno() })
	require.NoError(t, kyverno.err)
	return kyverno.data
}

// packageKyverno loads charts/kyverno from the module cache and saves it as a chart archive.
func packageKyverno() ([]byte, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kyverno/kyverno").Output()
	if err != nil {
		return nil, fmt.Errorf("find the kyverno module: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return nil, fmt.Errorf("the kyverno module is not downloaded: run go mod download github.com/kyverno/kyverno")
	}
	ch, err := loader.LoadDir(filepath.Join(dir, "charts", "kyverno"))
	if err != nil {
		return nil, err
	}
	return Package(ch)
}

// Package saves a chart as a .tgz archive and returns its bytes.
func Package(ch *chartv2.Chart) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "polc-chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	file, err := chartutil.Save(ch, tmp)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(file)
}

// TinyChart returns a small packaged chart with one template.
func TinyChart(t *testing.T, name, version string) []byte {
	t.Helper()
	ch := &chartv2.Chart{
		Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: name, Version: version},
		Templates: []*common.File{{Name: "templates/cm.yaml",
			Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n")}},
	}
	dir := t.TempDir()
	file, err := chartutil.Save(ch, dir)
	require.NoError(t, err)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	return data
}

// SHA256Hex returns the hex sha256 of data, as Helm repository indexes write digests.
func SHA256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// HelmRepo is a loopback Helm repository serving index.yaml and chart files.
type HelmRepo struct {
	*httptest.Server
	mu       sync.Mutex
	files    map[string][]byte
	handlers map[string]http.HandlerFunc
	requests []string
	entries  []IndexEntry
}

// NewHelmRepo starts a loopback Helm repository, closed when the test ends.
func NewHelmRepo(t *testing.T) *HelmRepo {
	t.Helper()
	r := &HelmRepo{files: map[string][]byte{}, handlers: map[string]http.HandlerFunc{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// serve answers with the handler or the file of the path, or 404.
func (r *HelmRepo) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, req.URL.Path)
	h, data := r.handlers[req.URL.Path], r.files[req.URL.Path]
	r.mu.Unlock()
	switch {
	case h != nil:
		h(w, req)
	case data == nil:
		http.NotFound(w, req)
	default:
		_, _ = w.Write(data)
	}
}

// Serve serves data at path ("/charts/x-1.0.0.tgz").
func (r *HelmRepo) Serve(path string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[path] = data
}

// Handle answers requests for path with h.
func (r *HelmRepo) Handle(path string, h http.HandlerFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[path] = h
}

// Requests returns the paths requested so far, in order.
func (r *HelmRepo) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

// AddChart serves a packaged chart at /charts/NAME-VERSION.tgz and lists it in index.yaml with
// its digest, as `helm repo index` would.
func (r *HelmRepo) AddChart(name, version string, data []byte) {
	r.mu.Lock()
	r.entries = append(r.entries, IndexEntry{Name: name, Version: version, URL: "charts/" + name + "-" + version + ".tgz", Digest: SHA256Hex(data)})
	entries := append([]IndexEntry(nil), r.entries...)
	r.mu.Unlock()
	r.Serve("/charts/"+name+"-"+version+".tgz", data)
	r.SetIndex(entries...)
}

// IndexEntry is one chart version in a generated index.
type IndexEntry struct {
	Name, Version, URL, Digest string
}

// SetIndex serves an index.yaml that lists entries (URLs as given, relative or absolute).
func (r *HelmRepo) SetIndex(entries ...IndexEntry) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n")
	byName := map[string][]IndexEntry{}
	var names []string
	for _, e := range entries {
		if byName[e.Name] == nil {
			names = append(names, e.Name)
		}
		byName[e.Name] = append(byName[e.Name], e)
	}
	for _, n := range names {
		fmt.Fprintf(&b, "  %s:\n", n)
		for _, e := range byName[n] {
			fmt.Fprintf(&b, "  - name: %s\n    version: %s\n    urls:\n    - %s\n", e.Name, e.Version, e.URL)
			if e.Digest != "" {
				fmt.Fprintf(&b, "    digest: %s\n", e.Digest)
			}
		}
	}
	r.Serve("/index.yaml", []byte(b.String()))
}
