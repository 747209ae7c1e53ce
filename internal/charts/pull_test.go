package charts

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/charts/chartstest"
)

// noCredentials are pull options that read no credentials file of the user running the tests.
func noCredentials() PullOptions {
	return PullOptions{DockerConfigs: []string{}, HelmRepositoryConfig: os.DevNull}
}

// TestPullHTTPKyverno pulls the real kyverno chart from a loopback Helm repository, checks the
// index digest, and then finds it in the cache without the network.
func TestPullHTTPKyverno(t *testing.T) {
	data := chartstest.KyvernoChart(t)
	repo := chartstest.NewHelmRepo(t)
	repo.AddChart("kyverno", chartstest.KyvernoVersion, data)
	c := Cache{Dir: t.TempDir()}
	ref := Ref{Type: TypeHelm, URL: repo.URL + "/", Chart: "kyverno", Version: chartstest.KyvernoVersion}
	require.NoError(t, Pull(context.Background(), c, ref, noCredentials()))
	got, err := c.Get(ref)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Equal(t, []string{"/index.yaml", "/charts/kyverno-" + chartstest.KyvernoVersion + ".tgz"}, repo.Requests())

	// A second pull finds the chart in the cache and asks nothing.
	require.NoError(t, Pull(context.Background(), c, ref, noCredentials()))
	require.Len(t, repo.Requests(), 2)
}

func TestPullHTTPErrors(t *testing.T) {
	tiny := chartstest.TinyChart(t, "app", "1.0.0")
	tests := []struct {
		name    string
		setup   func(r *chartstest.HelmRepo)
		ref     func(r *chartstest.HelmRepo) Ref
		opts    func(o *PullOptions)
		wantErr string
	}{
		{name: "wrong digest",
			setup: func(r *chartstest.HelmRepo) {
				r.Serve("/app-1.0.0.tgz", tiny)
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "1.0.0", URL: "app-1.0.0.tgz", Digest: strings.Repeat("0", 64)})
			},
			wantErr: "does not match the index's"},
		{name: "chart not in the index",
			setup: func(r *chartstest.HelmRepo) {
				r.SetIndex(chartstest.IndexEntry{Name: "other", Version: "1.0.0", URL: "x.tgz"})
			},
			wantErr: `chart "app" is not in the repository's index`},
		{name: "version not in the index",
			setup: func(r *chartstest.HelmRepo) {
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "0.9.0", URL: "x.tgz"})
			},
			wantErr: "has no version 1.0.0"},
		{name: "no index",
			setup:   func(r *chartstest.HelmRepo) {},
			wantErr: "404 Not Found"},
		{name: "oversize index",
			setup: func(r *chartstest.HelmRepo) {
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "1.0.0", URL: "app-1.0.0.tgz"})
			},
			opts:    func(o *PullOptions) { o.MaxIndexSize = 10 },
			wantErr: "more than the 10"},
		{name: "oversize chart without a length",
			setup: func(r *chartstest.HelmRepo) {
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "1.0.0", URL: "app-1.0.0.tgz"})
				r.Handle("/app-1.0.0.tgz", func(w http.ResponseWriter, _ *http.Request) {
					for range 4 {
						_, _ = w.Write(make([]byte, 1024))
						w.(http.Flusher).Flush() // chunked: no Content-Length
					}
				})
			},
			opts:    func(o *PullOptions) { o.MaxChartSize = 2048 },
			wantErr: "more than the 2048 bytes allowed"},
		{name: "redirect to a non-http scheme",
			setup: func(r *chartstest.HelmRepo) {
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "1.0.0", URL: "app-1.0.0.tgz"})
				r.Handle("/app-1.0.0.tgz", func(w http.ResponseWriter, req *http.Request) {
					http.Redirect(w, req, "file:///etc/passwd", http.StatusFound)
				})
			},
			wantErr: "redirect to file:///etc/passwd refused"},
		{name: "chart URL of a non-http scheme",
			setup: func(r *chartstest.HelmRepo) {
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "1.0.0", URL: "file:///etc/passwd"})
			},
			wantErr: "is not an http or https URL"},
		{name: "archive of another chart",
			setup: func(r *chartstest.HelmRepo) {
				other := chartstest.TinyChart(t, "other", "1.0.0")
				r.Serve("/app-1.0.0.tgz", other)
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "1.0.0", URL: "app-1.0.0.tgz", Digest: chartstest.SHA256Hex(other)})
			},
			wantErr: `holds chart "other"`},
		{name: "not a chart",
			setup: func(r *chartstest.HelmRepo) {
				r.Serve("/app-1.0.0.tgz", []byte("<html>"))
				r.SetIndex(chartstest.IndexEntry{Name: "app", Version: "1.0.0", URL: "app-1.0.0.tgz"})
			},
			wantErr: "load chart"},
		{name: "slow server",
			setup: func(r *chartstest.HelmRepo) {
				r.Handle("/index.yaml", func(_ http.ResponseWriter, req *http.Request) {
					select {
					case <-req.Context().Done():
					case <-time.After(5 * time.Second):
					}
				})
			},
			opts:    func(o *PullOptions) { o.Timeout = 100 * time.Millisecond },
			wantErr: "deadline exceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := chartstest.NewHelmRepo(t)
			tc.setup(r)
			opts := noCredentials()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			c := Cache{Dir: t.TempDir()}
			ref := Ref{Type: TypeHelm, URL: r.URL, Chart: "app", Version: "1.0.0"}
			err := Pull(context.Background(), c, ref, opts)
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorContains(t, err, "pull "+ref.String())
			require.False(t, c.Has(ref))
		})
	}
}

// TestPullHTTPAbsoluteURLAndAuth: a chart URL may be absolute; Helm's repositories file gives
// basic-auth credentials, sent only to the repository's own host.
func TestPullHTTPAbsoluteURLAndAuth(t *testing.T) {
	tiny := chartstest.TinyChart(t, "app", "1.2.3")
	r := chartstest.NewHelmRepo(t)
	var auths []string
	r.Handle("/index.yaml", func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		if !ok || user != "u" || pass != "p" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		auths = append(auths, user)
		_, _ = w.Write([]byte("entries:\n  app:\n  - version: 1.2.3\n    urls: [" + r.URL + "/dl/app.tgz]\n    digest: " + chartstest.SHA256Hex(tiny) + "\n"))
	})
	r.Serve("/dl/app.tgz", tiny)
	reposFile := filepath.Join(t.TempDir(), "repositories.yaml")
	require.NoError(t, os.WriteFile(reposFile, []byte("apiVersion: v1\nrepositories:\n- name: x\n  url: "+r.URL+"/\n  username: u\n  password: p\n"), 0o600))
	opts := noCredentials()
	opts.HelmRepositoryConfig = reposFile
	c := Cache{Dir: t.TempDir()}
	ref := Ref{Type: TypeHelm, URL: r.URL, Chart: "app", Version: "1.2.3"}
	require.NoError(t, Pull(context.Background(), c, ref, opts))
	require.Equal(t, []string{"u"}, auths)
	require.True(t, c.Has(ref))
}

func TestPullRefusesUnknownType(t *testing.T) {
	err := Pull(context.Background(), Cache{Dir: t.TempDir()}, Ref{Type: "git", URL: "https://x"}, noCredentials())
	require.ErrorContains(t, err, `unknown source type "git"`)
}
