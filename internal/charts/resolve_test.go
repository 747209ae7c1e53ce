package charts

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// sources are the Flux source objects the resolve tests look up.
const sources = `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: podinfo, namespace: flux-system}
spec: {url: "https://stefanprodan.github.io/podinfo/"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: bitnami, namespace: apps}
spec: {url: "oci://registry-1.docker.io/bitnamicharts", type: oci}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: ftp, namespace: apps}
spec: {url: "ftp://charts.example.com"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: oci-no-scheme, namespace: apps}
spec: {url: "https://ghcr.io/org/charts", type: oci}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo-tag, namespace: apps}
spec: {url: "oci://ghcr.io/stefanprodan/charts/podinfo", ref: {tag: "6.7.1"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo-digest, namespace: apps}
spec:
  url: oci://ghcr.io/stefanprodan/charts/podinfo/
  ref: {tag: "6.7.1", digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo-semver, namespace: apps}
spec: {url: "oci://ghcr.io/stefanprodan/charts/podinfo", ref: {semver: ">=6.0.0"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo-exact-semver, namespace: apps}
spec: {url: "oci://ghcr.io/stefanprodan/charts/podinfo", ref: {semver: "6.7.1"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: podinfo-latest, namespace: apps}
spec: {url: "oci://ghcr.io/stefanprodan/charts/podinfo"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: bad-digest, namespace: apps}
spec: {url: "oci://ghcr.io/x/y", ref: {digest: "md5:abc"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: podinfo, namespace: flux-system}
spec: {chart: podinfo, version: "6.7.1", sourceRef: {kind: HelmRepository, name: podinfo}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: local, namespace: flux-system}
spec: {chart: ./charts/app, sourceRef: {kind: GitRepository, name: flux-system}}
`

// lookupIn indexes the objects of a YAML stream by kind, namespace and name.
func lookupIn(t *testing.T, stream string) Lookup {
	t.Helper()
	nodes, err := kio.FromBytes([]byte(stream))
	require.NoError(t, err)
	return func(kind, namespace, name string) *yaml.RNode {
		for _, n := range nodes {
			if n.GetKind() == kind && n.GetNamespace() == namespace && n.GetName() == name {
				return n
			}
		}
		return nil
	}
}

// helmRelease returns a HelmRelease in namespace apps with the given spec (YAML, indented by 2).
func helmRelease(t *testing.T, spec string) *yaml.RNode {
	t.Helper()
	n, err := yaml.Parse("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app, namespace: apps}\nspec:\n" + spec)
	require.NoError(t, err)
	return n
}

