package cli

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

// fnFuzzRepo is the repository FuzzFn checks items against: small, without Rego rules, so one
// iteration takes milliseconds.
const fnFuzzRepo = "../../tests/testdata/repos/good-minimal"

// fnFuzzDeadline is how long one run of the function may take. Go's fuzzer has no per-input
// timeout (a hang stalls it without a report), so FuzzFn runs under this deadline.
const fnFuzzDeadline = 20 * time.Second

// fnSeeds are hostile ResourceLists for FuzzFn, besides the inputs of testdata/fn.
var fnSeeds = []string{
	"",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: settings\n    namespace: media\n    labels: {polc.dev/module: media}\n  data: {a: '${x:=${y}}'}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: polc.dev/v1alpha1\n  kind: Module\n  metadata: {name: media}\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: web, namespace: media}\n  spec: {type: LoadBalancer}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig:\n  apiVersion: polc.dev/v1alpha1\n  kind: Module\n  metadata: {name: evil}\n  spec: {type: application, version: 1.0.0, dependsOn: [media, evil], namespaces: [{name: kube-system}]}\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: kube-system}}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: {apiVersion: v1, kind: ConfigMap}\nitems: []\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: [a, b, c]\nitems: {a: b}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: [a, [b], {c: d}]\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- [a]\n- {}\n- ~\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: [a], namespace: {b: c}, labels: [x], annotations: [y]}}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: [a]}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d, namespace: media, labels: {polc.dev/module: media}}\n  spec:\n    template:\n      spec:\n        containers: [{name: c, image: 'nginx@sha256:\x00'}, ~, [x]]\n        securityContext: [a]\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: \"\xff\xfe\"\n    annotations: {internal.config.kubernetes.io/path: '../../../etc/passwd', internal.config.kubernetes.io/index: '99999999999999999999'}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- &a {apiVersion: v1, kind: ConfigMap, metadata: {name: a, labels: {polc.dev/module: media}}}\n- *a\n- *a\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: media, labels: {polc.dev/module: media}}\n  data: {n: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a, namespace: media, labels: {polc.dev/module: media}}\n  spec: {replicas: 1e999999999, x: 99999999999999999999999999}\n",
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data:\n" + "  " + strings.ReplaceAll(testutil.AliasBomb(""), "\n  ", "\n    "),
	"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- &x [*x]\n",
	"---\napiVersion: config.kubernetes.io/v1\nkind: ResourceList\n---\napiVersion: v1\nkind: ConfigMap\n",
	"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n",
	"{\"apiVersion\":\"config.kubernetes.io/v1\",\"kind\":\"ResourceList\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"}}]}",
}

// FuzzFn runs polc fn in process on arbitrary input, as the command does: readFnInput, then
// framework.Execute with fnProcessor, against a small repository (inRepo) or none (only a
// functionConfig Module). Errors are fine; a panic, a hang, or a success on input that holds a
// document without the list (a ResourceList, or kyaml's legacy List) written back are not.
func FuzzFn(f *testing.F) {
	cases, err := filepath.Glob(filepath.Join("testdata", "fn", "*", "input.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range cases {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, true)
		f.Add(data, false)
	}
	for _, s := range fnSeeds {
		f.Add([]byte(s), true)
	}
	for _, name := range slices.Sorted(maps.Keys(fnNotAnObject)) {
		f.Add([]byte(fnNotAnObject[name]), true)
	}
	repo, err := filepath.Abs(fnFuzzRepo)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, "modules")); err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, inRepo bool) {
		p := &fnProcessor{now: now}
		if inRepo {
			p.repo = repo
		}
		var out bytes.Buffer
		var inErr, err error
		done := make(chan string, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Sprintf("polc fn panicked: %v\n%s", r, debug.Stack())
				}
			}()
			var in []byte
			if in, inErr = readFnInput(bytes.NewReader(data)); inErr == nil {
				err = framework.Execute(p, &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: &out, OmitReaderAnnotations: true, KeepReaderAnnotations: true})
			}
			done <- ""
		}()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatal(msg)
			}
		case <-time.After(fnFuzzDeadline):
			t.Fatalf("polc fn did not return within %v", fnFuzzDeadline)
		}
		if inErr != nil {
			if !strings.HasPrefix(inErr.Error(), "read the ResourceList: ") {
				t.Fatalf("input error %q does not say what was read", inErr)
			}
			return
		}
		if err == nil && len(manifest.ParseFile("stdin", data).Docs) > 0 && !bytes.Contains(out.Bytes(), []byte("items:")) {
			t.Fatalf("success without the list written back: %q", out.String())
		}
	})
}

// fnNotAnObject are inputs on which polc fn panics today: kyaml's metadata getters (GetKind,
// GetName, GetLabels and the like, which fn.go calls on functionConfig and on each item) index
// past the end of a sequence of odd length where they expect a mapping.
var fnNotAnObject = map[string]string{
	"functionConfig is a sequence": "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: [a, b, c]\nitems: []\n",
	"item labels are a sequence":   "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a, labels: [x]}}\n",
}

// TestFnNotAnObject runs polc fn on inputs whose functionConfig or items are not objects: it
// must fail with an error, not panic.
func TestFnNotAnObject(t *testing.T) {
	for name, input := range fnNotAnObject {
		t.Run(name, func(t *testing.T) {
			done := make(chan any, 1)
			go func() {
				defer func() { done <- recover() }()
				p := &fnProcessor{repo: fnFuzzRepo}
				err := framework.Execute(p, &kio.ByteReadWriter{Reader: strings.NewReader(input), Writer: &bytes.Buffer{}, OmitReaderAnnotations: true, KeepReaderAnnotations: true})
				if err == nil {
					panic("no error")
				}
			}()
			if r := <-done; r != nil {
				t.Fatalf("polc fn: %v", r)
			}
		})
	}
}
