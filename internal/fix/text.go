package fix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// text is a YAML file being edited as lines, so that everything fix does not touch (comments,
// blank lines, indentation, quoting) stays byte for byte. The YAML structure comes from kyaml's
// yaml.Node parse of the same bytes; an edit replaces or inserts whole lines that kyaml encodes.
type text struct {
	rel   string
	lines []string // without their line ending
	eol   string   // "\n" or "\r\n", the file's line ending
	final bool     // the file ends with a line ending
	docs  []*yaml.Node
}

// parseText splits data into lines and parses its YAML documents (empty and null documents are
// skipped, as manifest.ParseFile skips them, so document indexes agree).
func parseText(rel string, data []byte) (*text, error) {
	t := &text{rel: rel, eol: "\n"}
	s := string(data)
	if strings.Contains(s, "\r\n") {
		t.eol = "\r\n"
	}
	t.final = strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	if s != "" || t.final {
		t.lines = strings.Split(s, "\n")
	}
	for i, l := range t.lines {
		t.lines[i] = strings.TrimSuffix(l, "\r")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		t.docs = append(t.docs, doc.Content[0])
	}
}

// bytes returns the edited file.
func (t *text) bytes() []byte {
	s := strings.Join(t.lines, t.eol)
	if t.final || len(t.lines) > 0 && s != "" {
		s += t.eol
	}
	return []byte(s)
}

// splice replaces the lines [from, to) (0-based) with repl.
func (t *text) splice(from, to int, repl []string) {
	t.lines = append(t.lines[:from], append(repl, t.lines[to:]...)...)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == yaml.NodeTagNull
}

// indentOf returns the number of leading spaces of a line.
func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// isContent reports whether a line holds YAML content (not blank, not only a comment).
func isContent(l string) bool {
	s := strings.TrimSpace(l)
	return s != "" && !strings.HasPrefix(s, "#")
}

// isDocMarker reports whether a line starts or ends a document.
func isDocMarker(l string) bool {
	for _, m := range []string{"---", "..."} {
		if l == m || strings.HasPrefix(l, m+" ") || strings.HasPrefix(l, m+"\t") {
			return true
		}
	}
	return false
}

// maxLine returns the last line on which a node of n's subtree starts.
func maxLine(n *yaml.Node) int {
	m := n.Line
	for _, c := range n.Content {
		m = max(m, maxLine(c))
	}
	return m
}

// blockEnd returns the 0-based index of the line that ends a block starting on the 1-based line
// start, at the first content line less indented than indent, at a document marker or at the end
// of the file. For the block of a key or a sequence at indent (items), a content line at indent
// ends it too unless it is a sequence item ("- ", a compact sequence under the key).
func (t *text) blockEnd(start, indent int, items bool) int {
	for i := start; i < len(t.lines); i++ {
		l := t.lines[i]
		if isDocMarker(l) {
			return i
		}
		if !isContent(l) {
			continue
		}
		in := indentOf(l)
		if in < indent || items && in == indent && !strings.HasPrefix(l[in:], "-") {
			return i
		}
	}
	return len(t.lines)
}

// insertAt returns the 0-based index at which to insert lines that continue the block of node n
// (keys or items at column indent+1) before end: after its last content line, so that trailing
// blank lines and the comments of what follows stay where they are.
func (t *text) insertAt(n *yaml.Node, end, indent int) int {
	i := end
	for i > 0 && i-1 >= maxLine(n) && !isContent(t.lines[i-1]) && indentOf(t.lines[i-1]) <= indent {
		i--
	}
	return i
}

// scalarText returns value as a YAML string scalar, quoted only when needed.
func scalarText(value string) string {
	return strings.TrimSuffix(yaml.NewStringRNode(value).MustString(), "\n")
}

// blockLines encodes n with kyaml and indents each line by indent spaces.
func blockLines(n *yaml.Node, indent int) ([]string, error) {
	s, err := yaml.NewRNode(n).String()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		out = append(out, strings.Repeat(" ", indent)+l)
	}
	return out, nil
}

