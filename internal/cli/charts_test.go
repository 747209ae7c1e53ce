package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/charts"
	"polc.dev/polc/internal/charts/chartstest"
	"polc.dev/polc/internal/testutil"
)

// chartsRepo writes a repository whose infra module holds the HelmRepository at repoURL and
// whose apps module holds HelmReleases: one of the kyverno chart, one unpinned, one from the
// repository itself, and one of a chart the HelmRepository lacks.
func chartsRepo(t *testing.T, repoURL string) string {
	t.Helper()
	mod := func(name, typ string) string {
		return "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + name + "\nspec:\n  type: " + typ + "\n  version: 1.0.0\n"
	}
	return testutil.WriteRepo(t, map[string]string{
		"polc.yaml":                                "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec: {}\n",
		"modules/infra/sources/module.yaml":        mod("sources", "infrastructure"),
		"modules/infra/sources/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [repos.yaml]\n",
		"modules/infra/sources/repos.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: loopback
  namespace: flux-system
spec:
  url: ` + repoURL + `
`,
		"charts/local/Chart.yaml":                "apiVersion: v2\nname: local\nversion: 0.1.0\n",
		"charts/local/templates/cm.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
		"modules/apps/policy/module.yaml":        mod("policy", "application"),
		"modules/apps/policy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [releases.yaml]\n",
		"modules/apps/policy/releases.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: kyverno
  namespace: kyverno
spec:
  chart:
    spec:
      chart: kyverno
      version: ` + chartstest.KyvernoVersion + `
      sourceRef: {kind: HelmRepository, name: loopback, namespace: flux-system}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: floating
  namespace: kyverno
spec:
  chart:
    spec:
      chart: kyverno
      version: ">=3.0.0"
      sourceRef: {kind: HelmRepository, name: loopback, namespace: flux-system}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: local
  namespace: kyverno
spec:
  chart:
    spec:
      chart: ./charts/local
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
`,
	})
}

// TestChartsPull runs polc charts pull against a loopback Helm repository serving the real
// kyverno chart: the chart lands in the cache, the unpinned HelmRelease is listed with its
// reason without failing the run, and a second run finds the chart cached.
func TestChartsPull(t *testing.T) {
	data := chartstest.KyvernoChart(t)
	hr := chartstest.NewHelmRepo(t)
	hr.AddChart("kyverno", chartstest.KyvernoVersion, data)
	t.Setenv("HELM_REPOSITORY_CONFIG", os.DevNull)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	root := chartsRepo(t, hr.URL)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	ref := charts.Ref{Type: charts.TypeHelm, URL: hr.URL, Chart: "kyverno", Version: chartstest.KyvernoVersion}

	var out, errb bytes.Buffer
	code := Execute([]string{"charts", "pull", "--repo", root, "--chart-cache", cacheDir}, &out, &errb)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", out.String(), errb.String())
	require.Equal(t, "pulled "+ref.String()+" (1/1)\n", errb.String())
	require.Equal(t, `1 charts cached, 0 failed; 1 HelmReleases use charts from the repository, 1 are not resolved
not resolved (not pulled, reported by polc check):
  modules/apps/policy/releases.yaml:13:1: HelmRelease/kyverno/floating: version not pinned: chart "kyverno" version ">=3.0.0"
`, out.String())
	got, err := charts.Cache{Dir: cacheDir}.Get(ref)
	require.NoError(t, err)
	require.Equal(t, data, got)

	out.Reset()
	errb.Reset()
	require.Equal(t, 0, Execute([]string{"charts", "pull", "--repo", root, "--chart-cache", cacheDir, "policy"}, &out, &errb), errb.String())
	require.Equal(t, "cached "+ref.String()+" (1/1)\n", errb.String())
}

// TestChartsPullFailure: a chart the repository does not serve fails the run with exit 1 and
// names the HelmRelease that needs it.
func TestChartsPullFailure(t *testing.T) {
	hr := chartstest.NewHelmRepo(t)
	hr.SetIndex() // an empty index
	t.Setenv("HELM_REPOSITORY_CONFIG", os.DevNull)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	root := chartsRepo(t, hr.URL)
	var out, errb bytes.Buffer
	code := Execute([]string{"charts", "pull", "--repo", root, "--chart-cache", t.TempDir()}, &out, &errb)
	require.Equal(t, 1, code, "stdout: %s\nstderr: %s", out.String(), errb.String())
	require.Contains(t, errb.String(), "failed "+hr.URL+"/kyverno@"+chartstest.KyvernoVersion+" (1/1)")
	require.Contains(t, out.String(), "0 charts cached, 1 failed;")
	require.Contains(t, out.String(), `chart "kyverno" is not in the repository's index`)
	require.Contains(t, out.String(), "    needed by modules/apps/policy/releases.yaml:1:1: HelmRelease/kyverno/kyverno\n")
}

func TestChartsPullUnknownModule(t *testing.T) {
	root := chartsRepo(t, "https://charts.invalid")
	var out, errb bytes.Buffer
	require.Equal(t, 2, Execute([]string{"charts", "pull", "--repo", root, "--chart-cache", t.TempDir(), "nope"}, &out, &errb))
	require.True(t, strings.Contains(errb.String(), `unknown module "nope"`), errb.String())
}
