package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"

	"polc.dev/polc/internal/rule"
)

// junitSuiteName names the single test suite; CI systems show it as the group of polc's results.
const junitSuiteName = "polc"

// junitRepository is the classname of findings that belong to no module.
const junitRepository = "repository"

// The JUnit XML shape below is the common subset that Jenkins, GitLab and the GitHub test
// reporters read: <testsuites> around one <testsuite> with tests/failures/errors/skipped counts,
// one <testcase> per finding with a <failure> or <skipped> child, or <system-out> for a finding
// that does not fail the run. GitLab shows a case's classname as its suite, its name and its file
// attribute, and the text of <failure> and <skipped>; Jenkins shows the failure message and text,
// and a case's <system-out> as its standard output, passing or not. The line attribute is an
// extension that several reporters use for annotations and the others ignore.

type junitSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []junitSet `xml:"testsuite"`
}

type junitSet struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Cases     []junitCase `xml:"testcase"`
	SystemOut string      `xml:"system-out,omitempty"`
}

// junitCase is one finding. Field order is the order of the XML schema: the result element, then
// system-out.
type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
	// message orders test cases that would otherwise share a name; it is not written.
	message string
}

type junitFailure struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// junit collects one test case per finding and writes the report in Flush. Durations are always
// zero: polc measures nothing per finding, and real timings would make the output differ between
// runs.
//
// A test case fails only when its finding fails the run: not excepted, not baselined, and at or
// above failOn, the --fail-on level. Any other finding (a warning, by default) is a passing test
// case that carries the finding in its <system-out>, so that the report and the exit code agree;
// an excepted or baselined finding is a skipped test case.
type junit struct {
	w      io.Writer
	failOn rule.Severity
	cases  []junitCase
}

var _ Formatter = (*junit)(nil)

func newJUnit(w io.Writer, o Options) Formatter {
	if o.FailOn == "" {
		o.FailOn = rule.Error
	}
	return newJUnitFailOn(w, o.FailOn)
}

// newJUnitFailOn returns a JUnit formatter whose failures are the findings at or above failOn;
// an empty failOn means rule.Error, polc check's default.
func newJUnitFailOn(w io.Writer, failOn rule.Severity) *junit {
	if failOn == "" {
		failOn = rule.Error
	}
	return &junit{w: w, failOn: failOn}
}

func (j *junit) Write(f Finding) error {
	c := junitCase{Classname: f.Module, Name: junitCaseName(f.Finding), File: f.Pos.File, Line: f.Pos.Line, Time: "0", message: f.Message}
	if c.Classname == "" {
		c.Classname = junitRepository
	}
	body := junitText(f.Finding)
	switch {
	case f.Excepted:
		c.Skipped = &junitSkipped{Message: "excepted: " + f.Reason, Text: body + "\nexcepted: " + f.Reason}
	case f.Baselined:
		c.Skipped = &junitSkipped{Message: "baselined: " + string(f.Severity) + " recorded in the baseline", Text: withHint(body, f.Hint) + "\nbaselined"}
	case f.Severity.Rank() >= j.failOn.Rank():
		c.Failure = &junitFailure{Type: string(f.Severity), Message: f.Message, Text: withHint(body, f.Hint)}
	default:
		c.SystemOut = string(f.Severity) + ": " + withHint(body, f.Hint)
	}
	j.cases = append(j.cases, c)
	return nil
}

func (j *junit) Flush(s Summary) error {
	cases := j.cases
	if len(cases) == 0 {
		// An empty suite reads as "no tests ran" in several CI systems; one passing case shows
		// that the check ran and found nothing.
		cases = []junitCase{{Classname: junitRepository, Name: "polc check", Time: "0"}}
	}
	uniqueNames(cases)
	set := junitSet{Name: junitSuiteName, Tests: len(cases), Time: "0", Cases: cases, SystemOut: summaryLine(s)}
	for _, c := range cases {
		switch {
		case c.Failure != nil:
			set.Failures++
		case c.Skipped != nil:
			set.Skipped++
		}
	}
	doc := junitSuites{Name: junitSuiteName, Tests: set.Tests, Failures: set.Failures, Skipped: set.Skipped, Time: "0", Suites: []junitSet{set}}
	if _, err := io.WriteString(j.w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(j.w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	_, err := io.WriteString(j.w, "\n")
	return err
}

// junitText is a finding's position and message, the body of its test case.
func junitText(f rule.Finding) string {
	if loc := position(f.Pos); loc != "" {
		return loc + ": " + f.Message
	}
	return f.Message
}

// withHint appends the fix hint, when there is one, on a line of its own.
func withHint(body, hint string) string {
	if hint == "" {
		return body
	}
	return body + "\nhint: " + hint
}

// junitCaseName names a test case after what the finding is about, never after where it is
// written: the rule, then the object (Kind namespace/name) or, for findings about no object, the
// file, then the offending field. Line numbers stay out, so that a case keeps its name (and its
// history in the CI system) when unrelated lines move; the file and line attributes and the
// body say where to look.
func junitCaseName(f rule.Finding) string {
	parts := []string{f.Rule}
	switch {
	case f.Object != nil:
		obj := f.Object.Name
		if f.Object.Namespace != "" {
			obj = f.Object.Namespace + "/" + obj
		}
		parts = append(parts, f.Object.Kind, obj)
	case f.Pos.File != "":
		parts = append(parts, f.Pos.File)
	}
	if f.Field != "" {
		parts = append(parts, f.Field)
	}
	return strings.Join(parts, " ")
}

// uniqueNames gives every test case a name of its own within its classname: GitLab keeps only the
// first of several cases with the same name. Cases that would share a name (one rule reporting
// the same field of the same object twice) get " #2", " #3", … in the order of their messages,
// not of their lines, so that moving lines renames nothing.
func uniqueNames(cases []junitCase) {
	groups := map[string][]int{}
	var keys []string
	for i, c := range cases {
		k := c.Classname + "\x00" + c.Name
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range keys {
		idx := groups[k]
		if len(idx) < 2 {
			continue
		}
		sort.SliceStable(idx, func(a, b int) bool { return cases[idx[a]].message < cases[idx[b]].message })
		for n, i := range idx[1:] {
			cases[i].Name += fmt.Sprintf(" #%d", n+2)
		}
	}
}

// position renders file, file:line or file:line:col, leaving out what is unknown (zero).
func position(p rule.Pos) string {
	switch {
	case p.File == "" || p.Line <= 0:
		return p.File
	case p.Column > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}
