// Package manifest reads a module's manifests: source documents with their positions, and the
// objects that kustomize renders from them after Flux variable substitution.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Pos is a position in a repository file.
type Pos = module.Pos

// maxAliasExpansion caps the number of nodes that YAML aliases may add to a document when they
// are expanded, which stops alias bombs (billion laughs) before kustomize expands them. Only the
// nodes added through aliases count, so a large document without aliases (a CRD) is never refused.
const maxAliasExpansion = 100_000

// AliasBombError is a document whose aliases expand it by more than maxAliasExpansion nodes (a
// billion-laughs document). Parsing stops there, before any decoder expands it.
type AliasBombError struct {
	// Pos is where the document (or the inline document) starts.
	Pos Pos
}

// Error names the document's position and the expansion limit.
func (e *AliasBombError) Error() string {
	return fmt.Sprintf("%s: YAML aliases expand this document by more than %d nodes (alias bomb?)", e.Pos, maxAliasExpansion)
}

// Doc is one YAML document of a source file.
type Doc struct {
	// Node is the document's top node.
	Node *yaml.RNode
	// Pos is where the document's top node starts, in absolute file lines.
	Pos Pos
}

// File is a parsed source file.
type File struct {
	Docs []Doc
	// Err is set when the file cannot be read or parsed; it names the file and line.
	Err error
}

// Sources parses repository files once per run and shares them between modules (components
// are read by every module that includes them). It is safe for concurrent use.
type Sources struct {
	root string
	// from, when set, is what the repository is read from instead of the disk.
	from  Files
	mu    sync.Mutex
	files map[string]*sourceEntry
}

type sourceEntry struct {
	once sync.Once
	file *File
	// data is the file's content once read, until kustomize takes it (Sources.take): kustomize
	// reads the files polc parses, and gets them from here instead of from the disk again.
	data []byte
}

// NewSources returns a cache over the repository at root.
func NewSources(root string) *Sources {
	return &Sources{root: root, files: map[string]*sourceEntry{}}
}

// NewSourcesOf returns a cache over the repository at root read through files (the tree of a git
// revision) instead of the disk.
func NewSourcesOf(root string, files Files) *Sources {
	return &Sources{root: root, from: files, files: map[string]*sourceEntry{}}
}

// Get returns the parsed file at rel (slash-separated, relative to the repository root).
func (s *Sources) Get(rel string) *File {
	s.mu.Lock()
	e, ok := s.files[rel]
	if !ok {
		e = &sourceEntry{}
		s.files[rel] = e
	}
	s.mu.Unlock()
	e.load(s, rel)
	return e.file
}

// load reads and parses the file rel of s once.
func (e *sourceEntry) load(s *Sources, rel string) {
	e.once.Do(func() {
		data, err := readFile(s.from, s.root, rel)
		if err != nil {
			e.file = &File{Err: err}
			return
		}
		e.data = data
		e.file = ParseFile(rel, data)
	})
}

// take returns the content of the file rel when Get has read it (or is reading it), once, so that
// the files polc parses are read from the disk once per run without their content staying in
// memory for the rest of it; ok is false for other files, and for a file taken already (a
// component that several modules include, a base listed twice), which kustomize then reads again.
func (s *Sources) take(rel string) (data []byte, ok bool) {
	s.mu.Lock()
	e, ok := s.files[rel]
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	e.load(s, rel)
	s.mu.Lock()
	defer s.mu.Unlock()
	data, e.data = e.data, nil
	return data, data != nil
}

// ParseFile parses a multi-document YAML stream. Node lines are absolute in the file because one
// decoder reads the whole stream. Empty documents are skipped.
func ParseFile(rel string, data []byte) *File {
	f := &File{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return f
		}
		if err != nil {
			f.Err = module.YAMLErrorIn(rel, data, err)
			return f
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
			continue
		}
		top := doc.Content[0]
		if nodes, aliases := count(top); aliases > 0 {
			if limit := nodes + maxAliasExpansion; expansion(top, map[*yaml.Node]int{}, limit) > limit {
				f.Err = &AliasBombError{Pos: Pos{File: rel, Line: top.Line, Column: top.Column}}
				return f
			}
		}
		f.Docs = append(f.Docs, Doc{Node: yaml.NewRNode(top), Pos: Pos{File: rel, Line: top.Line, Column: top.Column}})
	}
}

// ParseObject parses one object from YAML produced at run time (after substitution, or read from
// a KRM function's input) with the guards of repository files: an alias bomb is refused, and the
// text must hold exactly one document.
func ParseObject(s string) (*yaml.RNode, error) {
	f := ParseFile("", []byte(s))
	if f.Err != nil {
		return nil, f.Err
	}
	if len(f.Docs) != 1 {
		return nil, fmt.Errorf("expected one YAML document, found %d", len(f.Docs))
	}
	return f.Docs[0].Node, nil
}

// CheckStream checks a multi-document YAML stream read at run time (a KRM function's input)
// against alias bombs before a decoder that expands aliases reads it. name names the stream in
// errors.
func CheckStream(name string, data []byte) error {
	return ParseFile(name, data).Err
}

// count returns the number of nodes written in the document under n, an alias counting as one,
// and the number of aliases among them: a document without aliases cannot expand, so it needs no
// expansion count (which memoises every node).
func count(n *yaml.Node) (nodes, aliases int) {
	nodes = 1
	if n.Kind == yaml.AliasNode {
		aliases = 1
	}
	for _, c := range n.Content {
		cn, ca := count(c)
		nodes, aliases = nodes+cn, aliases+ca
	}
	return nodes, aliases
}

// expansion counts the nodes n expands to when aliases are resolved, memoised per node so that
// counting itself stays linear, and stops counting once the total passes limit.
func expansion(n *yaml.Node, memo map[*yaml.Node]int, limit int) int {
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = limit + 1 // a cycle counts as too large
	total := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		total += expansion(n.Alias, memo, limit)
	}
	for _, c := range n.Content {
		if total > limit {
			break
		}
		total += expansion(c, memo, limit)
	}
	memo[n] = total
	return total
}
