package apitest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"polc.dev/polc/internal/report"
)

// Formats are the report formats of Write.
var Formats = []string{"text", "json", "junit"}

// Write writes results in format (text, json or junit).
func Write(w io.Writer, format string, results []Result) error {
	switch format {
	case "text":
		return writeText(w, results)
	case "json":
		return writeJSON(w, results)
	case "junit":
		return writeJUnit(w, results)
	}
	return fmt.Errorf("unknown format %q; formats: %s", format, strings.Join(Formats, ", "))
}

// lines are the problems of a result, one line each: errors, unserved kinds, rejections.
func lines(r Result) []string {
	var out []string
	out = append(out, r.Errors...)
	for _, p := range r.Unserved {
		out = append(out, p.String())
	}
	for _, p := range r.Rejected {
		out = append(out, p.String())
	}
	return out
}

func writeText(w io.Writer, results []Result) error {
	failed := 0
	for _, r := range results {
		status := "ok"
		if r.Failed() {
			status = "FAIL"
			failed++
		}
		fmt.Fprintf(w, "%-4s %s: %d applied, %d rejected, %d unserved (%.1fs; applied %s)\n", status, r.Module,
			r.Applied, len(r.Rejected), len(r.Unserved), r.Seconds, strings.Join(r.Modules, ", "))
		for _, l := range lines(r) {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	_, err := fmt.Fprintf(w, "%s tested, %d failed\n", report.Count(len(results), "module"), failed)
	return err
}

func writeJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"modules": results})
}

type junitSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Time     string     `xml:"time,attr"`
	Suite    junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes one test case per module, failing with its problems.
func writeJUnit(w io.Writer, results []Result) error {
	s := junitSuite{Name: "polc test", Tests: len(results)}
	total := 0.0
	for _, r := range results {
		total += r.Seconds
		c := junitCase{Classname: "polc test", Name: r.Module, Time: fmt.Sprintf("%.3f", r.Seconds),
			SystemOut: fmt.Sprintf("%d objects applied (modules %s)", r.Applied, strings.Join(r.Modules, ", "))}
		if r.Failed() {
			s.Failures++
			l := lines(r)
			c.Failure = &junitFailure{Message: fmt.Sprintf("%d problems: %s", len(l), l[0]), Text: strings.Join(l, "\n")}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Time = fmt.Sprintf("%.3f", total)
	doc := junitSuites{Name: "polc", Tests: s.Tests, Failures: s.Failures, Time: s.Time, Suite: s}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
