// Package report writes findings in the formats users and CI systems read. Every format is one file
// behind the Formatter interface.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"polc.dev/polc/internal/rule"
)

// Formatter writes findings. Streaming formats print in Write; buffered ones (json, sarif, junit)
// collect and print in Flush. Findings arrive sorted, as the engine leaves them.
type Formatter interface {
	Write(f rule.Finding) error
	Flush(s Summary) error
}

// Summary counts what a run saw and found.
type Summary struct {
	Modules  int `json:"modules"`
	Objects  int `json:"objects"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Excepted int `json:"excepted"`
	// HelmReleases counts HelmReleases, whose rendered workloads only in-cluster policies see.
	HelmReleases int `json:"helmReleases"`
}

// Summarize counts the modules the run reported on, the objects it rendered and the findings by
// severity (excepted findings apart).
func Summarize(repo *rule.Repo, findings []rule.Finding) Summary {
	s := Summary{Modules: len(repo.Reported())}
	for _, objs := range repo.Objects {
		s.Objects += len(objs)
		for _, o := range objs {
			if o.Ref.Kind == "HelmRelease" {
				s.HelmReleases++
			}
		}
	}
	for _, f := range findings {
		switch {
		case f.Excepted:
			s.Excepted++
		case f.Severity == rule.Error:
			s.Errors++
		case f.Severity == rule.Warning:
			s.Warnings++
		}
	}
	return s
}

// Options carry what some formats need besides the findings.
type Options struct {
	// Rules is the registry, for rule metadata (SARIF, JUnit).
	Rules []rule.Rule
	// Version is polc's version, for tool metadata.
	Version string
	// FailOn is the lowest severity that fails the run (JUnit reports those findings as failures);
	// empty means error.
	FailOn rule.Severity
}

// constructors maps each format name to its constructor.
var constructors = map[string]func(w io.Writer, o Options) Formatter{
	"text":   newText,
	"json":   newJSON,
	"sarif":  newSARIF,
	"junit":  newJUnit,
	"github": newGitHub,
}

// Formats lists the format names, sorted.
func Formats() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the formatter for a format name, or an error listing the valid names.
func New(w io.Writer, format string, o Options) (Formatter, error) {
	c, ok := constructors[format]
	if !ok {
		return nil, fmt.Errorf("unknown format %q; valid formats: %s", format, strings.Join(Formats(), ", "))
	}
	return c(w, o), nil
}

// Write sends every finding to f, then flushes it with the summary.
func Write(f Formatter, findings []rule.Finding, s Summary) error {
	for _, fd := range findings {
		if err := f.Write(fd); err != nil {
			return err
		}
	}
	return f.Flush(s)
}
