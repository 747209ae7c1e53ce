package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/envsubst"
	"github.com/fluxcd/pkg/envsubst/parse"
	"github.com/stretchr/testify/require"

	"polc.dev/polc/internal/module"
)

// fluxSubstitute is what kustomize-controller does to an object's YAML with post-build variables
// (fluxcd/pkg/kustomize varSubstitution, default non-strict mode) without the final YAML-to-JSON
// step: refuse invalid variable names, then envsubst.Eval with every variable resolving, an
// unset one to "". A panic of envsubst is returned as an error.
func fluxSubstitute(s string, vars map[string]string) (out string, err error) {
	varsubRegex := regexp.MustCompile("^[_[:alpha:]][_[:alpha:][:digit:]]*$") // as in fluxcd/pkg/kustomize
	for name := range vars {
		if !varsubRegex.MatchString(name) {
			return "", fmt.Errorf("'%s' var name is invalid", name)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("envsubst panicked: %v", r)
		}
	}()
	return envsubst.Eval(s, func(name string) (string, bool) { return vars[name], true })
}

// fluxVars are the variables of the comparisons with Flux.
var fluxVars = map[string]string{
	"cluster_domain": "example.com", "empty": "", "REPLICAS": "3", "_x1": "y", "a": "hello",
	"path": "/usr/local/bin", "file": "archive.tar.gz", "mixed": "Hello World", "utf": "ünïcode",
	"slash": "a/b/c", "ref": "${a}", "dollars": "$$x",
}

// deepDefaults is an expression with levels ${u:=...} around ${a}.
func deepDefaults(levels int) string {
	return strings.Repeat("${u:=", levels) + "${a}" + strings.Repeat("}", levels)
}

// fluxCase is an input of the comparisons with Flux, with the result both must give; fluxErr is
// whether Flux fails the Kustomization on it.
type fluxCase struct {
	name, in, want string
	fluxErr        bool
}

