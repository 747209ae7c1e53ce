package genfiles

import (
	"regexp"
	"strings"
	"unicode"
)

// mdSpecial are the characters that Markdown (CommonMark and GitHub's extensions) can read as
// syntax inside a line: escapes, code spans, emphasis, links and images, HTML and autolinks,
// entities, table cells, strikethrough and math. '_' is escaped only where it could start or end
// emphasis: not between two letters or digits (OAUTH2_PROXY stays readable).
const mdSpecial = "\\`*_[]<>|&~$"

// MarkdownText renders free text from metadata (a description, a reason, an owner) as literal
// Markdown text for a paragraph or a table cell: line breaks and other whitespace fold into
// single spaces, control characters become U+FFFD, every character that Markdown could read as
// syntax is backslash-escaped, and so is a leading character that could start a block (a heading,
// a list item, a thematic break). The result cannot inject a link, an image, HTML, a code span or
// a table cell, and renders as the text itself.
func MarkdownText(s string) string {
	rs := []rune(strings.Join(strings.Fields(s), " "))
	var b strings.Builder
	for i, r := range rs {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteRune('\uFFFD')
			continue
		case r == '_' && i > 0 && i+1 < len(rs) && alnum(rs[i-1]) && alnum(rs[i+1]):
		case r < 0x80 && strings.ContainsRune(mdSpecial, r), i == blockMarker(rs):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func alnum(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// blockMarker returns the index of the character that would make text starting a line a block
// (#, +, -, = at the start; the '.' or ')' of "1. " or "1)"), or -1.
func blockMarker(rs []rune) int {
	if len(rs) == 0 {
		return -1
	}
	switch rs[0] {
	case '#', '+', '-', '=':
		return 0
	}
	i := 0
	for i < len(rs) && i < 9 && rs[i] >= '0' && rs[i] <= '9' {
		i++
	}
	if i > 0 && i < len(rs) && (rs[i] == '.' || rs[i] == ')') && (i+1 == len(rs) || rs[i+1] == ' ') {
		return i
	}
	return -1
}

// mdPlainCode is what a code span may hold as it is: no backtick, pipe, space or other character
// that could end the span or the table cell.
var mdPlainCode = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@+=-]*$`)

// MarkdownCode renders a name from metadata (a namespace, an API group, a directory, an object
// reference) as a code span when it is made of plain characters only; anything else is rendered
// as MarkdownText, so it cannot break out of the span or the table cell.
func MarkdownCode(s string) string {
	if mdPlainCode.MatchString(s) {
		return "`" + s + "`"
	}
	return MarkdownText(s)
}
