package helm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"maps"
	"slices"
	"testing"
)

// entry is one tar entry of a test archive.
type entry struct {
	name string
	body string
	typ  byte   // tar.TypeReg when zero
	link string // for links
}

// tgz builds a gzipped tar archive of entries.
func tgz(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hd := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Linkname: e.link}
		if typ == tar.TypeReg {
			hd.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hd); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chartArchive packages files (paths relative to the chart) as the chart directory name.
func chartArchive(t testing.TB, name string, files map[string]string) []byte {
	t.Helper()
	var entries []entry
	for _, p := range slices.Sorted(maps.Keys(files)) {
		entries = append(entries, entry{name: name + "/" + p, body: files[p]})
	}
	return tgz(t, entries...)
}

// with returns a copy of files with more files set.
func with(files map[string]string, more ...string) map[string]string {
	out := maps.Clone(files)
	for i := 0; i+1 < len(more); i += 2 {
		out[more[i]] = more[i+1]
	}
	return out
}

// minimal is the smallest valid chart.
var minimal = map[string]string{
	"Chart.yaml": "apiVersion: v2\nname: mini\nversion: 0.1.0\n",
}

// demo is a small chart that exercises CRDs, scopes, hooks, tests and capabilities.
var demo = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
	"values.yaml": "image: nginx:1.27\nreplicas: 1\n",
	"crds/widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Cluster
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets}
  versions: [{name: v1, served: true, storage: true}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-crd
`,
	"templates/NOTES.txt":    "Installed {{ .Release.Name }}.\n",
	"templates/_helpers.tpl": `{{- define "demo.name" -}}{{ .Release.Name }}-web{{- end -}}`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "demo.name" . }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
`,
	"templates/scoped.yaml": `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
---
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: g
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Name }}-reader
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: elsewhere
  namespace: other
`,
	"templates/capabilities.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widget: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
  extra: {{ .Capabilities.APIVersions.Has "extra.example.com/v1" | quote }}
  install: {{ .Release.IsInstall | quote }}
  host: {{ getHostByName "localhost" | quote }}
  lookup: {{ lookup "v1" "Secret" "default" "x" | len | quote }}
`,
	"templates/hook.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations:
    helm.sh/hook: pre-install
spec:
  template:
    spec:
      containers:
      - name: migrate
        image: busybox:1.36
`,
	"templates/tests/test.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: smoke
  annotations:
    helm.sh/hook: test
spec:
  containers:
  - name: t
    image: busybox:latest
`,
}
