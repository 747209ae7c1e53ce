package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Fuzz targets for the parsers that read untrusted repository text: ParseFile and ParseObject
// (YAML streams, with the alias-bomb guard) and SubstituteLimit (Flux post-build substitution).
// Their seed corpora under testdata/fuzz hold hostile inputs (alias bombs and cycles, deep
// nesting, invalid UTF-8, NUL bytes, huge numbers, ${ edge cases); `go test -run Fuzz` runs them
// as unit tests and hack/fuzz.sh fuzzes every target for a while.

// fuzzDeadline is how long one call may take. Go's fuzzer has no per-input timeout (a hang
// stalls it without a report), so each target runs the call under this deadline.
const fuzzDeadline = 10 * time.Second

// bounded runs fn and fails the test when it panics or does not return within fuzzDeadline.
func bounded(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Sprintf("%s panicked: %v\n%s", what, r, debug.Stack())
			}
		}()
		fn()
		done <- ""
	}()
	select {
	case msg := <-done:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-time.After(fuzzDeadline):
		t.Fatalf("%s did not return within %v", what, fuzzDeadline)
	}
}

// yamlSeeds start the YAML fuzzers off; testdata/fuzz holds more.
var yamlSeeds = []string{
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: b\ndata:\n  k: v\n",
	"---\n# empty\n---\n~\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: media}\n---\n",
	"a: &a {b: 1}\nc: *a\nd: {<<: *a, e: 2}\n",
	testutil.AliasBomb("bomb:\n"),
	"a: &a [*a]\n",
	"\xef\xbb\xbfa: b\r\nc: d\r\n",
	"a: \xff\xfe\n",
	"a: \"\x00\"\n",
	strings.Repeat("[", 200) + strings.Repeat("]", 200),
	"a: 1e999999999\nb: 99999999999999999999999999999\nc: !!int 0x7fffffffffffffffff\n",
	"a: ${x:=${y}}\n",
	"- !!binary aGVsbG8=\n- !custom {a: b}\n",
	"{a: 1, a: 2}\n",
	"a: [\n",
	"apiVersion: [v1]\nkind: {a: b}\nmetadata: [name, x, namespace]\n",
	"metadata: {name: [x], namespace: {a: b}, labels: [a], annotations: 5}\n",
	"- a\n",
}

// FuzzParseFile checks that ParseFile never panics or hangs; that positions are inside the file;
// and that the alias-bomb guard matches an independent count: a document whose aliases add more
// than maxAliasExpansion nodes is refused with an *AliasBombError at its position, and no
// accepted document expands beyond that.
func FuzzParseFile(f *testing.F) {
	for _, s := range yamlSeeds {
		f.Add([]byte(s))
	}
	const rel = "modules/apps/media/deploy.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		var file *File
		bounded(t, "ParseFile", func() { file = ParseFile(rel, data) })
		if file == nil {
			t.Fatal("ParseFile returned nil")
		}
		maxPos := len(data) + 1
		for i, d := range file.Docs {
			if d.Node == nil || d.Node.YNode() == nil {
				t.Fatalf("document %d has no node", i)
			}
			if d.Pos.File != rel || d.Pos.Line < 1 || d.Pos.Column < 1 || d.Pos.Line > maxPos || d.Pos.Column > maxPos {
				t.Fatalf("document %d has position %+v outside the %d-byte file", i, d.Pos, len(data))
			}
		}
		if len(file.Docs) > len(data) {
			t.Fatalf("%d documents from %d bytes", len(file.Docs), len(data))
		}

		// The same stream, decoded here: the documents ParseFile kept, then the one it refused.
		var tops []*yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for len(tops) <= len(file.Docs) {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				if file.Err == nil && !errors.Is(err, io.EOF) {
					t.Fatalf("ParseFile accepted a stream the decoder refuses: %v", err)
				}
				break
			}
			if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
				continue
			}
			tops = append(tops, doc.Content[0])
		}
		if len(tops) < len(file.Docs) {
			t.Fatalf("ParseFile returned %d documents, the decoder finds %d", len(file.Docs), len(tops))
		}
		for i := range file.Docs {
			if n := expandedSize(tops[i]); n > writtenSize(tops[i])+maxAliasExpansion {
				t.Fatalf("document %d (line %d) accepted although its aliases expand it to %d nodes", i, file.Docs[i].Pos.Line, n)
			}
		}
		var bomb *AliasBombError
		if errors.As(file.Err, &bomb) {
			if len(tops) <= len(file.Docs) {
				t.Fatalf("alias bomb reported after the last document: %v", file.Err)
			}
			top := tops[len(file.Docs)]
			if n := expandedSize(top); n <= writtenSize(top)+maxAliasExpansion {
				t.Fatalf("document at line %d refused as an alias bomb, but it expands to only %d nodes", top.Line, n)
			}
			if bomb.Pos != (Pos{File: rel, Line: top.Line, Column: top.Column}) {
				t.Fatalf("alias bomb at %+v, document at line %d column %d", bomb.Pos, top.Line, top.Column)
			}
		} else if file.Err != nil && !strings.Contains(file.Err.Error(), rel) {
			t.Fatalf("error does not name the file: %v", file.Err)
		} else if file.Err == nil && len(tops) > len(file.Docs) {
			t.Fatalf("ParseFile dropped a document at line %d", tops[len(file.Docs)].Line)
		}
		if err := CheckStream(rel, data); (err == nil) != (file.Err == nil) {
			t.Fatalf("CheckStream %v, ParseFile %v", err, file.Err)
		}
	})
}

