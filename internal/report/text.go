package report

import (
	"fmt"
	"io"
	"strings"

	"polc.dev/polc/internal/manifest"
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
	file := OneLine(f.Pos.File)
	loc := file
	if f.Pos.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", file, f.Pos.Line, max(f.Pos.Column, 1))
	}
	mod := ""
	if f.Module != "" {
		mod = " [" + OneLine(f.Module) + "]"
	}
	if _, err := fmt.Fprintf(t.w, "%s: %s %s: %s%s\n", loc, sev, OneLine(f.Rule), OneLine(f.Message), mod); err != nil {
		return err
	}
	if f.Excepted {
		_, err := fmt.Fprintf(t.w, "    excepted: %s\n", OneLine(f.Reason))
		return err
	}
	if f.Hint != "" {
		_, err := fmt.Fprintf(t.w, "    hint: %s\n", OneLine(f.Hint))
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
	line := fmt.Sprintf("%s, %s%s: %s, %s, %d excepted", Count(s.Modules, "module"), Count(s.Objects, "object"), origins(s.Coverage),
		Count(s.Errors, "error"), Count(s.Warnings, "warning"), s.Excepted)
	if gaps := unrenderedKinds(s.Coverage); gaps != "" {
		line += "; not rendered, so checked only in the cluster: " + gaps + " (coverage/unrendered)"
	}
	return line
}

// origins says how many objects came through Flux Kustomizations and Helm charts, when any did:
// " (9 from 2 Flux Kustomizations, 40 from 1 HelmRelease)".
func origins(c Coverage) string {
	var parts []string
	if n := c.Objects[string(manifest.FromFluxKustomization)]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d from %s", n, Count(c.FluxKustomizations, "Flux Kustomization")))
	}
	if n := c.Objects[string(manifest.FromHelm)]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d from %s", n, Count(c.HelmReleases, "HelmRelease")))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
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