// fluxCases cover every form envsubst parses, escapes, defaults with nested references, unset
// and empty variables, names Flux refuses, unterminated and deeply nested expressions.
var fluxCases = []fluxCase{
	// References.
	{name: "plain", in: "host: app.${cluster_domain}", want: "host: app.example.com"},
	{name: "several", in: "${REPLICAS}x${_x1}${REPLICAS}", want: "3xy3"},
	{name: "unset is empty", in: "a: '${missing}'", want: "a: ''"},
	{name: "empty", in: "a: '${empty}'", want: "a: ''"},
	{name: "value holding a reference is not substituted again", in: "${ref} ${dollars}", want: "${a} $$x"},
	{name: "unicode name", in: "${é}", want: ""},
	{name: "name starting with a digit", in: "${1abc}", want: ""},
	{name: "multi-line", in: "a: ${REPLICAS}\nb: ${cluster_domain}\n", want: "a: 3\nb: example.com\n"},
	// Defaults: every operator gives its argument when the variable is unset or empty.
	{name: ":= unset, empty, set", in: "${missing:=d}/${empty:=d}/${a:=d}", want: "d/d/hello"},
	{name: ":- unset, empty, set", in: "${missing:-d}/${empty:-d}/${a:-d}", want: "d/d/hello"},
	{name: "= unset, empty, set", in: "${missing=d}/${empty=d}/${a=d}", want: "d/d/hello"},
	{name: ":+ unset, empty, set", in: "${missing:+d}/${empty:+d}/${a:+d}", want: "d/d/hello"},
	{name: ":? unset, empty, set", in: "${missing:?d}/${empty:?d}/${a:?d}", want: "d/d/hello"},
	{name: "empty default", in: "[${missing:-}][${x:=}]", want: "[][]"},
	{name: "default holding operator characters", in: "${missing:-a-b=c:=d:e/f#g%h}", want: "a-b=c:=d:e/f#g%h"},
	{name: "default holding spaces and newlines", in: "${missing:=two words\nand a line}", want: "two words\nand a line"},
	{name: "default holding a reference", in: "${missing:-${a}}", want: "hello"},
	{name: "default holding references and text", in: "${var=prefix-${REPLICAS}-${_x1}-suffix}", want: "prefix-3-y-suffix"},
	{name: "nested defaults", in: "${m1:-${m2:-${m3:-${a}}}}", want: "hello"},
	{name: "default not used when set", in: "${a:-${missing}}", want: "hello"},
	{name: "default holding a bash form", in: "${missing:-${a^^}}", want: "HELLO"},
	{name: "default holding $$ is not an escape", in: "${missing:-$$}|${missing:-$${a}}", want: "$$|$hello"},
	{name: "default holding $ text", in: "${missing:-$HOME}", want: "$HOME"},
	// Length, substrings.
	{name: "length", in: "${#a}/${#missing}/${#empty}/${#utf}", want: "5/0/0/9"},
	{name: "substring from", in: "${a:1}/${a:10}/${a:0}", want: "ello//hello"},
	{name: "substring with length", in: "${a:1:2}/${a:1:-1}/${a:3:10}/${a:4:-2}", want: "el/ell/lo/"},
	{name: "substring from a reference", in: "${a:${REPLICAS}}", want: "lo"},
	{name: "substring that is not a number", in: "${a: -3}/${a:x}/${a:1:x}/${a:1:2:3}", want: "hello/hello/hello/hello"},
	{name: "substring after several colons", in: "${a:1::2}", want: "el"},
	// Trimming.
	{name: "trim shortest prefix", in: "${file#*.}", want: "tar.gz"},
	{name: "trim longest prefix", in: "${file##*.}", want: "gz"},
	{name: "trim shortest suffix", in: "${file%.*}", want: "archive.tar"},
	{name: "trim longest suffix", in: "${file%%.*}", want: "archive"},
	{name: "trim a literal", in: "${path#/usr}", want: "/local/bin"},
	{name: "trim with a bad pattern", in: "${file#[}", want: "archive.tar.gz"},
	{name: "trim with a reference", in: "${file#${missing:-arch}}", want: "ive.tar.gz"},
	// Replacing.
	{name: "replace first", in: "${a/l/L}", want: "heLlo"},
	{name: "replace all", in: "${a//l/L}", want: "heLLo"},
	{name: "replace prefix", in: "${a/#he/HE}/${a/#xx/HE}", want: "HEllo/hello"},
	{name: "replace suffix", in: "${a/%lo/LO}/${a/%xx/LO}", want: "helLO/hello"},
	{name: "delete", in: "${a//l/}/${a/l/}", want: "heo/helo"},
	{name: "replace an escaped slash", in: `${slash//\//-}`, want: "a-b-c"},
	{name: "replace an escaped backslash", in: `${slash//\\/-}`, want: "a/b/c"},
	{name: "replace with a reference", in: "${a/l/${REPLICAS}}", want: "he3lo"},
	{name: "replace with an escaped dollar", in: "${a//l/$$}", want: "he$$o"},
	{name: "replace pattern holding a brace", in: "${a/}/x}", want: "hello"},
	{name: "replace pattern holding an escape", in: "${a/x$${/y}", want: "hello"},
	{name: "replace empty pattern", in: "${a//${empty}/-}", want: "-h-e-l-l-o-"},
	// Case.
	{name: "upper first", in: "${a^}", want: "Hello"},
	{name: "upper", in: "${a^^}", want: "HELLO"},
	{name: "lower first", in: "${mixed,}", want: "hello World"},
	{name: "lower", in: "${mixed,,}", want: "hello world"},
	{name: "upper unicode", in: "${utf^^}", want: "ÜNÏCODE"},
	{name: "mixed case operators give the value", in: "${a,^}/${a^,}", want: "hello/hello"},
	{name: "case of an unset variable", in: "${missing^^}", want: ""},
	// Escapes and dollars outside expressions.
	{name: "$${var} escapes", in: "echo $${cluster_domain}", want: "echo ${cluster_domain}"},
	{name: "escape of an unset variable", in: "$${missing}", want: "${missing}"},
	{name: "escape next to a reference", in: "$${a}${REPLICAS}", want: "${a}3"},
	{name: "three dollars", in: "$$${a}", want: "$hello"},
	{name: "four dollars", in: "$$$${a}", want: "$${a}"},
	{name: "$$ becomes $ everywhere", in: "cost: $5 $$ $ $$$ ${a}", want: "cost: $5 $ $ $$ hello"},
	{name: "$$ without ${", in: "echo $$ $$$$", want: "echo $ $$"},
	{name: "shell variables", in: "echo $HOME $cluster_domain ${a}", want: "echo $HOME $cluster_domain hello"},
	{name: "unterminated escape", in: "$${x", want: "${x"},
	{name: "escapes mixed with references (Flux's own case)", in: "some text ${_x1}$${var$${_x1}$_x1${_x1}", want: "some text y${var${_x1}$_x1y"},
	{name: "escape before a default holding a reference", in: "something $${var=${cluster_domain}}", want: "something ${var=example.com}"},
	{name: "trailing dollar", in: "${a}$", want: "hello$"},
	// NUL bytes end the text for Flux's scanner.
	{name: "NUL ends the text", in: "a\x00b${a}", want: "a"},
	{name: "NUL after a reference", in: "${a}\x00${", want: "hello"},
	{name: "NUL without ${", in: "x\x00y", want: "x"},
	{name: "NUL in a default", in: "${a:-x\x00}", fluxErr: true},
	// Nesting.
	{name: "nested 10 deep", in: deepDefaults(10), want: "hello"},
	{name: "nested to polc's limit", in: deepDefaults(maxNesting), want: "hello"},
	// Syntax errors: Flux fails the Kustomization.
	{name: "name with a dot", in: "${foo.bar}", fluxErr: true},
	{name: "empty name", in: "${}", fluxErr: true},
	{name: "operator without a name", in: "${:-x}", fluxErr: true},
	{name: "dash operator", in: "${a-b}", fluxErr: true},
	{name: "dash operator of an unset variable", in: "${missing-x}", fluxErr: true},
	{name: "plus operator", in: "${a+x}", fluxErr: true},
	{name: "question operator", in: "${a?x}", fluxErr: true},
	{name: "space in a name", in: "${foo bar}", fluxErr: true},
	{name: "invalid UTF-8 name", in: "${\xff}", fluxErr: true},
	{name: "array length", in: "${#arr[@]}", fluxErr: true},
	{name: "length without a name", in: "${#}", fluxErr: true},
	{name: "double hash length", in: "${##a}", fluxErr: true},
	{name: "trim without a pattern", in: "${a#}", fluxErr: true},
	{name: "trim pattern followed by a reference", in: "${a#x${b}}", fluxErr: true},
	{name: "empty substring", in: "${a:}", fluxErr: true},
	{name: "substring with a multi-byte offset", in: "${a:é}", fluxErr: true},
	{name: "substring offset followed by a reference", in: "${a:1${b}}", fluxErr: true},
	{name: "substring overflowing", in: "${a:1:9223372036854775807}", fluxErr: true},
	{name: "replace without a slash", in: "${a//}", fluxErr: true},
	{name: "delete without a closing slash", in: "${a//l}", fluxErr: true},
	{name: "replace with three slashes", in: "${a///x}", fluxErr: true},
	{name: "replacement followed by a reference", in: "${a/x/y${b}}", fluxErr: true},
	{name: "three carets", in: "${a^^^}", fluxErr: true},
	{name: "non-reference holding a reference", in: "${#a-${REPLICAS}}", fluxErr: true},
	{name: "unterminated", in: "a: ${cluster_domain", fluxErr: true},
	{name: "unterminated after a good one", in: "${REPLICAS} ${x", fluxErr: true},
	{name: "unterminated default", in: "${a:=", fluxErr: true},
	{name: "unterminated colon", in: "${a:", fluxErr: true},
	{name: "unterminated nested reference", in: "${a:-${REPLICAS}", fluxErr: true},
	{name: "lone ${", in: "${", fluxErr: true},
	{name: "error after text", in: "ok: ${a}\nbad: ${a.b}\n", fluxErr: true},
}

