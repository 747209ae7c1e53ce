package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Finding text comes from the repository polc checks (messages quote manifests and Rego rules,
// exceptions carry their authors' reasons), and the repository may be an untrusted pull
// request. The line formats print it escaped: text through oneLine, so that every finding stays
// one line (plus its hint) that says what it is: a newline in a message cannot start a fake
// finding or summary line, an escape sequence cannot recolour or erase the terminal, and a bidi
// override cannot make a line read differently from its bytes. github keeps line breaks, which
// the workflow command escaping encodes (%0A) into the one annotation, and escapes the rest.

// OneLine escapes what would break a line or change how it reads: C0 controls (tab and newline
// included), DEL, C1 controls, the Unicode line and paragraph separators, the bidirectional
// formatting characters and invalid UTF-8. Newline, carriage return and tab become \n, \r and
// \t; other ASCII controls and invalid bytes \xHH; other characters \uHHHH. The rest is kept,
// backslashes included, so ordinary text prints unchanged.
func OneLine(s string) string { return escapeText(s, false) }

// escapeText is oneLine, except that it keeps newlines and carriage returns when keepBreaks is
// set.
func escapeText(s string, keepBreaks bool) string {
	keep := func(r rune) bool { return !unsafeRune(r) || keepBreaks && (r == '\n' || r == '\r') }
	// Invalid UTF-8 decodes as utf8.RuneError: look closer from there on.
	i := strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || !keep(r) })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keep(r):
			b.WriteString(s[i : i+size])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// unsafeRune reports whether oneLine escapes r.
func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0, DEL and C1
		return true
	case r == '\u2028', r == '\u2029': // line and paragraph separators
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f': // bidi marks: ALM, LRM, RLM
		return true
	case '\u202a' <= r && r <= '\u202e': // bidi embeddings and overrides: LRE, RLE, PDF, LRO, RLO
		return true
	case '\u2066' <= r && r <= '\u2069': // bidi isolates: LRI, RLI, FSI, PDI
		return true
	}
	return false
}