// scalarEnd returns the rune index just after the scalar n written on its line (a plain or
// quoted single-line scalar), or -1.
func scalarEnd(line []rune, n *yaml.Node) int {
	start := n.Column - 1
	if start < 0 || start >= len(line) {
		return -1
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(line); i++ {
			if line[i] == '\'' {
				if i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				return i + 1
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle|yaml.FlowStyle) == 0:
		end := start + len([]rune(n.Value))
		if end <= len(line) && string(line[start:end]) == n.Value {
			return end
		}
	}
	return -1
}

// singleLine reports whether the entry of key k (its key and value) takes one line.
func (t *text) singleLine(k, v *yaml.Node) bool {
	if v.Line != k.Line || maxLine(v) != k.Line {
		return false
	}
	next := t.nextContent(k.Line)
	return next == -1 || next == t.blockEnd(k.Line, k.Column-1, true)
}

// nextContent returns the 0-based index of the next content line after the 1-based line, or -1.
func (t *text) nextContent(line int) int {
	for i := line; i < len(t.lines); i++ {
		if isContent(t.lines[i]) || isDocMarker(t.lines[i]) {
			return i
		}
	}
	return -1
}

// where names a node's position for messages.
func (t *text) where(n *yaml.Node) string {
	return t.rel + ":" + strconv.Itoa(n.Line) + ":" + strconv.Itoa(n.Column)
}

// replaceScalar writes value in place of the single-line scalar v, keeping what follows it on the
// line (a comment).
func (t *text) replaceScalar(v *yaml.Node, value string) error {
	line := []rune(t.lines[v.Line-1])
	end := scalarEnd(line, v)
	if end < 0 || v.Anchor != "" || v.Tag != yaml.NodeTagString && v.Tag != "" && !strings.HasPrefix(v.Tag, "!!") {
		return fmt.Errorf("%s: the value is not a plain or quoted one-line string; edit it by hand", t.where(v))
	}
	t.lines[v.Line-1] = string(line[:v.Column-1]) + styled(v.Style, value) + string(line[end:])
	return nil
}

// styled returns value as a YAML scalar in the quoting style of the scalar it replaces, when that
// style can write it simply, and as scalarText does otherwise.
func styled(style yaml.Style, value string) string {
	simple := !strings.ContainsAny(value, "\\\n\r\t") && strings.IndexFunc(value, func(r rune) bool { return r < 0x20 || r > 0x7e }) < 0
	switch {
	case style&yaml.DoubleQuotedStyle != 0 && simple && !strings.Contains(value, `"`):
		return `"` + value + `"`
	case style&yaml.SingleQuotedStyle != 0 && simple:
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	}
	return scalarText(value)
}

// replaceValue writes the value of key k anew as n: its line keeps the key and its comment, and
// n follows in block style. It is for values written on the key's line: null, or a flow
// collection on one line.
func (t *text) replaceValue(k, v, n *yaml.Node) error {
	if !t.singleLine(k, v) || v.Anchor != "" {
		return fmt.Errorf("%s: %s is written in a form fix does not edit (a multi-line flow collection or an anchor); edit it by hand", t.where(k), k.Value)
	}
	line := []rune(t.lines[k.Line-1])
	end := scalarEnd(line, k)
	if end < 0 {
		return fmt.Errorf("%s: the key %s is not a plain or quoted one-line string; edit it by hand", t.where(k), k.Value)
	}
	comment := strings.TrimSpace(strings.Join([]string{k.LineComment, v.LineComment}, " "))
	head := strings.TrimRight(string(line[:end]), " ") + ":"
	if n.Kind == yaml.ScalarNode {
		head += " " + scalarText(n.Value)
	}
	if comment != "" {
		head += " " + comment
	}
	repl := []string{head}
	if n.Kind != yaml.ScalarNode {
		indent := k.Column - 1 + t.step()
		if n.Kind == yaml.SequenceNode {
			indent = k.Column - 1 + t.seqStep()
		}
		body, err := blockLines(n, indent)
		if err != nil {
			return err
		}
		repl = append(repl, body...)
	}
	t.splice(k.Line-1, k.Line, repl)
	return nil
}

// insertEntries adds the entries of mapping frag at the end of the block mapping m.
func (t *text) insertEntries(m, frag *yaml.Node) error {
	lines, err := blockLines(frag, 0)
	if err != nil {
		return err
	}
	return t.insertLines(m, lines)
}

// insertLines adds lines (indented as for the top level) at the end of the block mapping m, at
// its keys' indentation.
func (t *text) insertLines(m *yaml.Node, lines []string) error {
	if len(m.Content) == 0 || m.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s: not a block mapping; edit it by hand", t.where(m))
	}
	indent := m.Content[0].Column - 1
	end := t.blockEnd(m.Content[0].Line, indent, false)
	at := t.insertAt(m, end, indent)
	pad := strings.Repeat(" ", indent)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = pad + l
	}
	t.splice(at, at, out)
	return nil
}