// TestSubstituteMatchesFlux runs polc's SubstituteLimit and Flux's own substitution over the same
// inputs: they give the same result, or both fail.
func TestSubstituteMatchesFlux(t *testing.T) {
	for _, tc := range fluxCases {
		t.Run(tc.name, func(t *testing.T) {
			flux, fluxErr := fluxSubstitute(tc.in, fluxVars)
			require.Equal(t, tc.fluxErr, fluxErr != nil, "Flux: %q, %v", flux, fluxErr)
			got, _, err := SubstituteLimit(tc.in, fluxVars, 0)
			if tc.fluxErr {
				require.ErrorIs(t, err, ErrFluxSyntax)
				return
			}
			require.NoError(t, err)
			require.Equal(t, flux, got)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestSubstituteErrorLocation checks that an expression Flux cannot parse is reported with its
// line, the expression and envsubst's error.
func TestSubstituteErrorLocation(t *testing.T) {
	_, _, err := SubstituteLimit("ok: ${a}\nbad: ${a.b}\n", fluxVars, 0)
	var ee *ExprError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.Line)
	require.Equal(t, "${a.", ee.Expr)
	require.ErrorIs(t, err, ErrFluxSyntax)
	require.ErrorIs(t, err, parse.ErrMissingClosingBrace)
	require.Equal(t, `line 2: "${a.": rejected by Flux's envsubst, which fails the Kustomization: missing closing brace`, err.Error())

	_, _, err = SubstituteLimit("x: ${a:-"+strings.Repeat("long ", 40), fluxVars, 0)
	require.ErrorAs(t, err, &ee)
	require.Equal(t, "${a:-"+strings.Repeat("long ", 11), ee.Expr[:60])
	require.True(t, strings.HasSuffix(ee.Expr, "..."))
}

// TestSubstituteMissing checks the variables reported without a value or default, in order of
// appearance.
func TestSubstituteMissing(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{in: "${m1} ${m2} ${m1}", want: []string{"m1", "m2", "m1"}},
		{in: "${a} ${empty}"},
		{in: "${m1:-x} ${m1:=x} ${m1=x} ${m1:+x} ${m1:?x} ${m1:-} ${m1=}"},
		{in: "${m1:-${m2}}", want: []string{"m2"}},
		{in: "${empty:-${m2}}", want: []string{"m2"}},
		{in: "${a:-${m2}}"},
		{in: "${a:-${m2:-${m3}}} ${m4:-${m5:-${m6}}}", want: []string{"m6"}},
		{in: "${m1:-x${m2}y${m3}}", want: []string{"m2", "m3"}},
		{in: "${#m1} ${m2^^} ${m3:1} ${m4#x} ${m5/a/b} ${m6,^}", want: []string{"m1", "m2", "m3", "m4", "m5", "m6"}},
		{in: "${a/${m1}/${m2}} ${a:${m3}}", want: []string{"m1", "m2", "m3"}},
		{in: "${m1/${m2}/x}", want: []string{"m1", "m2"}},
		{in: "${1abc} ${é}", want: []string{"1abc", "é"}},
		{in: "$${m1} $$${a}"},
		{in: "${m2} ${m1:-${m3}}", want: []string{"m2", "m3"}},
		{in: "${a}\x00${m1}"},
	} {
		_, missing, err := SubstituteLimit(tc.in, fluxVars, 0)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, missing, tc.in)
	}
}

// TestSubstituteInvalidVarName checks that a variable whose name Flux refuses fails substitution,
// as it fails the Kustomization in Flux, and that text without expressions is not checked.
func TestSubstituteInvalidVarName(t *testing.T) {
	vars := map[string]string{"ok": "1", "my-key": "2", "0x": "3"}
	_, _, err := SubstituteLimit("${ok}", vars, 0)
	require.ErrorContains(t, err, `variable name "0x" is invalid`)
	_, fluxErr := fluxSubstitute("${ok}", vars)
	require.Error(t, fluxErr)
	out, _, err := SubstituteLimit("no expression", vars, 0)
	require.NoError(t, err)
	require.Equal(t, "no expression", out)
}

// TestSubstituteFluxLimit checks the size cap: results over it fail with ErrTooLarge, and
// expressions that could only grow far beyond it are refused before envsubst evaluates them.
func TestSubstituteFluxLimit(t *testing.T) {
	tenX := strings.Repeat("x", 10)
	for _, tc := range []struct {
		name    string
		in      string
		vars    map[string]string
		limit   int
		tooLong bool
	}{
		{name: "at the limit", in: "${a}${a}", vars: map[string]string{"a": tenX}, limit: 20},
		{name: "over the limit", in: "${a}${a}${a}", vars: map[string]string{"a": tenX}, limit: 20, tooLong: true},
		{name: "text counts", in: "${a}" + tenX + "x", vars: map[string]string{"a": tenX}, limit: 20, tooLong: true},
		{name: "default counts", in: "${m:-${a}${a}${a}}", vars: map[string]string{"a": tenX}, limit: 20, tooLong: true},
		{name: "unused default does not count", in: "${a:-${a}${a}${a}}", vars: map[string]string{"a": tenX}, limit: 20},
		{name: "case change", in: "${a^^}${a^^}", vars: map[string]string{"a": tenX}, limit: 20},
		{name: "replace all growing", in: "${a//x/${a}}", vars: map[string]string{"a": tenX}, limit: 99, tooLong: true},
		{name: "replace all within", in: "${a//x/${a}}", vars: map[string]string{"a": tenX}, limit: 100},
		{name: "no ${, no cap", in: strings.Repeat("$$", 20), limit: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := SubstituteLimit(tc.in, tc.vars, tc.limit)
			if tc.tooLong {
				require.ErrorIs(t, err, ErrTooLarge)
				require.Empty(t, out)
				return
			}
			require.NoError(t, err)
			flux, fluxErr := fluxSubstitute(tc.in, tc.vars)
			require.NoError(t, fluxErr)
			require.Equal(t, flux, out)
			if strings.Contains(tc.in, "${") {
				require.LessOrEqual(t, len(out), tc.limit)
			}
		})
	}
}

