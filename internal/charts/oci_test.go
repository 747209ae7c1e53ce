package charts

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v4/pkg/registry"
	"polc.dev/polc/internal/charts/chartstest"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Credentials of the test registry.
const (
	registryUser     = "polc"
	registryPassword = "s3cret"
)

// startRegistry starts a loopback OCI registry (distribution's, in memory) that requires basic
// auth, and returns its host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	logrus.SetOutput(io.Discard)
	hash, err := bcrypt.GenerateFromPassword([]byte(registryPassword), bcrypt.MinCost)
	require.NoError(t, err)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	require.NoError(t, os.WriteFile(htpasswd, fmt.Appendf(nil, "%s:%s\n", registryUser, hash), 0o600))
	config := &configuration.Configuration{}
	config.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	config.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "polc-test", "path": htpasswd}}
	config.Log.AccessLog.Disabled = true
	srv := httptest.NewServer(handlers.NewApp(context.Background(), config))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// pushChart pushes a packaged chart to host/repo:tag with Helm's registry client and returns
// the manifest digest.
func pushChart(t *testing.T, host, repo, tag string, data []byte) string {
	t.Helper()
	client, err := registry.NewClient(registry.ClientOptPlainHTTP(), registry.ClientOptWriter(io.Discard),
		registry.ClientOptBasicAuth(registryUser, registryPassword), registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	require.NoError(t, err)
	res, err := client.Push(data, host+"/"+repo+":"+tag, registry.PushOptStrictMode(false))
	require.NoError(t, err)
	return res.Manifest.Digest
}

// dockerConfigFor writes a Docker config with static credentials for host and returns its path.
func dockerConfigFor(t *testing.T, host string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(registryUser + ":" + registryPassword))
	require.NoError(t, os.WriteFile(file, []byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), 0o600))
	return file
}

// TestPullOCIKyverno pushes the real kyverno chart to a loopback registry and pulls it as a
// HelmRepository of type oci would, and as an OCIRepository pinned by tag and by digest.
func TestPullOCIKyverno(t *testing.T) {
	data := chartstest.KyvernoChart(t)
	host := startRegistry(t)
	digest := pushChart(t, host, "charts/kyverno", chartstest.KyvernoVersion, data)
	opts := noCredentials()
	opts.PlainHTTP = true
	opts.DockerConfigs = []string{filepath.Join(t.TempDir(), "missing.json"), dockerConfigFor(t, host)}
	refs := map[string]Ref{
		"HelmRepository":          {Type: TypeOCI, URL: "oci://" + host + "/charts", Chart: "kyverno", Version: chartstest.KyvernoVersion},
		"OCIRepository by tag":    {Type: TypeOCI, URL: "oci://" + host + "/charts/kyverno", Version: chartstest.KyvernoVersion},
		"OCIRepository by digest": {Type: TypeOCI, URL: "oci://" + host + "/charts/kyverno", Digest: digest},
	}
	for name, ref := range refs {
		t.Run(name, func(t *testing.T) {
			c := Cache{Dir: t.TempDir()}
			require.NoError(t, Pull(context.Background(), c, ref, opts))
			got, err := c.Get(ref)
			require.NoError(t, err)
			require.Equal(t, data, got)
		})
	}
}

func TestPullOCIErrors(t *testing.T) {
	host := startRegistry(t)
	tiny := chartstest.TinyChart(t, "app", "1.0.0+build.1")
	pushChart(t, host, "charts/app", "1.0.0_build.1", tiny)
	withAuth := noCredentials()
	withAuth.PlainHTTP = true
	withAuth.DockerConfigs = []string{dockerConfigFor(t, host)}
	noAuth := noCredentials()
	noAuth.PlainHTTP = true
	wrong := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name    string
		ref     Ref
		opts    PullOptions
		wantErr string
	}{
		{name: "wrong digest", opts: withAuth, wantErr: "not found",
			ref: Ref{Type: TypeOCI, URL: "oci://" + host + "/charts/app", Version: "1.0.0+build.1", Digest: wrong}},
		{name: "no credentials", opts: noAuth, wantErr: "basic credential not found",
			ref: Ref{Type: TypeOCI, URL: "oci://" + host + "/charts", Chart: "app", Version: "1.0.0+build.1"}},
		{name: "missing tag", opts: withAuth, wantErr: "not found",
			ref: Ref{Type: TypeOCI, URL: "oci://" + host + "/charts", Chart: "app", Version: "2.0.0"}},
		{name: "oversize layer", wantErr: "more than the 10 allowed",
			opts: func() PullOptions { o := withAuth; o.MaxChartSize = 10; return o }(),
			ref:  Ref{Type: TypeOCI, URL: "oci://" + host + "/charts", Chart: "app", Version: "1.0.0+build.1"}},
		{name: "https to a plain registry", opts: func() PullOptions { o := withAuth; o.PlainHTTP = false; return o }(), wantErr: "fetch manifest",
			ref: Ref{Type: TypeOCI, URL: "oci://" + host + "/charts", Chart: "app", Version: "1.0.0+build.1"}},
		{name: "not an oci URL", opts: withAuth, wantErr: "is not an oci:// URL",
			ref: Ref{Type: TypeOCI, URL: "https://" + host, Chart: "app", Version: "1.0.0"}},
		{name: "bad digest", opts: withAuth, wantErr: "digest",
			ref: Ref{Type: TypeOCI, URL: "oci://" + host + "/charts/app", Digest: "sha256:xyz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Cache{Dir: t.TempDir()}
			err := Pull(context.Background(), c, tc.ref, tc.opts)
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorContains(t, err, "pull "+tc.ref.String())
			require.False(t, c.Has(tc.ref))
		})
	}
	// The same chart pulls with credentials, its "+" written "_" in the tag.
	ref := Ref{Type: TypeOCI, URL: "oci://" + host + "/charts", Chart: "app", Version: "1.0.0+build.1"}
	require.NoError(t, Pull(context.Background(), Cache{Dir: t.TempDir()}, ref, withAuth))
}

// TestChartLayer: only an image manifest with one chart layer within the size cap is a chart.
func TestChartLayer(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		wantErr  string
	}{
		{name: "chart layer", manifest: `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"sha256:` + strings.Repeat("a", 64) + `","size":5}]}`},
		{name: "legacy layer", manifest: `{"schemaVersion":2,"layers":[{"mediaType":"application/tar+gzip","digest":"sha256:` + strings.Repeat("a", 64) + `","size":5}]}`},
		{name: "image", manifest: `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("a", 64) + `","size":5}]}`,
			wantErr: "not a Helm chart"},
		{name: "index", manifest: `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, wantErr: "image index"},
		{name: "negative size", manifest: `{"schemaVersion":2,"layers":[{"mediaType":"application/tar+gzip","digest":"sha256:` + strings.Repeat("a", 64) + `","size":-1}]}`,
			wantErr: "more than"},
		{name: "not JSON", manifest: `<html>`, wantErr: "parse manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chartLayer([]byte(tc.manifest), 100)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
