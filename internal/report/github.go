package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"polc.dev/polc/internal/rule"
)

// github prints GitHub Actions workflow commands, one per finding, which the runner turns into
// annotations on the pull request: ::error for errors, ::warning for warnings and ::notice for
// excepted findings, so that exceptions stay visible without failing anything. Baselined findings
// are not annotated at all: they are the backlog the baseline accepts, annotating them on every
// pull request is the noise a baseline exists to remove, and the runner shows only the first
// notices of a step, which they would crowd out. A plain summary line follows (it counts the
// baselined findings), which the runner prints as log output. Each free-text field goes through
// escapeText first (escape sequences, other controls and bidi overrides cannot reach the log or
// the annotation), then through the workflow command escaping, which keeps every command on one
// line.
type github struct{ w io.Writer }

var _ Formatter = (*github)(nil)

func newGitHub(w io.Writer, _ Options) Formatter { return &github{w: w} }

func (g *github) Write(f Finding) error {
	if f.Baselined {
		return nil
	}
	clean := func(s string) string { return escapeText(s, true) }
	cmd, title, msg := "error", clean(f.Rule), clean(f.Message)
	switch {
	case f.Excepted:
		cmd, title = "notice", title+" (excepted)"
		msg += "\nexcepted: " + clean(f.Reason)
	case f.Severity == rule.Warning:
		cmd = "warning"
	}
	if !f.Excepted && f.Hint != "" {
		msg += "\nhint: " + clean(f.Hint)
	}
	var props []string
	if f.Pos.File != "" {
		props = append(props, "file="+escapeProperty(clean(f.Pos.File)))
		if f.Pos.Line > 0 {
			props = append(props, "line="+strconv.Itoa(f.Pos.Line))
			if f.Pos.Column > 0 {
				props = append(props, "col="+strconv.Itoa(f.Pos.Column))
			}
		}
	}
	props = append(props, "title="+escapeProperty(title))
	_, err := fmt.Fprintf(g.w, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(msg))
	return err
}

func (g *github) Flush(s Summary) error {
	_, err := fmt.Fprintln(g.w, summaryLine(s))
	return err
}

// escapeData escapes a workflow command's message as the Actions toolkit does (command.ts
// escapeData): '%' first, then carriage returns and line feeds, which would end the command.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// escapeProperty escapes a property value (file, title) as the Actions toolkit does (command.ts
// escapeProperty): like escapeData, plus ':' and ',', which separate the properties.
func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
