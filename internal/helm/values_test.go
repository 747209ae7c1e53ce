package helm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestComposeValues(t *testing.T) {
	objects := map[string]map[string]string{
		"ConfigMap/base": {"values.yaml": "image:\n  repository: nginx\n  tag: '1.0'\nreplicas: 1\nlist: [a, b, c]\n"},
		"ConfigMap/list": {"values.yaml": "flat: value\nnested:\n  configuration:\n  - one\n  - two\n  - three\n"},
		"ConfigMap/raw":  {"application.yml": "endpoints: [a,b,c]", "bad": "\ninvalid"},
		"Secret/prod":    {"values.yaml": "image:\n  tag: '2.0'\nreplicas: 3\n", "tag": "3.0", "quoted": `"true"`, "bool": "true", "item": "value"},
	}
	lookup := func(kind, name string) (map[string]string, bool) {
		d, ok := objects[kind+"/"+name]
		return d, ok
	}
	tests := []struct {
		name    string
		refs    []ValuesReference
		inline  map[string]any
		want    map[string]any
		wantErr string
	}{
		{
			name:   "references in order, then inline values",
			refs:   []ValuesReference{{Kind: "ConfigMap", Name: "base"}, {Kind: "Secret", Name: "prod"}},
			inline: map[string]any{"replicas": 5},
			want:   map[string]any{"image": map[string]any{"repository": "nginx", "tag": "2.0"}, "replicas": float64(5), "list": []any{"a", "b", "c"}},
		},
		{
			name: "secret after configmap wins",
			refs: []ValuesReference{{Kind: "ConfigMap", Name: "base"}, {Kind: "Secret", Name: "prod"}},
			want: map[string]any{"image": map[string]any{"repository": "nginx", "tag": "2.0"}, "replicas": float64(3), "list": []any{"a", "b", "c"}},
		},
		{
			name: "target path",
			refs: []ValuesReference{{Kind: "ConfigMap", Name: "base"}, {Kind: "Secret", Name: "prod", ValuesKey: "tag", TargetPath: "image.tag"}},
			want: map[string]any{"image": map[string]any{"repository": "nginx", "tag": "3.0"}, "replicas": float64(1), "list": []any{"a", "b", "c"}},
		},
		{
			name: "target path quoted value is a string",
			refs: []ValuesReference{{Kind: "Secret", Name: "prod", ValuesKey: "quoted", TargetPath: "a.b"}, {Kind: "Secret", Name: "prod", ValuesKey: "bool", TargetPath: "a.c"}},
			want: map[string]any{"a": map[string]any{"b": "true", "c": true}},
		},
		{
			// fluxcd/pkg chartutil "target path precedence over all".
			name:   "target path precedence over all",
			refs:   []ValuesReference{{Kind: "Secret", Name: "prod", ValuesKey: "item", TargetPath: "nested.configuration[0]"}, {Kind: "ConfigMap", Name: "list"}},
			inline: map[string]any{"nested": map[string]any{"configuration": []any{"list", "item", "option"}}},
			want:   map[string]any{"flat": "value", "nested": map[string]any{"configuration": []any{"value", "item", "option"}}},
		},
		{
			name: "literal target path keeps --set syntax",
			refs: []ValuesReference{{Kind: "ConfigMap", Name: "raw", ValuesKey: "application.yml", TargetPath: `config.application\.yml`, Literal: true}},
			want: map[string]any{"config": map[string]any{"application.yml": "endpoints: [a,b,c]"}},
		},
		{
			name: "optional missing object and key are skipped",
			refs: []ValuesReference{{Kind: "ConfigMap", Name: "absent", Optional: true}, {Kind: "Secret", Name: "prod", ValuesKey: "absent", Optional: true}},
			want: map[string]any{},
		},
		{
			name:    "missing object",
			refs:    []ValuesReference{{Kind: "Secret", Name: "absent"}},
			wantErr: "could not resolve Secret chart values reference 'absent' with key 'values.yaml': resource not found",
		},
		{
			name:    "missing key",
			refs:    []ValuesReference{{Kind: "ConfigMap", Name: "base", ValuesKey: "other.yaml"}},
			wantErr: "could not resolve ConfigMap chart values reference 'base' with key 'other.yaml': key not found",
		},
		{
			name:    "secret and configmap are different objects",
			refs:    []ValuesReference{{Kind: "Secret", Name: "base"}},
			wantErr: "'base' with key 'values.yaml': resource not found",
		},
		{
			name:    "unsupported kind",
			refs:    []ValuesReference{{Kind: "Deployment", Name: "base"}},
			wantErr: "unsupported values reference kind",
		},
		{
			name:    "invalid values",
			refs:    []ValuesReference{{Kind: "ConfigMap", Name: "raw", ValuesKey: "bad"}},
			wantErr: "could not resolve ConfigMap chart values reference 'raw' with key 'bad': failed to read values data",
		},
		{
			name:    "non-literal target path with commas",
			refs:    []ValuesReference{{Kind: "ConfigMap", Name: "raw", ValuesKey: "application.yml", TargetPath: "config"}},
			wantErr: "failed to merge value",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inline := deepCopyMap(tc.inline)
			got, err := ComposeValues(tc.refs, tc.inline, lookup)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				var ve *ValuesError
				if !errors.As(err, &ve) {
					t.Fatalf("error %T is not a *ValuesError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("values = %#v\nwant %#v", got, tc.want)
			}
			if !reflect.DeepEqual(tc.inline, inline) {
				t.Errorf("inline values modified: %#v", tc.inline)
			}
		})
	}
}

func TestComposeValuesErrorsIs(t *testing.T) {
	_, err := ComposeValues([]ValuesReference{{Kind: "ConfigMap", Name: "x"}}, nil, func(string, string) (map[string]string, bool) { return nil, false })
	if !errors.Is(err, ErrResourceNotFound) {
		t.Fatalf("errors.Is(%v, ErrResourceNotFound) = false", err)
	}
}
