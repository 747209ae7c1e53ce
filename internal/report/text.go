package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
)

// text prints one line per finding, path:line:col: severity rule-id: message [module], with the
// fix hint (or the exception's reason) indented below it, then a summary line and, when there
// were findings, a table of counts per rule. A baselined finding ends with " (baselined)". Every
// free-text field is printed through oneLine, so a finding is always those two lines, whatever
// its text.
type text struct {
	w io.Writer
	// rules counts the findings written so far per rule ID, for the table, as the summary counts
	// them (Errors and Warnings leave out excepted and baselined findings).
	rules map[string]*Summary
}

var _ Formatter = (*text)(nil)

func newText(w io.Writer, _ Options) Formatter { return &text{w: w, rules: map[string]*Summary{}} }

func (t *text) Write(f Finding) error {
	t.count(f)
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
	if f.Baselined {
		mod += " (baselined)"
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
	if _, err := fmt.Fprintln(t.w, summaryLine(s)); err != nil {
		return err
	}
	return t.table()
}

// count adds f to its rule's row of the table.
func (t *text) count(f Finding) {
	c := t.rules[f.Rule]
	if c == nil {
		c = &Summary{}
		t.rules[f.Rule] = c
	}
	c.add(f)
}

// table prints the findings per rule, sorted by rule ID, under a header; nothing when there were
// no findings. The rule column is as wide as the longest ID, the counts align right under their
// headers:
//
//	rule                   errors  warnings  excepted  baselined
//	labels/module               1         0         0          3
func (t *text) table() error {
	if len(t.rules) == 0 {
		return nil
	}
	ids := make([]string, 0, len(t.rules))
	width := len("rule")
	for id := range t.rules {
		ids = append(ids, id)
		width = max(width, len(OneLine(id)))
	}
	sort.Strings(ids)
	if _, err := fmt.Fprintf(t.w, "%-*s  errors  warnings  excepted  baselined\n", width, "rule"); err != nil {
		return err
	}
	for _, id := range ids {
		c := t.rules[id]
		if _, err := fmt.Fprintf(t.w, "%-*s  %6d  %8d  %8d  %9d\n", width, OneLine(id), c.Errors, c.Warnings, c.Excepted, c.Baselined); err != nil {
			return err
		}
	}
	return nil
}

// summaryLine is the one-line summary that ends the text and github reports and that the JUnit
// report carries as its suite output.
func summaryLine(s Summary) string {
	line := fmt.Sprintf("%s, %s%s: %s, %s, %d excepted", Count(s.Modules, "module"), Count(s.Objects, "object"), origins(s.Coverage),
		Count(s.Errors, "error"), Count(s.Warnings, "warning"), s.Excepted)
	if s.Baselined > 0 {
		line += fmt.Sprintf(", %d baselined", s.Baselined)
	}
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
