package report

import (
	"encoding/json"
	"io"

	"polc.dev/polc/internal/rule"
)

// JSONVersion is the version of the JSON report shape; it changes only when the shape breaks.
const JSONVersion = 1

// JSONReport is the stable, versioned JSON shape.
type JSONReport struct {
	Version  int           `json:"version"`
	Summary  JSONSummary   `json:"summary"`
	Findings []JSONFinding `json:"findings"`
}

// JSONSummary counts what a run saw and found.
type JSONSummary struct {
	Modules  int `json:"modules"`
	Objects  int `json:"objects"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Excepted int `json:"excepted"`
	// Baselined counts the findings the baseline holds (added in version 1, absent when none).
	Baselined int `json:"baselined,omitempty"`
	// Coverage says what was rendered and what only the cluster checks (added in version 1).
	Coverage Coverage `json:"coverage"`
}

// JSONFinding is one finding; file is relative to the repository root.
type JSONFinding struct {
	Rule     string          `json:"rule"`
	Severity string          `json:"severity"`
	Module   string          `json:"module,omitempty"`
	File     string          `json:"file"`
	Line     int             `json:"line,omitempty"`
	Column   int             `json:"column,omitempty"`
	Object   *rule.ObjectRef `json:"object,omitempty"`
	Field    string          `json:"field,omitempty"`
	Message  string          `json:"message"`
	Hint     string          `json:"hint,omitempty"`
	Excepted bool            `json:"excepted"`
	Reason   string          `json:"reason,omitempty"`
	// Baselined is true when the baseline holds the finding, which then does not fail the run
	// (added in version 1, absent when false).
	Baselined bool `json:"baselined,omitempty"`
}

type jsonFormatter struct {
	w        io.Writer
	findings []JSONFinding
}

var _ Formatter = (*jsonFormatter)(nil)

func newJSON(w io.Writer, _ Options) Formatter {
	return &jsonFormatter{w: w, findings: []JSONFinding{}}
}

func (j *jsonFormatter) Write(f Finding) error {
	j.findings = append(j.findings, JSONFinding{Rule: f.Rule, Severity: string(f.Severity), Module: f.Module,
		File: f.Pos.File, Line: f.Pos.Line, Column: f.Pos.Column, Object: f.Object, Field: f.Field,
		Message: f.Message, Hint: f.Hint, Excepted: f.Excepted, Reason: f.Reason, Baselined: f.Baselined})
	return nil
}

func (j *jsonFormatter) Flush(s Summary) error {
	enc := json.NewEncoder(j.w)
	enc.SetIndent("", "  ")
	c := s.Coverage
	if c.Objects == nil {
		c.Objects = map[string]int{}
	}
	if c.NotRendered == nil {
		c.NotRendered = []Unrendered{}
	}
	return enc.Encode(JSONReport{Version: JSONVersion, Summary: JSONSummary{Modules: s.Modules, Objects: s.Objects,
		Errors: s.Errors, Warnings: s.Warnings, Excepted: s.Excepted, Baselined: s.Baselined, Coverage: c}, Findings: j.findings})
}
