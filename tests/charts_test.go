package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"polc.dev/polc/internal/charts"
	"polc.dev/polc/internal/charts/chartstest"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/testutil"
)

// helmReleaseFile is where the chart test repository writes its HelmReleases.
const helmReleaseFile = "modules/apps/media/helmrelease.yaml"

// TestChartsPullThenCheck is the user flow of HelmReleases end to end with the built binary:
// polc check reports the charts as not cached, polc charts pull fetches them from a loopback Helm
// repository and a loopback OCI registry, and polc check and polc render then template them from
// the cache without any request, leaving the repository untouched.
func TestChartsPullThenCheck(t *testing.T) {
	chart := kyvernoWithStandIns(t)
	helmRepo := chartstest.NewHelmRepo(t)
	helmRepo.AddChart("kyverno", chartstest.KyvernoVersion, chart)
	reg := chartstest.NewRegistry(t)
	reg.Push(t, "charts/kyverno", chartstest.KyvernoVersion, chart)
	hermeticCredentials(t, reg)
	dir := chartRepo(t, helmRepo.URL, reg.Host)
	cache := filepath.Join(t.TempDir(), "charts")
	before := snapshot(t, dir)

	t.Run("check before pull", func(t *testing.T) {
		res, rep := checkJSON(t, dir, cache)
		require.Equal(t, 0, res.Code, "missing charts are a warning: %s", res.Stdout)
		require.Zero(t, rep.Summary.Coverage.Objects["helm"])
		require.Zero(t, rep.Summary.Coverage.HelmReleases)
		var names []string
		for _, u := range rep.Summary.Coverage.NotRendered {
			require.Equal(t, "HelmRelease", u.Kind)
			require.Equal(t, "chart-not-cached", u.Cause, u.Reason)
			require.Equal(t, helmReleaseFile, u.File)
			names = append(names, u.Namespace+"/"+u.Name)
		}
		require.ElementsMatch(t, []string{"media/kyverno", "media/kyverno-oci"}, names)
		require.Equal(t, map[string]int{"coverage/unrendered": 2}, ruleCounts(rep))
	})

	pulled := t.Run("pull", func(t *testing.T) {
		res := Polc(t, dir, "charts", "pull", "--chart-cache", cache, "--plain-http")
		require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
		require.Contains(t, res.Stderr, "pulled "+helmRepo.URL+"/kyverno@"+chartstest.KyvernoVersion)
		require.Contains(t, res.Stderr, "pulled oci://"+reg.Host+"/charts/kyverno:"+chartstest.KyvernoVersion)
		require.Contains(t, res.Stdout, "2 charts cached, 0 failed")
		require.Contains(t, helmRepo.Requests(), "/index.yaml")
		require.NotZero(t, reg.Requests())

		again := Polc(t, dir, "charts", "pull", "--chart-cache", cache, "--plain-http")
		require.Equal(t, 0, again.Code, again.Stdout+again.Stderr)
		require.Equal(t, 2, strings.Count(again.Stderr, "cached "), again.Stderr)
		require.NotContains(t, again.Stderr, "pulled ")
	})
	require.True(t, pulled, "the rest of the flow needs the pulled charts")

	httpRequests, ociRequests := len(helmRepo.Requests()), reg.Requests()

	t.Run("check after pull", func(t *testing.T) {
		res, rep := checkJSON(t, dir, cache)
		// kyverno's default values grant cluster-wide RBAC, which an application module may not,
		// and its images are tagged, not pinned by digest: per release, 25 errors and 8 warnings.
		require.Equal(t, 1, res.Code, res.Stdout)
		require.Empty(t, res.Stderr)
		require.Equal(t, 128, rep.Summary.Coverage.Objects["helm"], "64 objects per release")
		require.Equal(t, 2, rep.Summary.Coverage.HelmReleases)
		require.Empty(t, rep.Summary.Coverage.NotRendered)
		require.Equal(t, map[string]int{"security/cluster-rbac": 50, "security/image-digest": 16}, ruleCounts(rep))
		lines := map[int]int{}
		for _, f := range rep.Findings {
			require.Equal(t, helmReleaseFile, f.File, "a chart object's finding points at its HelmRelease: %+v", f)
			require.NotNil(t, f.Object, "a chart object's finding names the object: %+v", f)
			require.Contains(t, f.Message, "from chart kyverno@"+chartstest.KyvernoVersion)
			lines[f.Line]++
		}
		require.Equal(t, map[int]int{1: 33, 19: 33}, lines, "findings point at each HelmRelease's document")
	})

	t.Run("render", func(t *testing.T) {
		res := Polc(t, dir, "render", "--chart-cache", cache)
		require.Equal(t, 0, res.Code, res.Stderr)
		for hr, line := range map[string]string{"kyverno": "1", "kyverno-oci": "19"} {
			comment := "# module media, helm media/" + hr + ", chart kyverno@" + chartstest.KyvernoVersion +
				", template kyverno/templates/admission-controller/deployment.yaml, " + helmReleaseFile + ":" + line + ":1\n"
			require.True(t, strings.Contains(res.Stdout, comment), "polc render prints no %q", comment)
		}
		require.Equal(t, 128, strings.Count(res.Stdout, "\n# module media, helm media/kyverno"), "rendered chart objects")
	})

	t.Run("tampered cache", func(t *testing.T) {
		ref := charts.Ref{Type: charts.TypeHelm, URL: helmRepo.URL, Chart: "kyverno", Version: chartstest.KyvernoVersion}
		require.NoError(t, os.WriteFile(filepath.Join(cache, charts.File(ref)), []byte("not a chart archive"), 0o644))
		res, rep := checkJSON(t, dir, cache)
		require.Equal(t, 1, res.Code, res.Stdout)
		require.Empty(t, res.Stderr)
		require.Equal(t, 1, ruleCounts(rep)["module/render"], res.Stdout)
		for _, f := range rep.Findings {
			if f.Rule == "module/render" {
				require.Equal(t, helmReleaseFile, f.File)
				require.Equal(t, 9, f.Line, "the finding points at spec.chart")
				require.Contains(t, f.Message, "HelmRelease/media/kyverno (chart "+ref.String()+"): load chart archive: not a gzipped archive")
			}
		}
		require.Equal(t, 1, rep.Summary.Coverage.HelmReleases, "the OCI chart still renders")
	})

	require.Equal(t, httpRequests, len(helmRepo.Requests()), "polc check or render reached the Helm repository")
	require.Equal(t, ociRequests, reg.Requests(), "polc check or render reached the OCI registry")
	require.Equal(t, before, snapshot(t, dir), "polc wrote into the repository it checked")
}

