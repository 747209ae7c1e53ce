package release

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// SetVersion returns module.yaml data (file rel) with spec.version changed from from to to. Only
// the bytes of the version scalar change: comments, quoting, key order, line endings and
// everything else stay. A version written in a form other than a one-line plain or quoted
// scalar without escapes (an anchor, an alias, a tag, a block scalar) is an error naming the
// position, as is a value other than from.
func SetVersion(rel string, data []byte, from, to string) ([]byte, error) {
	v, err := versionNode(rel, data)
	if err != nil {
		return nil, err
	}
	at := fmt.Sprintf("%s:%d:%d", rel, v.Line, v.Column)
	if v.Value != from {
		return nil, fmt.Errorf("%s: spec.version is %q, expected %q; the file changed since polc read it", at, v.Value, from)
	}
	start, end, ok := scalarSpan(data, v)
	if !ok {
		return nil, fmt.Errorf("%s: spec.version is written in a form polc does not edit (a tag, an anchor, an escape or several lines); edit it by hand", at)
	}
	raw := to
	if q := data[start]; q == '"' || q == '\'' {
		raw = string(q) + to + string(q)
	}
	out := slices.Concat(data[:start], []byte(raw), data[end:])
	if got, err := versionNode(rel, out); err != nil || got.Value != to {
		return nil, fmt.Errorf("%s: spec.version could not be set to %s; edit it by hand", at, to)
	}
	return out, nil
}

// versionNode returns the spec.version scalar of the first document of a module.yaml.
func versionNode(rel string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", rel)
	}
	spec := lookup(doc.Content[0], "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: spec is not a mapping", rel)
	}
	v := lookup(spec, "version")
	if v == nil {
		return nil, fmt.Errorf("%s:%d: spec.version is not set", rel, spec.Line)
	}
	if v.Kind != yaml.ScalarNode || v.Anchor != "" {
		return nil, fmt.Errorf("%s:%d:%d: spec.version is an alias, anchor or collection; edit it by hand", rel, v.Line, v.Column)
	}
	return v, nil
}

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// scalarSpan returns the byte range of scalar v in data, found from its line and (rune) column,
// when the bytes there are exactly the value, plain or in quotes.
func scalarSpan(data []byte, v *yaml.Node) (start, end int, ok bool) {
	off := 0
	for line := 1; line < v.Line; line++ {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return 0, 0, false
		}
		off += i + 1
	}
	for col := 1; col < v.Column; col++ {
		if off >= len(data) || data[off] == '\n' {
			return 0, 0, false
		}
		_, size := utf8.DecodeRune(data[off:])
		off += size
	}
	raw := v.Value
	switch {
	case v.Style&yaml.DoubleQuotedStyle != 0:
		raw = `"` + raw + `"`
	case v.Style&yaml.SingleQuotedStyle != 0:
		raw = "'" + raw + "'"
	case v.Style != 0 && v.Style != yaml.FlowStyle:
		return 0, 0, false
	}
	end = off + len(raw)
	if !bytes.HasPrefix(data[off:], []byte(raw)) || end < len(data) && !bytes.ContainsAny(data[end:end+1], " \t\r\n,]}#") {
		return 0, 0, false
	}
	return off, end, true
}

// SetManifestVersion returns the release-please manifest data (file rel) with the version of
// every key that names dir (cleaned: "./modules/a/" names modules/a) set to v, and how many
// keys it set. Only the bytes of those string values change. A manifest that is not a JSON
// object of strings is an error naming the line.
func SetManifestVersion(rel string, data []byte, dir, v string) ([]byte, int, error) {
	if !json.Valid(data) {
		var x any
		err := json.Unmarshal(data, &x)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, 0, fmt.Errorf("%s:%d: %v", rel, lineAt(data, int(se.Offset)), err)
		}
		return nil, 0, fmt.Errorf("%s: %w", rel, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, 0, fmt.Errorf("%s:1: not a JSON object of module paths and versions", rel)
	}
	var spans [][2]int
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", rel, err)
		}
		before := int(dec.InputOffset())
		val, err := dec.Token()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", rel, err)
		}
		if _, ok := val.(string); !ok {
			return nil, 0, fmt.Errorf("%s:%d: the version of %v is not a string", rel, lineAt(data, before), key)
		}
		if k, _ := key.(string); path.Clean(k) == dir {
			start := before + bytes.IndexByte(data[before:], '"')
			spans = append(spans, [2]int{start, int(dec.InputOffset())})
		}
	}
	quoted, _ := json.Marshal(v)
	out := data
	for i := len(spans) - 1; i >= 0; i-- {
		out = slices.Concat(out[:spans[i][0]], quoted, out[spans[i][1]:])
	}
	return out, len(spans), nil
}

// lineAt returns the 1-based line of byte offset off in data.
func lineAt(data []byte, off int) int {
	off = min(max(off, 0), len(data))
	return bytes.Count(data[:off], []byte("\n")) + 1
}