// writtenSize is the number of nodes written under n; an alias is one node.
func writtenSize(n *yaml.Node) int {
	total := 1
	for _, c := range n.Content {
		total += writtenSize(c)
	}
	return total
}

// expandedSize is the number of nodes n stands for once aliases are resolved (an alias counts
// itself and its anchor's nodes), saturated just above the alias-bomb limit of n's document; a
// cycle counts as too large. It is the test's own count, independent of ParseFile's.
func expandedSize(top *yaml.Node) int {
	limit := writtenSize(top) + maxAliasExpansion + 1
	memo := map[*yaml.Node]int{}
	onPath := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node) int
	walk = func(n *yaml.Node) int {
		if v, ok := memo[n]; ok {
			return v
		}
		if onPath[n] {
			return limit
		}
		onPath[n] = true
		defer delete(onPath, n)
		total := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			total += walk(n.Alias)
		}
		for _, c := range n.Content {
			if total >= limit {
				break
			}
			total += walk(c)
		}
		total = min(total, limit)
		memo[n] = total
		return total
	}
	return walk(top)
}

// FuzzParseObject checks ParseObject, which reads YAML produced at run time: no panic or hang; an
// accepted text holds exactly one document, and the node can be read and written back.
func FuzzParseObject(f *testing.F) {
	for _, s := range yamlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var n *yaml.RNode
		var err error
		bounded(t, "ParseObject", func() { n, err = ParseObject(s) })
		if err != nil {
			if n != nil {
				t.Fatalf("node returned together with error %v", err)
			}
			return
		}
		if n == nil {
			t.Fatal("no node and no error")
		}
		if file := ParseFile("", []byte(s)); file.Err != nil || len(file.Docs) != 1 {
			t.Fatalf("ParseObject accepted a text that ParseFile reads as %d documents, error %v", len(file.Docs), file.Err)
		}
		// What the renderer does with an object: read its identity and field positions,
		// serialise it, substitute, and parse the result again. RefOf still panics on documents
		// that are not objects (TestRefOfNotAnObject), so those skip it.
		bounded(t, "using the object", func() {
			if !notAnObject(n.YNode()) {
				_ = RefOf(n)
			}
			o := &Object{Node: n, Source: n, Pos: Pos{File: "f", Line: 1}}
			_ = o.FieldPos("metadata.labels[app.kubernetes.io/name]")
			_ = o.FieldPos("spec.template.spec.containers[0].image")
			out, err := n.String()
			if err != nil {
				return
			}
			sub, _ := Substitute(out, map[string]string{"x": "1"})
			_, _ = ParseObject(sub)
		})
	})
}

// substVars are the variables of FuzzSubstitute; "a" takes the fuzzed value.
func substVars(value string) map[string]string {
	return map[string]string{"a": value, "empty": "", "cluster_domain": "example.com", "B_2": "${a}"}
}

