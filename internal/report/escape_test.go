package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/rule"
)

func TestOneLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "plain", in: `modules/apps/média/日本.yaml: a\b "c" 100%`, want: `modules/apps/média/日本.yaml: a\b "c" 100%`},
		{name: "line breaks", in: "a\nb\r\nc", want: `a\nb\r\nc`},
		{name: "tab", in: "a\tb", want: `a\tb`},
		{name: "terminal escape", in: "\x1b[2K\x1b[31mred", want: `\x1b[2K\x1b[31mred`},
		{name: "NUL, BEL, DEL", in: "\x00\x07\x7f", want: `\x00\x07\x7f`},
		{name: "C1 controls", in: "\u0085\u009b", want: `\u0085\u009b`},
		{name: "line and paragraph separators", in: "a\u2028b\u2029c", want: `a\u2028b\u2029c`},
		{name: "bidi overrides and isolates", in: "\u202aa\u202eb\u2066c\u2069\u200f\u061c", want: `\u202aa\u202eb\u2066c\u2069\u200f\u061c`},
		{name: "invalid UTF-8", in: "a\xffb\xc3", want: `a\xffb\xc3`},
		{name: "replacement character itself is kept", in: "a\uFFFDb", want: "a\uFFFDb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, OneLine(tc.in))
		})
	}
	require.Equal(t, "a\nb\r\n\\x1b\\u202e", escapeText("a\nb\r\n\x1b\u202e", true), "keepBreaks keeps only line breaks")
}

// hostileFindings carry text that tries to add lines to a report, restyle the terminal or
// reorder what it shows, in every free-text field.
var hostileFindings = []rule.Finding{
	{Rule: "custom/evil\n::error::injected", Severity: rule.Error, Module: "m\x1b[2K",
		Pos:     rule.Pos{File: "modules/apps/m/evil\n0 modules.yaml", Line: 3, Column: 1},
		Object:  &rule.ObjectRef{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns\u202e", Name: "x\x00y"},
		Message: "bad\n9 modules, 0 objects: 0 errors, 0 warnings, 0 excepted\r\x1b[32mOK\x1b[0m \u202eevil\xff",
		Hint:    "fix\nmodules/x.yaml:1:1: error fake/rule: fake [x]\u2028"},
	{Rule: "custom/evil", Severity: rule.Warning, Module: "m", Pos: rule.Pos{File: "a.yaml"},
		Message: "excepted\x07", Excepted: true, Reason: "because\n    hint: fake\u0085\u2066"},
}

// requireClean fails when out holds a control character other than a newline, a bidi
// formatting character, a line separator or invalid UTF-8.
func requireClean(t *testing.T, out string) {
	t.Helper()
	require.True(t, utf8.ValidString(out), "invalid UTF-8 in %q", out)
	for _, r := range out {
		require.False(t, r != '\n' && unsafeRune(r), "%U in %q", r, out)
	}
}

func TestTextIsOneLinePerFinding(t *testing.T) {
	out := string(render(t, "text", hostileFindings, testSummary))
	requireClean(t, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Equal(t, []string{
		`modules/apps/m/evil\n0 modules.yaml:3:1: error custom/evil\n::error::injected: bad\n9 modules, 0 objects: 0 errors, 0 warnings, 0 excepted\r\x1b[32mOK\x1b[0m \u202eevil\xff [m\x1b[2K]`,
		`    hint: fix\nmodules/x.yaml:1:1: error fake/rule: fake [x]\u2028`,
		`a.yaml: excepted custom/evil: excepted\x07 [m]`,
		`    excepted: because\n    hint: fake\u0085\u2066`,
		"4 modules, 37 objects: 3 errors, 1 warning, 1 excepted",
		"rule                            errors  warnings  excepted  baselined",
		"custom/evil                          0         0         1          0",
		`custom/evil\n::error::injected       1         0         0          0`,
	}, lines)
}

func TestGitHubIsOneCommandPerFinding(t *testing.T) {
	out := string(render(t, "github", hostileFindings, testSummary))
	requireClean(t, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Equal(t, []string{
		`::error file=modules/apps/m/evil%0A0 modules.yaml,line=3,col=1,title=custom/evil%0A%3A%3Aerror%3A%3Ainjected::` +
			`bad%0A9 modules, 0 objects: 0 errors, 0 warnings, 0 excepted%0D\x1b[32mOK\x1b[0m \u202eevil\xff%0Ahint: fix%0Amodules/x.yaml:1:1: error fake/rule: fake [x]\u2028`,
		`::notice file=a.yaml,title=custom/evil (excepted)::excepted\x07%0Aexcepted: because%0A    hint: fake\u0085\u2066`,
		"4 modules, 37 objects: 3 errors, 1 warning, 1 excepted",
	}, lines)
}

// TestStructuredFormatsStayValid: JSON and SARIF stay valid JSON and UTF-8, JUnit well-formed
// XML (encoding/xml writes characters XML forbids, such as ESC and NUL, as U+FFFD), whatever
// the findings' text.
func TestStructuredFormatsStayValid(t *testing.T) {
	for _, format := range []string{"json", "sarif", "junit"} {
		t.Run(format, func(t *testing.T) {
			out := render(t, format, hostileFindings, Summary{Errors: 1, Warnings: 1})
			require.True(t, utf8.Valid(out))
			if format == "junit" {
				dec := xml.NewDecoder(bytes.NewReader(out))
				for {
					_, err := dec.Token()
					if err != nil {
						require.ErrorContains(t, err, "EOF")
						break
					}
				}
				require.NotContains(t, string(out), "\x1b")
				require.NotContains(t, string(out), "\x00")
				return
			}
			require.True(t, json.Valid(out))
		})
	}
}