// appendItem adds item at the end of the block sequence s.
func (t *text) appendItem(s, item *yaml.Node) error {
	if len(s.Content) == 0 || s.Style&yaml.FlowStyle != 0 {
		return fmt.Errorf("%s: not a block sequence; edit it by hand", t.where(s))
	}
	indent := s.Column - 1
	end := t.blockEnd(s.Line, indent, true)
	at := t.insertAt(s, end, indent)
	lines, err := itemLines(item, indent)
	if err != nil {
		return err
	}
	t.splice(at, at, lines)
	return nil
}

// itemLines encodes item as a block sequence item whose dash is indented by indent spaces.
func itemLines(item *yaml.Node, indent int) ([]string, error) {
	lines, err := blockLines(item, indent+2)
	if err != nil {
		return nil, err
	}
	lines[0] = strings.Repeat(" ", indent) + "- " + lines[0][indent+2:]
	return lines, nil
}

// step returns the document's indentation step for nested mappings (2 unless the file uses
// another).
func (t *text) step() int {
	for _, d := range t.docs {
		for i := 0; i+1 < len(d.Content); i += 2 {
			k, v := d.Content[i], d.Content[i+1]
			if v.Kind == yaml.MappingNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
				if s := v.Content[0].Column - k.Column; s > 0 {
					return s
				}
			}
		}
	}
	return 2
}

// seqStep returns how far the document indents a block sequence under its key: 0 (compact, "-"
// under the key) or more; 2 unless the file shows otherwise.
func (t *text) seqStep() int {
	for _, d := range t.docs {
		for i := 0; i+1 < len(d.Content); i += 2 {
			k, v := d.Content[i], d.Content[i+1]
			if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 && v.Line > k.Line {
				return max(v.Column-k.Column, 0)
			}
		}
	}
	return 2
}

// lookup returns the key and value nodes of key in mapping m.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// nested returns the mapping {segs[0]: {segs[1]: ... value}}.
func nested(segs []string, value *yaml.Node) *yaml.Node {
	n := value
	for i := len(segs) - 1; i >= 0; i-- {
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
		m.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: segs[i]}, n}
		n = m
	}
	return n
}

// stringNode returns a string scalar node.
func stringNode(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: v}
}

// errShared is returned for nodes that fix does not edit because other nodes share them.
func (t *text) errShared(n *yaml.Node, what string) error {
	return fmt.Errorf("%s: %s is a YAML anchor or alias, shared with other places; edit it by hand", t.where(n), what)
}

// set sets the string at the mapping path segs (keys, the last one the key to set) below top to
// value, creating the mappings on the way. It reports whether the text changed.
func (t *text) set(top *yaml.Node, segs []string, value string) (bool, error) {
	node := top
	var key *yaml.Node
	for i, seg := range segs {
		what := strings.Join(segs[:i], ".")
		if what == "" {
			what = "the document"
		}
		switch {
		case node.Kind == yaml.AliasNode || node.Anchor != "":
			return false, t.errShared(node, what)
		case isNull(node) && key != nil:
			return true, t.replaceValue(key, node, nested(segs[i:], stringNode(value)))
		case node.Kind != yaml.MappingNode:
			return false, fmt.Errorf("%s: %s is not a mapping; edit it by hand", t.where(node), what)
		case node.Style&yaml.FlowStyle != 0:
			if key == nil {
				return false, fmt.Errorf("%s: the document is a flow mapping; edit it by hand", t.where(node))
			}
			block := copyNode(node)
			block.Style = 0
			if err := yaml.NewRNode(block).SetMapField(yaml.NewStringRNode(value), segs[i:]...); err != nil {
				return false, fmt.Errorf("%s: %w", t.where(node), err)
			}
			return true, t.replaceValue(key, node, block)
		}
		k, v := lookup(node, seg)
		if k == nil {
			return true, t.insertEntries(node, nested(segs[i:], stringNode(value)))
		}
		key, node = k, v
	}
	switch {
	case node.Kind == yaml.ScalarNode && !isNull(node) && node.Value == value:
		return false, nil
	case node.Kind == yaml.ScalarNode && !isNull(node):
		return true, t.replaceScalar(node, value)
	case isNull(node):
		return true, t.replaceValue(key, node, stringNode(value))
	}
	return false, fmt.Errorf("%s: %s is not a string; edit it by hand", t.where(node), strings.Join(segs, "."))
}

// copyNode returns a deep copy of n.
func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, ch := range n.Content {
		c.Content[i] = copyNode(ch)
	}
	return &c
}