// FuzzSubstitute checks Flux substitution: no panic or hang; a text without "${", "$$" or a NUL
// byte comes back as it is; with a limit, an accepted result is never longer than the limit; the
// only errors are ErrTooLarge (with a limit), ErrFluxSyntax (Flux fails on the text too) and
// ErrTooComplex, always with an empty result; $${ is an escape for a literal ${ whatever follows;
// and every unresolved name has no value. FuzzSubstituteFlux compares the results with Flux's.
func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{
		"", "plain text", "a: ${a}\n", "${missing} ${a:=d} ${a:-d} ${a=d} ${a-d}", "$${a}", "$${a", "${", "${}",
		"${a", "${a:=${b:-${c}}}", "${#a} ${a/b/c} ${1a} ${a.b}", "${B_2}", "$$${a}", "${a:=}${empty:-x}",
		"${a\x00}", "${\xff}", strings.Repeat("${a}", 50), strings.Repeat("${x:=", 30) + strings.Repeat("}", 30),
	} {
		f.Add(s, "value", uint16(0))
		f.Add(s, strings.Repeat("v", 40), uint16(16))
	}
	f.Fuzz(func(t *testing.T, s, value string, limit16 uint16) {
		limit := int(limit16)
		vars := substVars(value)
		var out string
		var missing []string
		var err error
		bounded(t, "SubstituteLimit", func() { out, missing, err = SubstituteLimit(s, vars, limit) })

		if !strings.Contains(s, "${") && !strings.Contains(s, "$$") && !strings.Contains(s, "\x00") {
			if out != s || missing != nil || err != nil {
				t.Fatalf("text without ${ changed: %q -> %q, %v, %v", s, out, missing, err)
			}
		}
		if err != nil {
			tooLarge := limit > 0 && errors.Is(err, ErrTooLarge)
			if !tooLarge && !errors.Is(err, ErrFluxSyntax) && !errors.Is(err, ErrTooComplex) || out != "" {
				t.Fatalf("limit %d: unexpected error %v with result %q", limit, err, out)
			}
		} else if limit > 0 && len(out) > limit && strings.Contains(s, "${") {
			t.Fatalf("limit %d: result of %d bytes accepted", limit, len(out))
		}
		for _, name := range missing {
			if _, set := vars[name]; set {
				t.Fatalf("unresolved name %q has a value", name)
			}
		}

		// Without a limit, only what Flux rejects (or polc finds too complex) fails.
		var free string
		var freeErr error
		bounded(t, "SubstituteLimit without a limit", func() { free, missing, freeErr = SubstituteLimit(s, vars, 0) })
		if freeErr != nil && !errors.Is(freeErr, ErrFluxSyntax) && !errors.Is(freeErr, ErrTooComplex) {
			t.Fatalf("no limit, error %v", freeErr)
		}
		// $${ escapes: what follows is substituted as it would be on its own.
		var escaped string
		var escMissing []string
		bounded(t, "SubstituteLimit of an escape", func() { escaped, escMissing, err = SubstituteLimit("$${"+s, vars, 0) })
		if (err != nil) != (freeErr != nil) || freeErr == nil && (escaped != "${"+free || !slices.Equal(escMissing, missing)) {
			t.Fatalf("$${ + %q gave %q (%v, %v); %q alone gave %q (%v, %v)", s, escaped, escMissing, err, s, free, missing, freeErr)
		}
		if !strings.ContainsAny(value, "${}\x00") {
			if got, _, _ := SubstituteLimit("$${"+value+"}", vars, 0); got != "${"+value+"}" {
				t.Fatalf("$${%s} gave %q", value, got)
			}
		}
		// Substitute is SubstituteLimit at the file size limit, leaving the text as it is on an error.
		var plain string
		bounded(t, "Substitute", func() { plain, _ = Substitute(s, vars) })
		if freeErr != nil && plain != s || freeErr == nil && plain != free && (plain != s || len(free) <= module.MaxFileSize) {
			t.Fatalf("Substitute %q, SubstituteLimit %q (%v)", plain, free, freeErr)
		}
	})
}

