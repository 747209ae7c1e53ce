package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// MaxFileSize caps what polc reads of an existing release file: they hold a few lines per
// module, so anything larger is refused rather than parsed.
const MaxFileSize = 1 << 20

// MaxDepth caps how deeply the JSON of an existing release file may nest.
const MaxDepth = 32

// document is an existing release file: its JSON value (objects as map[string]any, numbers as
// json.Number) and its YAML node tree, which knows the line of every value.
type document struct {
	name  string
	value any
	node  *yaml.RNode
}

// readJSON reads and parses the repository file name; nil without error when it does not exist.
func readJSON(repo *rule.Repo, name string) (*document, error) {
	data, err := readFile(repo, name)
	if err != nil || data == nil {
		return nil, err
	}
	return parseJSON(name, data)
}

// parseJSON parses data, the contents of file name, as strict JSON (one value, nested at most
// MaxDepth deep), then as YAML for the positions. Errors name the file and line.
func parseJSON(name string, data []byte) (*document, error) {
	if err := checkDepth(name, data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, posError(name, data, errOffset(err, dec, data), "not valid JSON: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, posError(name, data, dec.InputOffset(), "not valid JSON: data after the top-level value")
	}
	node, err := yaml.Parse(string(data))
	if err != nil {
		// Valid JSON that the YAML parser refuses (rare: tabs in odd places): no positions.
		node = nil
	}
	return &document{name: name, value: v, node: node}, nil
}

// errOffset returns the byte offset of a JSON decoding error.
func errOffset(err error, dec *json.Decoder, data []byte) int64 {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return se.Offset - 1 // the offset is after the offending byte
	case errors.As(err, &te):
		return te.Offset
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return int64(len(data))
	}
	return dec.InputOffset()
}

// checkDepth refuses JSON nested deeper than MaxDepth, naming the line where it gets too deep,
// before anything parses it.
func checkDepth(name string, data []byte) error {
	depth, inString, escaped := 0, false, false
	for i, c := range data {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxDepth {
				return posError(name, data, int64(i), fmt.Sprintf("JSON nested more than %d levels deep; polc does not read it", MaxDepth))
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// PosError is a problem with an existing release file at a position.
type PosError struct {
	Pos     module.Pos
	Message string
}

// Error returns "file:line:col: message".
func (e *PosError) Error() string { return e.Pos.String() + ": " + e.Message }

// posError returns the PosError of byte offset off of file name holding data.
func posError(name string, data []byte, off int64, msg string) *PosError {
	off = min(max(off, 0), int64(len(data)))
	line := bytes.Count(data[:off], []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(data[:off], '\n')
	return &PosError{Pos: module.Pos{File: name, Line: line, Column: col}, Message: msg}
}

// lookup returns the node at path (object keys, or array indexes in decimal), or nil, and the
// position of the deepest element of path that exists: that of its key for an object member.
func (d *document) lookup(path ...string) (*yaml.Node, module.Pos) {
	pos := module.Pos{File: d.name, Line: 1, Column: 1}
	if d.node == nil {
		return nil, pos
	}
	n := d.node.YNode()
	pos.Line, pos.Column = n.Line, n.Column
	for _, p := range path {
		next, at := child(n, p)
		if next == nil {
			return nil, pos
		}
		n, pos.Line, pos.Column = next, at.Line, at.Column
	}
	return n, pos
}

// pos returns the position of path, or of its deepest existing parent.
func (d *document) pos(path ...string) module.Pos {
	_, p := d.lookup(path...)
	return p
}

// errorAt returns a PosError at path.
func (d *document) errorAt(msg string, path ...string) *PosError {
	return &PosError{Pos: d.pos(path...), Message: msg}
}

// child returns the member p of an object node (and its key node, whose position is the
// member's) or the element p of an array node (twice).
func child(n *yaml.Node, p string) (*yaml.Node, *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == p {
				return n.Content[i+1], n.Content[i]
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(p)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i]
		}
	}
	return nil, nil
}

// encode writes v as JSON: object keys sorted, two-space indentation, no HTML escaping, and a
// final newline.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