// TestSubstituteHostileGrowth checks that hostile inputs the size of a repository file fail fast
// without allocating far beyond the limit: a 1 MiB value referenced a million times, and
// replacements whose result would be quadratic in the value.
func TestSubstituteHostileGrowth(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	vars := map[string]string{"a": big, "small": "y"}
	for name, in := range map[string]string{
		"a million references":     strings.Repeat("${a}", 1_000_000),
		"quadratic replacement":    "${a//x/${a}}",
		"quadratic deletions":      strings.Repeat("${a//${small}/${a}}", 5),
		"large unused defaults":    strings.Repeat("${small:-${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}}", 1000),
		"references after the cap": strings.Repeat("${a}", 5) + strings.Repeat("${small}", 100_000),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var err error
			bounded(t, "SubstituteLimit", func() { _, _, err = SubstituteLimit(in, vars, module.MaxFileSize) })
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, ErrTooLarge)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "allocated")
		})
	}
}

// TestSubstituteTooComplex checks the expressions polc refuses although Flux evaluates them:
// nesting deeper than maxNesting, and work that is more than linear in the text.
func TestSubstituteTooComplex(t *testing.T) {
	long := strings.Repeat("ab", 32<<10)
	for name, in := range map[string]string{
		"nested too deep":             deepDefaults(maxNesting + 1),
		"nested too deep, later":      "${a} " + deepDefaults(maxNesting+5),
		"trimming a long value":       "${long%%*x}",
		"many trims":                  strings.Repeat("${mid##*x}", 200),
		"many escapes in one pattern": "${a/" + strings.Repeat("$$", 100_000) + "/x}",
		"unterminated and deep":       strings.Repeat("${a:=", 200_000),
	} {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"a": "x", "long": long, "mid": long[:2000]}
			var err error
			bounded(t, "SubstituteLimit", func() { _, _, err = SubstituteLimit(in, vars, module.MaxFileSize) })
			require.ErrorIs(t, err, ErrTooComplex)
			got, _ := Substitute(in, vars)
			require.Equal(t, in, got, "Substitute leaves the text as it is")
		})
	}
}