// TestParseFileAliasBomb checks the alias-bomb seeds outside the fuzzer: a billion-laughs
// document and an alias cycle are refused with an *AliasBombError at the document, and the
// documents before them are kept.
func TestParseFileAliasBomb(t *testing.T) {
	for name, tc := range map[string]struct {
		data string
		line int
	}{
		"billion laughs":            {data: testutil.AliasBomb("bomb:\n"), line: 1},
		"after a good document":     {data: "a: b\n---\n" + testutil.AliasBomb("bomb:\n"), line: 3},
		"in a flow sequence":        {data: "x: 1\ny: " + flowBomb() + "\n", line: 1},
		"self-referencing sequence": {data: "a: &a [*a]\n", line: 1},
		"self-referencing mapping":  {data: "a: &a {b: *a}\n", line: 1},
		"merge key of itself":       {data: "a: &a\n  <<: *a\n", line: 1},
		"bomb in a later document":  {data: "---\n~\n---\na: 1\n---\n" + testutil.AliasBomb("b:\n"), line: 6},
	} {
		t.Run(name, func(t *testing.T) {
			var file *File
			bounded(t, "ParseFile", func() { file = ParseFile("f.yaml", []byte(tc.data)) })
			var bomb *AliasBombError
			if !errors.As(file.Err, &bomb) {
				t.Fatalf("want an *AliasBombError, got %v", file.Err)
			}
			if bomb.Pos.File != "f.yaml" || bomb.Pos.Line != tc.line {
				t.Fatalf("alias bomb at %+v, want line %d", bomb.Pos, tc.line)
			}
			if _, err := ParseObject(tc.data); !errors.As(err, &bomb) {
				t.Fatalf("ParseObject: want an *AliasBombError, got %v", err)
			}
		})
	}
}

// flowBomb is a billion-laughs sequence in flow style, nine levels of nine aliases.
func flowBomb() string {
	parts := []string{"&a [l, l, l, l, l, l, l, l, l]"}
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		parts = append(parts, "&"+name+" ["+strings.TrimSuffix(strings.Repeat("*"+prev+", ", 9), ", ")+"]")
		prev = name
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// TestParseFileLargeWithoutAliases checks that a large document without aliases, and one whose
// aliases stay under the limit, are not mistaken for alias bombs.
func TestParseFileLargeWithoutAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("items:\n")
	for i := range 150_000 {
		fmt.Fprintf(&b, "- %d\n", i)
	}
	b.WriteString("x: &x [1, 2, 3]\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "y%d: *x\n", i)
	}
	var file *File
	bounded(t, "ParseFile", func() { file = ParseFile("f.yaml", []byte(b.String())) })
	if file.Err != nil || len(file.Docs) != 1 {
		t.Fatalf("got %d documents, error %v", len(file.Docs), file.Err)
	}
}

// hostileNesting are large nested and unterminated ${ expressions of the size of a repository
// file, by name.
func hostileNesting() map[string]string {
	const n = 200_000
	return map[string]string{
		"nested defaults": strings.Repeat("${a:=", n) + strings.Repeat("}", n),
		"nested expressions that are not references": strings.Repeat("${#", n) + strings.Repeat("}", n),
		"nested escapes":                          strings.Repeat("$${a:=", n) + strings.Repeat("}", n),
		"unterminated":                            strings.Repeat("${a:=", n),
		"unbalanced":                              strings.Repeat("${a:-${", n) + strings.Repeat("}", n/2),
		"long operator chain":                     "${a" + strings.Repeat(":-a", n) + "}",
		"many references":                         strings.Repeat("${missing}", n),
		"defaults nested 16 deep, repeated":       strings.Repeat(strings.Repeat("${a:=xxxxxxxx", 16)+strings.Repeat("}", 16), n/16),
		"non-references nested 16 deep, repeated": strings.Repeat(strings.Repeat("${#xxxxxxxxxx", 16)+strings.Repeat("}", 16), n/16),
		"defaults nested 17 deep, repeated":       strings.Repeat(strings.Repeat("${a:=xxxxxxxx", 17)+strings.Repeat("}", 17), n/17),
	}
}