// checkJSON runs polc check --format json in dir with the chart cache and decodes the report.
func checkJSON(t *testing.T, dir, cache string) (Result, report.JSONReport) {
	t.Helper()
	res := Polc(t, dir, "check", "--chart-cache", cache, "--format", "json")
	var rep report.JSONReport
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep), res.Stdout+res.Stderr)
	return res, rep
}

// ruleCounts counts the findings of the report by rule.
func ruleCounts(rep report.JSONReport) map[string]int {
	out := map[string]int{}
	for _, f := range rep.Findings {
		out[f.Rule]++
	}
	return out
}

// chartRepo copies good-minimal into a temporary directory and adds, in platform-core, a
// HelmRepository at helmURL and an OCIRepository at the loopback registry host, and in media a
// HelmRelease of each pinning the kyverno chart. It returns the directory.
func chartRepo(t *testing.T, helmURL, host string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", "good-minimal"))))
	sources := fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: kyverno
  namespace: flux-system
spec:
  interval: 1h
  url: %s
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: kyverno
  namespace: flux-system
spec:
  interval: 1h
  url: oci://%s/charts/kyverno
  ref:
    tag: %s
  layerSelector:
    mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip
    operation: copy
`, helmURL, host, chartstest.KyvernoVersion)
	releases := fmt.Sprintf(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: kyverno
  namespace: media
spec:
  interval: 30m
  chart:
    spec:
      chart: kyverno
      version: %[1]s
      sourceRef:
        kind: HelmRepository
        name: kyverno
        namespace: flux-system
  commonMetadata:
    labels: %[2]s
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: kyverno-oci
  namespace: media
spec:
  interval: 30m
  chartRef:
    kind: OCIRepository
    name: kyverno
    namespace: flux-system
  commonMetadata:
    labels: %[2]s
`, chartstest.KyvernoVersion, "{polc.dev/module: media, polc.dev/module-type: application}")
	testutil.WriteFiles(t, dir, map[string]string{
		"modules/infrastructure/platform-core/sources.yaml": sources,
		helmReleaseFile: releases,
	})
	appendResource(t, filepath.Join(dir, "modules/infrastructure/platform-core/kustomization.yaml"), "sources.yaml")
	appendResource(t, filepath.Join(dir, "modules/apps/media/kustomization.yaml"), "helmrelease.yaml")
	return dir
}

// appendResource adds file to the resources list of a kustomization.yaml that ends the list
// with "  - settings.yaml".
func appendResource(t *testing.T, kustomization, file string) {
	t.Helper()
	data, err := os.ReadFile(kustomization)
	require.NoError(t, err)
	out := strings.Replace(string(data), "  - settings.yaml\n", "  - settings.yaml\n  - "+file+"\n", 1)
	require.NotEqual(t, string(data), out, "no resources list in %s", kustomization)
	require.NoError(t, os.WriteFile(kustomization, []byte(out), 0o644))
}

// kyvernoStandIns are the kyverno chart's dependencies from remote repositories, which its Go
// module does not ship: empty charts of the versions its Chart.yaml pins stand in for them, as in
// the helm package's tests.
var kyvernoStandIns = map[string]string{"kyverno-api": "0.0.1-alpha.4", "openreports": "0.1.0", "reports-server": "0.1.6"}

// kyvernoWithStandIns packages the real kyverno chart with empty stand-in dependencies, so that
// it templates as a chart pulled from kyverno's own repository does.
func kyvernoWithStandIns(t *testing.T) []byte {
	t.Helper()
	ch, err := loader.LoadArchive(strings.NewReader(string(chartstest.KyvernoChart(t))))
	require.NoError(t, err)
	for _, name := range []string{"kyverno-api", "openreports", "reports-server"} {
		ch.AddDependency(&chartv2.Chart{Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: name, Version: kyvernoStandIns[name]}})
	}
	file, err := chartutil.Save(ch, t.TempDir())
	require.NoError(t, err)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	return data
}

// hermeticCredentials points polc at credential files of the test only: a Docker config with
// the registry's credentials, and no Helm repository or registry config.
func hermeticCredentials(t *testing.T, reg *chartstest.Registry) {
	t.Helper()
	dir := t.TempDir()
	reg.DockerConfig(t, dir)
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HELM_REGISTRY_CONFIG", filepath.Join(dir, "helm-registry.json"))
	t.Setenv("HELM_REPOSITORY_CONFIG", filepath.Join(dir, "repositories.yaml"))
}
