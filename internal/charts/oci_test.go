package charts

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/charts/chartstest"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// TestPullOCIKyverno pushes the real kyverno chart to a loopback registry and pulls it as a
// HelmRepository of type oci would, and as an OCIRepository pinned by tag and by digest.
func TestPullOCIKyverno(t *testing.T) {
	data := chartstest.KyvernoChart(t)
	reg := chartstest.NewRegistry(t)
	host := reg.Host
	digest := reg.Push(t, "charts/kyverno", chartstest.KyvernoVersion, data)
	opts := noCredentials()
	opts.PlainHTTP = true
	opts.DockerConfigs = []string{filepath.Join(t.TempDir(), "missing.json"), reg.DockerConfig(t, t.TempDir())}
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
	reg := chartstest.NewRegistry(t)
	host := reg.Host
	tiny := chartstest.TinyChart(t, "app", "1.0.0+build.1")
	reg.Push(t, "charts/app", "1.0.0_build.1", tiny)
	withAuth := noCredentials()
	withAuth.PlainHTTP = true
	withAuth.DockerConfigs = []string{reg.DockerConfig(t, t.TempDir())}
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