// TestSubstituteHostileNesting runs substitution on hostileNesting: each must return (within the
// fuzz deadline, which a scan per nesting level, quadratic in the text, does not) without
// panicking. BenchmarkSubstituteHostileNesting measures how long each takes.
func TestSubstituteHostileNesting(t *testing.T) {
	for name, s := range hostileNesting() {
		t.Run(name, func(t *testing.T) {
			bounded(t, "SubstituteLimit", func() { _, _, _ = SubstituteLimit(s, nil, module.MaxFileSize) })
		})
	}
}

// BenchmarkSubstituteHostileNesting measures substitution on each of hostileNesting.
func BenchmarkSubstituteHostileNesting(b *testing.B) {
	inputs := hostileNesting()
	names := slices.Sorted(maps.Keys(inputs))
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_, _, _ = SubstituteLimit(inputs[name], nil, module.MaxFileSize)
			}
		})
	}
}

// notAnObject reports whether n, or its metadata, is a sequence: the documents RefOf panics on.
func notAnObject(n *yaml.Node) bool {
	if n.Kind == yaml.SequenceNode {
		return true
	}
	for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "metadata" && n.Content[i+1].Kind == yaml.SequenceNode {
			return true
		}
	}
	return false
}

// TestRefOfNotAnObject checks that RefOf does not panic on a parsed document that is not an
// object: a sequence, or a mapping whose metadata is a sequence. polc reads such documents from
// repository files (a cluster entry point's *.yaml, a kustomization.yaml) and from polc fn input.
func TestRefOfNotAnObject(t *testing.T) {
	for _, s := range []string{"- a\n", "- a\n- b\n- c\n", "kind: x\nmetadata: [name, x, namespace]\n", "metadata: [a]\n", "apiVersion: [v1]\n"} {
		n, err := ParseObject(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		bounded(t, fmt.Sprintf("RefOf(%q)", s), func() { _ = RefOf(n) })
	}
}

// TestSubstituteNestingLimit checks the edge of maxNesting: an expression inside maxNesting
// others is substituted; one inside more is refused with ErrTooComplex (Flux would evaluate it)
// and Substitute leaves the text as it is.
func TestSubstituteNestingLimit(t *testing.T) {
	vars := map[string]string{"a": "x"}
	deep := func(levels int) string { return strings.Repeat("${u:=", levels) + "${a}" + strings.Repeat("}", levels) }
	for _, tc := range []struct {
		in, want string
	}{
		{in: deep(maxNesting), want: "x"},
		{in: deep(maxNesting) + " ${a}", want: "x x"},
		{in: deep(maxNesting + 1)},
		{in: deep(maxNesting+1) + " ${a} $${a}"},
		{in: "${a} " + deep(maxNesting+2)},
	} {
		got, missing := Substitute(tc.in, vars)
		_, _, err := SubstituteLimit(tc.in, vars, 0)
		if tc.want == "" && (got != tc.in || !errors.Is(err, ErrTooComplex)) || tc.want != "" && (got != tc.want || err != nil) || len(missing) != 0 {
			t.Errorf("Substitute(%q) = %q, %v (%v); want %q", tc.in, got, missing, err, tc.want)
		}
	}
}

// TestSubstituteLimitCountsText checks that the limit caps the whole result, the text around the
// references included, not only the values substituted.
func TestSubstituteLimitCountsText(t *testing.T) {
	vars := map[string]string{"a": "vvvvvvvvvv"}
	for _, tc := range []struct {
		in      string
		limit   int
		tooLong bool
	}{
		{in: "${a}", limit: 10},
		{in: "${a}", limit: 9, tooLong: true},
		{in: "${a}" + strings.Repeat("t", 10), limit: 20},
		{in: "${a}" + strings.Repeat("t", 11), limit: 20, tooLong: true},
		{in: "${#a}" + strings.Repeat("t", 20), limit: 20, tooLong: true},
		{in: strings.Repeat("t", 30), limit: 20}, // no ${: returned as it is
	} {
		out, _, err := SubstituteLimit(tc.in, vars, tc.limit)
		if tc.tooLong != errors.Is(err, ErrTooLarge) || err == nil && len(out) > tc.limit && strings.Contains(tc.in, "${") {
			t.Errorf("SubstituteLimit(%q, %d) = %d bytes, %v", tc.in, tc.limit, len(out), err)
		}
	}
}