// TestSubstituteLinear checks that many expressions and escapes in a file-sized text are
// substituted in one pass, where Flux's parser recurses once per expression and copies the text
// for each escape.
func TestSubstituteLinear(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"many references": {in: strings.Repeat("${a}", 500_000), want: strings.Repeat("x", 500_000)},
		"many escapes":    {in: strings.Repeat("$$", 1_000_000) + "${a}", want: strings.Repeat("$", 1_000_000) + "x"},
		"many defaults":   {in: strings.Repeat("${m:-${a}}", 200_000), want: strings.Repeat("x", 200_000)},
	} {
		t.Run(name, func(t *testing.T) {
			var got string
			var err error
			bounded(t, "SubstituteLimit", func() { got, _, err = SubstituteLimit(tc.in, map[string]string{"a": "x"}, module.MaxFileSize) })
			require.NoError(t, err)
			require.True(t, got == tc.want, "result differs")
		})
	}
}

// FuzzSubstituteFlux compares SubstituteLimit with Flux's own substitution: the same result, or
// both fail; polc may refuse an expression Flux evaluates only with ErrTooComplex. Inputs are
// kept small, where Flux's recursive parser is safe to run.
func FuzzSubstituteFlux(f *testing.F) {
	for _, tc := range fluxCases {
		f.Add(tc.in, "value")
	}
	f.Add("${a//${empty}/${a}}", "xyz")
	f.Add("${a:1:-1}${a%%\\/*}", "a/b\xff/c")
	f.Fuzz(func(t *testing.T, s, value string) {
		if len(s) > 4096 || len(value) > 256 {
			return
		}
		vars := substVars(value)
		flux, fluxErr := fluxSubstitute(s, vars)
		var got string
		var missing []string
		var err error
		bounded(t, "SubstituteLimit", func() { got, missing, err = SubstituteLimit(s, vars, 0) })
		switch {
		case fluxErr != nil && err == nil:
			t.Fatalf("Flux fails (%v), polc gives %q", fluxErr, got)
		case fluxErr == nil && err != nil && !errors.Is(err, ErrTooComplex):
			t.Fatalf("Flux gives %q, polc fails: %v", flux, err)
		case fluxErr == nil && err == nil && got != flux:
			t.Fatalf("Flux gives %q, polc %q", flux, got)
		}
		for _, name := range missing {
			if _, set := vars[name]; set {
				t.Fatalf("missing variable %q has a value", name)
			}
		}
	})
}
