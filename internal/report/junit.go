package report

import (
	"encoding/xml"
	"fmt"
	"io"

	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
)

// junitSuiteName names the single test suite; CI systems show it as the group of polc's results.
const junitSuiteName = "polc"

// junitRepository is the classname of findings that belong to no module.
const junitRepository = "repository"

// The JUnit XML shape below is the common subset that Jenkins, GitLab and the GitHub test
// reporters read: <testsuites> around one <testsuite> with tests/failures/errors/skipped counts,
// one <testcase> per finding with a <failure> or <skipped> child. The file and line attributes
// are an extension that several reporters use for annotations and the others ignore.

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

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

type junitFailure struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// junit collects one test case per finding and writes the report in Flush. Durations are always
// zero: polc measures nothing per finding, and real timings would make the output differ between
// runs.
type junit struct {
	w     io.Writer
	cases []junitCase
}

var _ Formatter = (*junit)(nil)

func newJUnit(w io.Writer, _ Options) Formatter { return &junit{w: w} }

func (j *junit) Write(f rule.Finding) error {
	c := junitCase{Classname: f.Module, Name: junitCaseName(f), File: f.Pos.File, Line: f.Pos.Line, Time: "0"}
	if c.Classname == "" {
		c.Classname = junitRepository
	}
	if f.Excepted {
		c.Skipped = &junitSkipped{Message: "excepted: " + f.Reason}
	} else {
		text := f.Message
		if loc := position(f.Pos, true); loc != "" {
			text = loc + ": " + text
		}
		if f.Hint != "" {
			text += "\nhint: " + f.Hint
		}
		c.Failure = &junitFailure{Type: string(f.Severity), Message: f.Message, Text: text}
	}
	j.cases = append(j.cases, c)
	return nil
}

func (j *junit) Flush(s check.Summary) error {
	cases := j.cases
	if len(cases) == 0 {
		// An empty suite reads as "no tests ran" in several CI systems; one passing case shows
		// that the check ran and found nothing.
		cases = []junitCase{{Classname: junitRepository, Name: "polc check", Time: "0"}}
	}
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

// junitCaseName names a test case after the rule and what it is about: the object and where it
// is written, or just the position for findings about files.
func junitCaseName(f rule.Finding) string {
	loc := position(f.Pos, false)
	name := f.Rule
	if f.Object != nil {
		obj := f.Object.Kind + " " + f.Object.Name
		if f.Object.Namespace != "" {
			obj = f.Object.Kind + " " + f.Object.Namespace + "/" + f.Object.Name
		}
		name += " " + obj
		if loc != "" {
			name += " (" + loc + ")"
		}
		return name
	}
	if loc != "" {
		name += " " + loc
	}
	return name
}

// position renders file, file:line or file:line:col, leaving out what is unknown (zero); the
// column only when withColumn is set.
func position(p rule.Pos, withColumn bool) string {
	switch {
	case p.File == "" || p.Line <= 0:
		return p.File
	case withColumn && p.Column > 0:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}