func TestResolve(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		name       string
		spec       string
		want       Resolved
		wantReason Reason
		wantDetail string
	}{
		{name: "HelmRepository in another namespace",
			spec: "  chart: {spec: {chart: podinfo, version: 6.7.1, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			want: Resolved{Ref: Ref{Type: TypeHelm, URL: "https://stefanprodan.github.io/podinfo", Chart: "podinfo", Version: "6.7.1"}}},
		{name: "source namespace defaults to the HelmRelease's",
			spec:       "  chart: {spec: {chart: podinfo, version: 6.7.1, sourceRef: {kind: HelmRepository, name: podinfo}}}\n",
			wantReason: ReasonSourceNotFound, wantDetail: "HelmRepository/apps/podinfo"},
		{name: "sourceRef kind defaults to HelmRepository",
			spec: "  chart: {spec: {chart: redis, version: 20.1.0, sourceRef: {name: bitnami}}}\n",
			want: Resolved{Ref: Ref{Type: TypeOCI, URL: "oci://registry-1.docker.io/bitnamicharts", Chart: "redis", Version: "20.1.0"}}},
		{name: "HelmRepository of type oci",
			spec: "  chart: {spec: {chart: redis, version: v20.1.0-rc.1+build.5, sourceRef: {kind: HelmRepository, name: bitnami}}}\n",
			want: Resolved{Ref: Ref{Type: TypeOCI, URL: "oci://registry-1.docker.io/bitnamicharts", Chart: "redis", Version: "v20.1.0-rc.1+build.5"}}},
		{name: "missing version is not pinned",
			spec:       "  chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			wantReason: ReasonNotPinned, wantDetail: `chart "podinfo" version "*"`},
		{name: "star is not pinned",
			spec:       "  chart: {spec: {chart: podinfo, version: '*', sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			wantReason: ReasonNotPinned},
		{name: "range is not pinned",
			spec:       "  chart: {spec: {chart: podinfo, version: '>=6.0.0 <7.0.0', sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			wantReason: ReasonNotPinned},
		{name: "tilde is not pinned",
			spec:       "  chart: {spec: {chart: podinfo, version: '~6.7', sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			wantReason: ReasonNotPinned},
		{name: "partial version is not pinned",
			spec:       "  chart: {spec: {chart: podinfo, version: '6.7', sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			wantReason: ReasonNotPinned},
		{name: "x wildcard is not pinned",
			spec:       "  chart: {spec: {chart: podinfo, version: '6.7.x', sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			wantReason: ReasonNotPinned},
		{name: "missing HelmRepository",
			spec:       "  chart: {spec: {chart: podinfo, version: 6.7.1, sourceRef: {kind: HelmRepository, name: nope, namespace: flux-system}}}\n",
			wantReason: ReasonSourceNotFound, wantDetail: "HelmRepository/flux-system/nope"},
		{name: "HelmRepository with an unsupported scheme",
			spec:       "  chart: {spec: {chart: x, version: 1.0.0, sourceRef: {kind: HelmRepository, name: ftp}}}\n",
			wantReason: ReasonInvalidSource},
		{name: "oci HelmRepository without oci scheme",
			spec:       "  chart: {spec: {chart: x, version: 1.0.0, sourceRef: {kind: HelmRepository, name: oci-no-scheme}}}\n",
			wantReason: ReasonInvalidSource},
		{name: "chart name with a path",
			spec:       "  chart: {spec: {chart: ../x, version: 1.0.0, sourceRef: {kind: HelmRepository, name: podinfo, namespace: flux-system}}}\n",
			wantReason: ReasonInvalid},
		{name: "Bucket is unsupported",
			spec:       "  chart: {spec: {chart: ./charts/app, sourceRef: {kind: Bucket, name: charts}}}\n",
			wantReason: ReasonUnsupportedSource, wantDetail: `sourceRef kind "Bucket"`},
		{name: "own GitRepository gives a local path",
			spec: "  chart: {spec: {chart: ./charts/../charts/app/, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}}\n",
			want: Resolved{LocalPath: "charts/app"}},
		{name: "own GitRepository needs its namespace",
			spec:       "  chart: {spec: {chart: ./charts/app, sourceRef: {kind: GitRepository, name: flux-system}}}\n",
			wantReason: ReasonUnsupportedSource, wantDetail: "GitRepository/apps/flux-system is not the repository's own source GitRepository/flux-system/flux-system"},
		{name: "other GitRepository is unsupported",
			spec:       "  chart: {spec: {chart: ./charts/app, sourceRef: {kind: GitRepository, name: upstream, namespace: flux-system}}}\n",
			wantReason: ReasonUnsupportedSource},
		{name: "path outside the repository",
			spec:       "  chart: {spec: {chart: ../../etc, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}}\n",
			wantReason: ReasonPathOutside},
		{name: "absolute path",
			spec:       "  chart: {spec: {chart: /charts/app, sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}}}\n",
			wantReason: ReasonPathOutside},
		{name: "chartRef OCIRepository by tag",
			spec: "  chartRef: {kind: OCIRepository, name: podinfo-tag}\n",
			want: Resolved{Ref: Ref{Type: TypeOCI, URL: "oci://ghcr.io/stefanprodan/charts/podinfo", Version: "6.7.1"}}},
		{name: "chartRef OCIRepository digest wins",
			spec: "  chartRef: {kind: OCIRepository, name: podinfo-digest, namespace: apps}\n",
			want: Resolved{Ref: Ref{Type: TypeOCI, URL: "oci://ghcr.io/stefanprodan/charts/podinfo", Version: "6.7.1", Digest: digest}}},
		{name: "chartRef OCIRepository semver range",
			spec:       "  chartRef: {kind: OCIRepository, name: podinfo-semver}\n",
			wantReason: ReasonNotPinned, wantDetail: `spec.ref.semver ">=6.0.0"`},
		{name: "chartRef OCIRepository exact semver",
			spec: "  chartRef: {kind: OCIRepository, name: podinfo-exact-semver}\n",
			want: Resolved{Ref: Ref{Type: TypeOCI, URL: "oci://ghcr.io/stefanprodan/charts/podinfo", Version: "6.7.1"}}},
		{name: "chartRef OCIRepository without ref follows latest",
			spec:       "  chartRef: {kind: OCIRepository, name: podinfo-latest}\n",
			wantReason: ReasonNotPinned},
		{name: "chartRef OCIRepository with a bad digest",
			spec:       "  chartRef: {kind: OCIRepository, name: bad-digest}\n",
			wantReason: ReasonInvalidSource},
		{name: "chartRef OCIRepository missing",
			spec:       "  chartRef: {kind: OCIRepository, name: nope}\n",
			wantReason: ReasonSourceNotFound, wantDetail: "OCIRepository/apps/nope"},
		{name: "chartRef HelmChart in another namespace",
			spec: "  chartRef: {kind: HelmChart, name: podinfo, namespace: flux-system}\n",
			want: Resolved{Ref: Ref{Type: TypeHelm, URL: "https://stefanprodan.github.io/podinfo", Chart: "podinfo", Version: "6.7.1"}}},
		{name: "chartRef HelmChart from the own GitRepository",
			spec: "  chartRef: {kind: HelmChart, name: local, namespace: flux-system}\n",
			want: Resolved{LocalPath: "charts/app"}},
		{name: "chartRef of an unknown kind",
			spec:       "  chartRef: {kind: GitRepository, name: flux-system}\n",
			wantReason: ReasonUnsupportedSource},
		{name: "chartRef without a name",
			spec:       "  chartRef: {kind: OCIRepository}\n",
			wantReason: ReasonInvalid},
		{name: "no chart at all",
			spec:       "  interval: 10m\n",
			wantReason: ReasonInvalid},
		{name: "chart spec of the wrong shape",
			spec:       "  chart: {spec: [a, b, c]}\n",
			wantReason: ReasonInvalid},
		{name: "spec fields of the wrong shape",
			spec:       "  chart: {spec: {chart: [a], version: {x: 1}, sourceRef: [1, 2, 3]}}\n",
			wantReason: ReasonInvalid},
	}
	lookup := lookupIn(t, sources)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, detail := Resolve(helmRelease(t, tc.spec), lookup, DefaultSelf)
			require.Equal(t, tc.wantReason, reason, detail)
			require.Equal(t, tc.want, got)
			if tc.wantReason == "" {
				require.Empty(t, detail)
			} else {
				require.NotEmpty(t, detail)
			}
			require.True(t, strings.Contains(detail, tc.wantDetail), "detail %q lacks %q", detail, tc.wantDetail)
		})
	}
}

// TestResolveOddShapes: a HelmRelease whose spec is not a mapping resolves to ReasonInvalid
// without panicking.
func TestResolveOddShapes(t *testing.T) {
	for _, doc := range []string{
		"kind: HelmRelease\nmetadata: {name: a}\nspec: [a, b, c]\n",
		"kind: HelmRelease\nmetadata: {name: a}\nspec: text\n",
		"kind: HelmRelease\nmetadata: {name: a}\n",
		"kind: HelmRelease\nmetadata: {name: a}\nspec: {chartRef: [a, b, c]}\n",
		"kind: HelmRelease\nmetadata: {name: a}\nspec: {chart: [a, b, c]}\n",
	} {
		n, err := yaml.Parse(doc)
		require.NoError(t, err)
		_, reason, _ := Resolve(n, func(string, string, string) *yaml.RNode { return nil }, DefaultSelf)
		require.Equal(t, ReasonInvalid, reason, doc)
	}
}

func TestRefString(t *testing.T) {
	require.Equal(t, "https://charts.example.com/app@1.0.0", Ref{Type: TypeHelm, URL: "https://charts.example.com/", Chart: "app", Version: "1.0.0"}.String())
	require.Equal(t, "oci://ghcr.io/org/charts/app:1.0.0", Ref{Type: TypeOCI, URL: "oci://ghcr.io/org/charts", Chart: "app", Version: "1.0.0"}.String())
	require.Equal(t, "oci://ghcr.io/org/app@sha256:ab", Ref{Type: TypeOCI, URL: "oci://ghcr.io/org/app", Digest: "sha256:ab"}.String())
}
