package module

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Pos is a position in a file: 1-based line and column; Line 0 means unknown.
type Pos struct {
	File   string
	Line   int
	Column int
}

// String formats p as file:line:col, or as the file alone when the line is unknown.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// FieldError is one problem found while decoding a metadata file strictly.
type FieldError struct {
	Pos     Pos
	Message string
}

// Error returns "file:line:col: message".
func (e *FieldError) Error() string { return e.Pos.String() + ": " + e.Message }

// DecodeError lists every problem of one file, in document order.
type DecodeError struct {
	Errors []*FieldError
}

// Error returns the problems' messages, one a line.
func (e *DecodeError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "\n")
}

// enum is implemented by string types that accept a closed set of values.
type enum interface {
	Allowed() []string
}

// decoder fills Go structs from a yaml.Node strictly: unknown fields, duplicate keys, aliases, wrong
// types, bad enum values and missing required fields are all errors with a position. It records the
// position of every field it decodes, keyed by its path (spec.dependsOn[1]), for findings.
type decoder struct {
	file      string
	errs      []*FieldError
	positions map[string]Pos
}

func (d *decoder) fail(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Pos: Pos{File: d.file, Line: n.Line, Column: n.Column}, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) record(path string, n *yaml.Node) {
	d.positions[path] = Pos{File: d.file, Line: n.Line, Column: n.Column}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// decode fills v (a pointer) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.fail(n, "%s: YAML anchors and aliases are not allowed in metadata", pathOr(path))
		return
	}
	d.record(path, n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an explicit null leaves the zero value
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, "%s: expected a list, got %s", pathOr(path), describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if isNullNode(item) {
				d.fail(item, "%s: expected %s, got null", p, want(v.Type().Elem()))
				continue
			}
			d.decode(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, "%s: expected a mapping, got %s", pathOr(path), describe(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		d.eachKey(n, func(key string, kn, vn *yaml.Node) {
			kv := reflect.ValueOf(key).Convert(v.Type().Key())
			if e, ok := kv.Interface().(enum); ok && !slices.Contains(e.Allowed(), key) {
				d.fail(kn, "%s: invalid key %q; allowed keys: %s", pathOr(path), key, strings.Join(e.Allowed(), ", "))
				return
			}
			ev := reflect.New(v.Type().Elem()).Elem()
			if isNullNode(vn) {
				d.fail(vn, "%s: expected %s, got null", join(path, key), want(v.Type().Elem()))
				return
			}
			d.decode(vn, ev, join(path, key))
			m.SetMapIndex(kv, ev)
		})
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, "%s: expected a string, got %s", pathOr(path), describe(n))
			return
		}
		if n.Tag != "!!str" && n.Tag != "!!timestamp" {
			// A plain true, 42 or 1.0 is a boolean or a number in YAML, so it is the wrong type here;
			// dates (expires: 2027-06-30) are accepted as the strings they are written as.
			d.fail(n, "%s: expected a string, got %s (quote it to use it as a string)", pathOr(path), describe(n))
			return
		}
		v.SetString(n.Value)
		if e, ok := v.Interface().(enum); ok {
			allowed := e.Allowed()
			if !slices.Contains(allowed, n.Value) {
				d.fail(n, "%s: invalid value %q; allowed values: %s", pathOr(path), n.Value, strings.Join(allowed, ", "))
			}
		}
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.fail(n, "%s: expected true or false, got %s", pathOr(path), describe(n))
			return
		}
		v.SetBool(b)
	default:
		panic("module: unsupported field type " + v.Type().String())
	}
}

// decodeStruct fills a struct from a mapping, using the yaml tags of its fields. A tag option
// "required" makes a field mandatory.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, "%s: expected a mapping, got %s", pathOr(path), describe(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	seen := map[string]bool{}
	d.eachKey(n, func(key string, kn, vn *yaml.Node) {
		i, ok := fields[key]
		if !ok {
			d.fail(kn, "%s: unknown field %q; allowed fields: %s", pathOr(path), key, strings.Join(names, ", "))
			return
		}
		seen[key] = true
		d.decode(vn, v.Field(i), join(path, key))
		if _, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); strings.Contains(opts, "required") && isEmpty(vn, v.Field(i)) {
			d.fail(vn, "%s: required field %q is empty", pathOr(path), key)
		}
	})
	for i := 0; i < t.NumField(); i++ {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if strings.Contains(opts, "required") && !seen[name] {
			d.fail(n, "%s: missing required field %q", pathOr(path), name)
		}
	}
}

// isNullNode reports whether n is a null scalar (~, null, or nothing written).
func isNullNode(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// want names the YAML kind that a Go type is decoded from, for messages.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Bool:
		return "true or false"
	}
	return "a string"
}

// isEmpty reports whether a required field was written without a value: null, an empty string,
// or an empty list or mapping. Values of the wrong kind are reported by decode already.
func isEmpty(n *yaml.Node, v reflect.Value) bool {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return true
	case v.Kind() == reflect.String:
		return n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Value == ""
	case v.Kind() == reflect.Slice:
		return n.Kind == yaml.SequenceNode && len(n.Content) == 0
	case v.Kind() == reflect.Map:
		return n.Kind == yaml.MappingNode && len(n.Content) == 0
	}
	return false
}

// eachKey walks a mapping in document order and reports duplicate and non-string keys.
func (d *decoder) eachKey(n *yaml.Node, fn func(key string, kn, vn *yaml.Node)) {
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			d.fail(kn, "mapping keys must be strings, got %s", describe(kn))
			continue
		}
		if prev, dup := first[kn.Value]; dup {
			d.fail(kn, "duplicate key %q (first defined at line %d)", kn.Value, prev.Line)
			continue
		}
		first[kn.Value] = kn
		fn(kn.Value, kn, vn)
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case "!!null":
		return "null"
	case "!!bool":
		return "boolean " + n.Value
	case "!!int", "!!float":
		return "number " + n.Value
	}
	return fmt.Sprintf("%q", n.Value)
}

func pathOr(p string) string {
	if p == "" {
		return "document"
	}
	return p
}
