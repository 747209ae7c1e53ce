package testutil

import (
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"polc.dev/polc/internal/charts"
	"polc.dev/polc/internal/charts/chartstest"
)

// The chart that GenerateRepoWithCharts packages, and where its HelmReleases say it comes from.
const (
	// GeneratedChartName and GeneratedChartVersion name the chart.
	GeneratedChartName    = "webapp"
	GeneratedChartVersion = "1.4.2"
	// GeneratedChartURL is the HelmRepository URL of the chart; nothing is served there: the
	// chart is only in the cache.
	GeneratedChartURL = "https://charts.example.com/stable"
	// GeneratedChartObjects is the number of objects one release of the chart renders
	// (Deployment, Service, ServiceAccount, ConfigMap).
	GeneratedChartObjects = 4
)

// GeneratedChartRef is the chart cache entry of the chart the generated HelmReleases install.
func GeneratedChartRef() charts.Ref {
	return charts.Ref{Type: charts.TypeHelm, URL: GeneratedChartURL, Chart: GeneratedChartName, Version: GeneratedChartVersion}
}

// GenerateRepoWithCharts writes the repository of GenerateRepo(dir, n), in which releases
// application modules (every fourth module, from the second on) also deploy a HelmRepository
// and a HelmRelease with values of their own, and packages the chart those HelmReleases pin
// into the chart cache cacheDir (see GeneratedChartRef). Each release renders
// GeneratedChartObjects objects that pass the foundation rules, so the repository still has no
// finding. It fails when the repository has fewer such modules than releases.
func GenerateRepoWithCharts(dir string, n, releases int, cacheDir string) error {
	placed := 0
	err := generateRepo(dir, n, func(i int, name, ns string) map[string]string {
		if i%20 == 0 || i%4 != 1 || placed == releases {
			return nil
		}
		placed++
		return map[string]string{"helmrelease.yaml": helmRelease(i, name, ns)}
	})
	if err != nil {
		return err
	}
	if placed < releases {
		return fmt.Errorf("%d modules hold only %d of the %d HelmReleases asked for", n, placed, releases)
	}
	data, err := generatedChart()
	if err != nil {
		return err
	}
	return charts.Cache{Dir: cacheDir}.Put(GeneratedChartRef(), data)
}

// helmRelease is the HelmRepository and HelmRelease of generated module i.
func helmRelease(i int, name, ns string) string {
	return fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: stable
  namespace: %[2]s
spec:
  interval: 1h
  url: %[3]s
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
  namespace: %[2]s
spec:
  interval: 30m
  chart:
    spec:
      chart: %[4]s
      version: %[5]s
      sourceRef:
        kind: HelmRepository
        name: stable
  commonMetadata:
    labels:
      polc.dev/module: %[1]s
      polc.dev/module-type: application
  values:
    replicaCount: %[6]d
    image:
      repository: ghcr.io/example/%[1]s-web
    config:
      domain: %[1]s.example.com
      logLevel: info
`, name, ns, GeneratedChartURL, GeneratedChartName, GeneratedChartVersion, 1+i%3)
}

// generatedChart packages the chart of GenerateRepoWithCharts with Helm's own packager: a web
// application (Deployment, Service, ServiceAccount, ConfigMap) whose templates use helpers,
// values and the release's name, as charts in the wild do.
func generatedChart() ([]byte, error) {
	ch := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: GeneratedChartName, Version: GeneratedChartVersion,
			AppVersion: "2.3.0", Type: "application", Description: "A generated web application chart."},
		Templates: []*common.File{
			{Name: "templates/_helpers.tpl", Data: []byte(chartHelpers)},
			{Name: "templates/deployment.yaml", Data: []byte(chartDeployment)},
			{Name: "templates/service.yaml", Data: []byte(chartService)},
			{Name: "templates/serviceaccount.yaml", Data: []byte(chartServiceAccount)},
			{Name: "templates/configmap.yaml", Data: []byte(chartConfigMap)},
		},
		Raw: []*common.File{{Name: "values.yaml", Data: []byte(chartValues())}},
	}
	return chartstest.Package(ch)
}

// chartValues are the chart's default values.
func chartValues() string {
	return `replicaCount: 1
image:
  repository: ghcr.io/example/web
  tag: "2.3.0"
  digest: sha256:` + strings.Repeat("cd", 32) + `
service:
  port: 80
  targetPort: 8080
resources:
  requests: {cpu: 10m, memory: 32Mi}
  limits: {memory: 64Mi}
config:
  domain: example.com
  logLevel: warn
`
}

const chartHelpers = `{{- define "webapp.labels" -}}
app.kubernetes.io/name: {{ .Release.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 }}
{{- end }}
{{- define "webapp.selector" -}}
app.kubernetes.io/name: {{ .Release.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
`

const chartDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "webapp.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "webapp.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "webapp.selector" . | nindent 8 }}
      annotations:
        checksum/config: {{ toYaml .Values.config | sha256sum }}
    spec:
      serviceAccountName: {{ .Release.Name }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}@{{ .Values.image.digest }}"
          ports:
            - name: http
              containerPort: {{ .Values.service.targetPort }}
          envFrom:
            - configMapRef:
                name: {{ .Release.Name }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
`

const chartService = `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "webapp.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "webapp.selector" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
`

const chartServiceAccount = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "webapp.labels" . | nindent 4 }}
automountServiceAccountToken: false
`

const chartConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "webapp.labels" . | nindent 4 }}
data:
  {{- range $key, $value := .Values.config }}
  {{ $key | upper }}: {{ $value | quote }}
  {{- end }}
`
