package apitest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"polc.dev/polc/internal/manifest"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const widgetDoc = `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: app
spec:
  size: large
  parts:
    - name: a
      count: -1
`

// widget is an object written at widget.yaml:3:1 whose source is widgetDoc.
func widget(t *testing.T) *manifest.Object {
	n, err := yaml.Parse(widgetDoc)
	require.NoError(t, err)
	return &manifest.Object{Node: n, Source: n, Module: "app", Pos: manifest.Pos{File: "widget.yaml", Line: 3, Column: 1},
		Ref: manifest.ObjectRef{APIVersion: "example.com/v1", Kind: "Widget", Namespace: "app", Name: "w"}}
}

func TestRejection(t *testing.T) {
	gk := schema.GroupKind{Group: "example.com", Kind: "Widget"}
	tests := []struct {
		name string
		err  error
		pos  string
		msg  string
	}{
		{
			name: "schema validation: the cause names the field",
			err: apierrors.NewInvalid(gk, "w", field.ErrorList{
				field.Invalid(field.NewPath("spec", "parts").Index(0).Child("count"), -1, "should be greater than or equal to 0")}),
			pos: "widget.yaml:10:14",
			msg: `Widget.example.com "w" is invalid: spec.parts[0].count: Invalid value: -1: should be greater than or equal to 0`,
		},
		{
			name: "typed patch: the message names the field",
			err:  apierrors.NewBadRequest("failed to create typed patch object (app/w; example.com/v1, Kind=Widget): .spec.size: expected numeric (int or float), got string"),
			pos:  "widget.yaml:7:9",
			msg:  "failed to create typed patch object (app/w; example.com/v1, Kind=Widget): .spec.size: expected numeric (int or float), got string",
		},
		{
			name: "strict field validation: unknown field",
			err:  apierrors.NewBadRequest(`strict decoding error: unknown field "spec.parts[0].colour"`),
			pos:  "widget.yaml:9:7",
			msg:  `strict decoding error: unknown field "spec.parts[0].colour"`,
		},
		{
			name: "a field the source does not write: its nearest written parent",
			err:  apierrors.NewBadRequest(".spec.colour: field not declared in schema"),
			pos:  "widget.yaml:7:3",
			msg:  ".spec.colour: field not declared in schema",
		},
		{
			name: "no field: the object",
			err:  apierrors.NewForbidden(schema.GroupResource{Group: "example.com", Resource: "widgets"}, "w", errors.New("namespace app is being terminated")),
			pos:  "widget.yaml:3:1",
			msg:  `widgets.example.com "w" is forbidden: namespace app is being terminated`,
		},
		{
			name: "not an API status",
			err:  errors.New("connection refused"),
			pos:  "widget.yaml:3:1",
			msg:  "connection refused",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := rejection(widget(t), tc.err)
			assert.Equal(t, tc.pos, p.Position)
			assert.Equal(t, tc.msg, p.Message)
			assert.Equal(t, "Widget/app/w", p.Object)
			assert.Equal(t, "app", p.Module)
		})
	}
}

func TestResultFailed(t *testing.T) {
	assert.False(t, Result{Applied: 3}.Failed())
	assert.True(t, Result{Unserved: []Problem{{}}}.Failed())
	assert.True(t, Result{Rejected: []Problem{{}}}.Failed())
	assert.True(t, Result{Errors: []string{"x"}}.Failed())
}

// TestWrite compares each format with its golden file; go test -update rewrites them.
func TestWrite(t *testing.T) {
	results := []Result{
		{Module: "app", Modules: []string{"crds-core", "app"}, Applied: 2, Seconds: 0.25,
			Rejected: []Problem{{Position: "modules/apps/app/widget.yaml:16:9", Module: "app", Object: "Widget/app/bad", Message: ".spec.size: expected numeric"}},
			Unserved: []Problem{{Position: "modules/apps/app/widget.yaml:1:1", Module: "app", Object: "Gadget/app/g", Message: "kind Gadget of group example.com is not served: no declared dependency provides it"}}},
		{Module: "crds-core", Modules: []string{"crds-core"}, Applied: 1, Seconds: 0.125},
	}
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, Write(&b, f, results))
			golden := filepath.Join("testdata", "report."+f)
			if *update {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), b.String())
		})
	}
	assert.ErrorContains(t, Write(&bytes.Buffer{}, "xml", nil), `unknown format "xml"`)
}
