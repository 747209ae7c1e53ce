package release

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"polc.dev/polc/internal/builtin"
)

// Entry is the release AddRelease writes into a changelog.
type Entry struct {
	// Version is the new version, Date its release date (YYYY-MM-DD).
	Version, Date string
	// Note is written as a bullet; empty means the Unreleased section's content, or Fallback.
	Note string
	// Fallback is the note written when there is neither Note nor Unreleased content.
	Fallback string
}

var (
	// level2 matches a heading of level two; level12 one of level one or two.
	level2  = regexp.MustCompile(`^##(?:[ \t]|$)`)
	level12 = regexp.MustCompile(`^##?(?:[ \t]|$)`)
	// unreleased matches the heading of keep-a-changelog's Unreleased section.
	unreleased = regexp.MustCompile(`(?i)^##[ \t]+(?:\[unreleased\]|unreleased(?:[ \t]|$))`)
	// versionHead matches a version heading as rule module/version reads it.
	versionHead = regexp.MustCompile(`^##[ \t]+\[?([^\]\s]+)\]?`)
	// dateRe finds the date of a heading.
	dateRe = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)
	// linkDef matches a Markdown link reference definition ("[1.2.0]: https://...").
	linkDef = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:[ \t]`)
)

// changelog is a CHANGELOG.md as lines that keep their line endings, so that every line AddRelease
// does not write stays byte for byte.
type changelog struct {
	lines []string
	eol   string
	// unreleased is the index of the Unreleased heading and unreleasedEnd of the line that ends
	// its section (-1 without one); firstVersion is the index of the first version heading (-1).
	unreleased, unreleasedEnd, firstVersion int
	// style is the heading of the first version (or of Unreleased) that new headings copy.
	style string
}

// parseChangelog splits data into lines and finds the headings that matter, outside fenced code
// blocks.
func parseChangelog(data []byte) *changelog {
	c := &changelog{eol: "\n", unreleased: -1, unreleasedEnd: -1, firstVersion: -1}
	if bytes.Contains(data, []byte("\r\n")) {
		c.eol = "\r\n"
	}
	if len(data) > 0 {
		c.lines = strings.SplitAfter(string(data), "\n")
		if c.lines[len(c.lines)-1] == "" {
			c.lines = c.lines[:len(c.lines)-1]
		}
	}
	fence := ""
	for i, raw := range c.lines {
		l := strings.TrimRight(raw, "\r\n")
		if t := strings.TrimLeft(l, " "); fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")) {
			fence = t[:3]
			continue
		} else if fence != "" {
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			continue
		}
		if c.unreleased >= 0 && c.unreleasedEnd < 0 && level12.MatchString(l) {
			c.unreleasedEnd = i
		}
		switch {
		case !level2.MatchString(l):
		case unreleased.MatchString(l) && c.unreleased < 0:
			c.unreleased = i
			if c.style == "" {
				c.style = l
			}
		case c.firstVersion < 0 && isVersionHeading(l):
			c.firstVersion = i
			c.style = l
		}
	}
	if c.unreleased >= 0 && c.unreleasedEnd < 0 {
		c.unreleasedEnd = len(c.lines)
	}
	return c
}

// isVersionHeading reports whether l is a heading rule module/version reads as a version.
func isVersionHeading(l string) bool {
	m := versionHead.FindStringSubmatch(l)
	return m != nil && builtin.IsSemver(m[1])
}

// heading returns the heading of version v released on date, in the style of the file's
// headings: brackets or not, a date after " - " or in parentheses, or none. A file without
// headings gets keep-a-changelog's `## [1.2.1] - 2026-11-30`.
func (c *changelog) heading(v, date string) string {
	s := c.style
	if s == "" {
		return "## [" + v + "] - " + date
	}
	out := "## " + v
	if strings.HasPrefix(strings.TrimLeft(s[2:], " \t"), "[") {
		out = "## [" + v + "]"
	}
	switch d := dateRe.FindString(s); {
	case c.firstVersion < 0:
		out += " - " + date // only an Unreleased heading: keep-a-changelog
	case d == "":
	case strings.Contains(s, "("+d+")"):
		out += " (" + date + ")"
	default:
		out += " - " + date
	}
	return out
}

