package report

import (
	"fmt"
	"io"
	"strings"

	"polc.dev/polc/internal/rule"
)

// text prints one line per finding, path:line:col: severity rule-id: message [module], with the
// fix hint (or the exception's reason) indented below it, then a summary line. Every free-text
// field is printed through oneLine, so a finding is always those two lines, whatever its text.
type text struct{ w io.Writer }

var _ Formatter = (*text)(nil)

func newText(w io.Writer, _ Options) Formatter { return &text{w: w} }

func (t *text) Write(f rule.Finding) error {
	sev := string(f.Severity)
	if f.Excepted {
		sev = "excepted"
	}
	file := oneLine(f.Pos.File)
	loc := file
	if f.Pos.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", file, f.Pos.Line, max(f.Pos.Column, 1))
	}
	mod := ""
	if f.Module != "" {
		mod = " [" + oneLine(f.Module) + "]"
	}
	if _, err := fmt.Fprintf(t.w, "%s: %s %s: %s%s\n", loc, sev, oneLine(f.Rule), oneLine(f.Message), mod); err != nil {
		return err
	}
	if f.Excepted {
		_, err := fmt.Fprintf(t.w, "    excepted: %s\n", oneLine(f.Reason))
		return err
	}
	if f.Hint != "" {
		_, err := fmt.Fprintf(t.w, "    hint: %s\n", oneLine(f.Hint))
		return err
	}
	return nil
}

func (t *text) Flush(s Summary) error {
	_, err := fmt.Fprintln(t.w, summaryLine(s))
	return err
}

// summaryLine is the one-line summary that ends the text and github reports and that the JUnit
// report carries as its suite output.
func summaryLine(s Summary) string {
	line := fmt.Sprintf("%s, %s: %s, %s, %d excepted", Count(s.Modules, "module"), Count(s.Objects, "object"),
		Count(s.Errors, "error"), Count(s.Warnings, "warning"), s.Excepted)
	if gaps := unrenderedKinds(s.Coverage); gaps != "" {
		line += "; not rendered, so checked only in the cluster: " + gaps + " (coverage/unrendered)"
	}
	return line
}

// Count is n and noun, in the plural unless n is 1: "1 error", "0 errors", "2 policies".
func Count(n int, noun string) string {
	switch {
	case n == 1:
	case strings.HasSuffix(noun, "y"):
		noun = strings.TrimSuffix(noun, "y") + "ies"
	default:
		noun += "s"
	}
	return fmt.Sprintf("%d %s", n, noun)
}

// unrenderedKinds counts what was not rendered by kind: "2 HelmReleases, 1 Flux Kustomization
// path"; "" when everything was.
func unrenderedKinds(c Coverage) string {
	n := map[string]int{}
	for _, u := range c.NotRendered {
		n[u.Kind]++
	}
	var parts []string
	if n[string(rule.GapHelmRelease)] > 0 {
		parts = append(parts, Count(n[string(rule.GapHelmRelease)], "HelmRelease"))
	}
	if n[string(rule.GapFluxKustomization)] > 0 {
		parts = append(parts, Count(n[string(rule.GapFluxKustomization)], "Flux Kustomization path"))
	}
	return strings.Join(parts, ", ")
}
