package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// header starts every written baseline file.
const header = `# Findings that "polc check --baseline FILE" reports as baselined instead of failing the run.
# Written by "polc baseline FILE"; run it again to record the current findings (and drop the
# entries that no longer match). Entries match by rule, module, object (or file) and field;
# "seen" is a hint for readers and is never matched.
`

// Marshal returns the baseline as YAML: the header comment, then apiVersion, kind and the entries
// in their order. The same baseline always gives the same bytes.
func (b *File) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	out := *b
	if out.Entries == nil {
		out.Entries = []Entry{}
	}
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("encode baseline: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode baseline: %w", err)
	}
	return buf.Bytes(), nil
}

// Write writes the baseline to path, and nothing else.
func (b *File) Write(path string) error {
	data, err := b.Marshal()
	if err != nil {
		return err
	}
	// Never through a symlink, into a FIFO or over a file that is not a baseline.
	isBaseline := func(old []byte) bool { _, err := Parse(path, old); return err == nil }
	if err := genfiles.Replace(path, data, isBaseline); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}

// Load reads and strictly decodes the baseline file at path. A missing file, invalid YAML, an
// unknown field, a wrong apiVersion or kind and an invalid or repeated entry are all errors, each
// naming path:line.
func Load(path string) (*File, error) {
	// module.ReadFile refuses a FIFO, a device, a link out of the file's directory and a file over
	// module.MaxFileSize (a baseline of thousands of findings is well below it).
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	data, err := module.ReadFile(filepath.Dir(abs), filepath.Base(abs))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExistError{path}
	}
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	return Parse(path, data)
}

// notExistError says that the baseline file does not exist, and how to write it.
type notExistError struct{ path string }

func (e notExistError) Error() string {
	return fmt.Sprintf("baseline %s does not exist; write it with: polc baseline %s", e.path, e.path)
}

// Unwrap makes errors.Is(err, fs.ErrNotExist) true.
func (e notExistError) Unwrap() error { return fs.ErrNotExist }

// IsNotExist reports whether err (from Load) says that the baseline file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Parse strictly decodes a baseline file's bytes; path names the file in errors.
func Parse(path string, data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		fe := module.YAMLErrorIn(path, data, err)
		return nil, errorAt(path, fe.Pos.Line, fe.Message)
	}
	if len(doc.Content) == 0 {
		return nil, errorAt(path, 1, "file is empty; expected apiVersion: "+module.APIVersion+", kind: "+Kind)
	}
	b := &File{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(b); err != nil {
		return nil, decodeError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := 1
		if err == nil && len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return nil, errorAt(path, line, "expected one YAML document, found more")
	}
	b.path, b.lines = path, entryLines(doc.Content[0])
	if err := b.validate(doc.Content[0]); err != nil {
		return nil, err
	}
	return b, nil
}

// validate checks what strict decoding cannot: apiVersion, kind and each entry.
func (b *File) validate(top *yaml.Node) error {
	if b.APIVersion != module.APIVersion {
		return errorAt(b.path, top.Line, fmt.Sprintf("apiVersion is %q; expected %s", b.APIVersion, module.APIVersion))
	}
	if b.Kind != Kind {
		return errorAt(b.path, top.Line, fmt.Sprintf("kind is %q; expected %s", b.Kind, Kind))
	}
	first := map[Fingerprint]int{}
	for i, e := range b.Entries {
		at := func(msg string) error { return errorAt(b.path, b.line(i), fmt.Sprintf("entries[%d]: %s", i, msg)) }
		switch {
		case e.Rule == "":
			return at("rule is missing")
		case e.Count < 1:
			return at(fmt.Sprintf("count is %d; expected at least 1", e.Count))
		case e.Object != nil && (e.Object.Kind == "" || e.Object.Name == ""):
			return at("object needs a kind and a name")
		case e.Object != nil && e.File != "":
			return at("object and file are exclusive: file stands in for the object of a finding about no object")
		}
		if j, dup := first[e.Fingerprint()]; dup {
			return at(fmt.Sprintf("same rule, module, object, file and field as entries[%d] (line %d); merge them into one entry and add up their counts", j, b.line(j)))
		}
		first[e.Fingerprint()] = i
	}
	return nil
}

// entryLines returns the line of each item of the top mapping's entries sequence.
func entryLines(top *yaml.Node) []int {
	if top.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "entries" || top.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		var lines []int
		for _, item := range top.Content[i+1].Content {
			lines = append(lines, item.Line)
		}
		return lines
	}
	return nil
}

// lineMsg matches one problem of a YAML decoding error: "line 5: field x not found in type y".
var lineMsg = regexp.MustCompile(`^\s*line (\d+): (.*)$`)

// unknownField matches the decoder's message for an unknown field.
var unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// decodeError turns a YAML decoding error into one naming path:line for each problem, in the
// decoder's order. Messages about Go types are rewritten in the file's terms.
func decodeError(path string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		fe := module.YAMLError(path, err)
		return errorAt(path, fe.Pos.Line, fe.Message)
	}
	var msgs []string
	for _, e := range te.Errors {
		line, msg := 0, e
		if m := lineMsg.FindStringSubmatch(e); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("unknown field %q", m[1])
		}
		msg = strings.ReplaceAll(msg, "!!", "")
		msgs = append(msgs, errorAt(path, line, msg).Error())
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// errorAt returns an error "path:line: msg", or "path: msg" when the line is unknown.
func errorAt(path string, line int, msg string) error {
	if line <= 0 {
		return fmt.Errorf("%s: %s", path, msg)
	}
	return fmt.Errorf("%s:%d: %s", path, line, msg)
}