// AddRelease returns changelog data with a level-two heading for e.Version above the newest
// release, in the style the file's headings use. Without a note, the content of the
// `## [Unreleased]` section moves under the new heading and the Unreleased heading stays, empty;
// with a note, the note comes first and the Unreleased content follows it (the release contains
// those changes). Link reference definitions at the end of the Unreleased section stay where they
// are. Headings inside fenced code blocks are ignored. New lines take the file's line ending; a
// note is escaped so that none of its lines starts a heading, a code fence or a rule.
func AddRelease(data []byte, e Entry) ([]byte, error) {
	if !builtin.IsSemver(e.Version) {
		return nil, fmt.Errorf("%q is not a semantic version", e.Version)
	}
	c := parseChangelog(data)
	var moved []string
	at := len(c.lines)
	switch {
	case c.unreleased >= 0:
		moved = c.takeUnreleased()
		at = c.unreleased + 1
	case c.firstVersion >= 0:
		at = c.firstVersion
	}
	var body []string
	if strings.TrimSpace(e.Note) != "" {
		body = noteLines(e.Note)
	}
	if len(body) > 0 && len(moved) > 0 {
		body = append(body, "")
	}
	body = append(body, trimLines(moved)...)
	if len(body) == 0 {
		body = noteLines(e.Fallback)
	}
	block := slices.Concat([]string{"", c.heading(e.Version, e.Date), ""}, body, []string{""})
	return c.insert(at, block), nil
}

// takeUnreleased removes the content of the Unreleased section (up to any link reference
// definitions that end it) and returns it as lines without endings, blank lines around trimmed.
func (c *changelog) takeUnreleased() []string {
	from, to := c.unreleased+1, c.unreleasedEnd
	for to > from && (strings.TrimSpace(c.lines[to-1]) == "" || linkDef.MatchString(c.lines[to-1])) {
		to--
	}
	var out []string
	for _, l := range c.lines[from:to] {
		out = append(out, strings.TrimRight(l, "\r\n"))
	}
	c.lines = slices.Delete(c.lines, from, to)
	c.unreleasedEnd -= to - from
	return out
}

// trimLines drops the blank lines at both ends of lines.
func trimLines(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// insert puts block (lines without endings, blank first and last) at line index at and returns
// the file. Blank lines of block next to blank lines of the file, or at the file's start or end,
// are dropped, so that sections stay one blank line apart.
func (c *changelog) insert(at int, block []string) []byte {
	blankAt := func(i int) bool { return i < 0 || i >= len(c.lines) || strings.TrimSpace(c.lines[i]) == "" }
	if blankAt(at - 1) {
		block = block[1:]
	}
	if blankAt(at) && len(block) > 0 && block[len(block)-1] == "" {
		block = block[:len(block)-1]
	}
	var b strings.Builder
	for i, l := range c.lines[:at] {
		if i == at-1 && !strings.HasSuffix(l, "\n") {
			l += c.eol // the file's last line had no line ending
		}
		b.WriteString(l)
	}
	for _, l := range block {
		b.WriteString(l + c.eol)
	}
	for _, l := range c.lines[at:] {
		b.WriteString(l)
	}
	return []byte(b.String())
}

// noteLines writes a note as a Markdown bullet: the first line after "- " (a leading "- " or
// "* " of the note is not doubled), the others indented by two spaces so that they stay in the
// item. Line breaks of any kind are kept as lines, other control characters become spaces, and
// a line that Markdown would read as a heading, a fence, a rule or a setext underline is escaped
// with a backslash, so no note can add a version heading to the changelog.
func noteLines(note string) []string {
	note = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(note)
	note = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029) {
			return ' '
		}
		return r
	}, strings.TrimSpace(note))
	lines := strings.Split(note, "\n")
	for _, p := range []string{"- ", "* "} {
		lines[0] = strings.TrimPrefix(lines[0], p)
	}
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		l = escapeBlock(strings.TrimRight(l, " \t"))
		switch {
		case i == 0:
			out = append(out, "- "+strings.TrimLeft(l, " \t"))
		case l == "":
			out = append(out, "")
		default:
			out = append(out, "  "+l)
		}
	}
	return out
}

// blockStart matches what a Markdown line may start with to open a block that is not a
// paragraph's text: a heading, a fence, a rule or setext underline, an HTML block.
var blockStart = regexp.MustCompile(`^(?:#|` + "```" + `|~~~|[-=*_ \t]+$|<)`)

// escapeBlock escapes the first character of a line that would open a heading, a fence, a rule
// or an HTML block, keeping its indentation.
func escapeBlock(l string) string {
	t := strings.TrimLeft(l, " \t")
	if t == "" || !blockStart.MatchString(t) {
		return l
	}
	return l[:len(l)-len(t)] + `\` + t
}
