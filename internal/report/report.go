// Package report writes findings in the formats users and CI systems read. Every format is one file
// behind the Formatter interface.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
)

// Formatter writes findings. Streaming formats print in Write; buffered ones (json, sarif, junit)
// collect and print in Flush. Findings arrive sorted (check.Sort).
type Formatter interface {
	Write(f rule.Finding) error
	Flush(s check.Summary) error
}

// Options carry what some formats need besides the findings.
type Options struct {
	// Rules is the registry, for rule metadata (SARIF, JUnit).
	Rules []rule.Rule
	// Version is polc's version, for tool metadata.
	Version string
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
func Write(f Formatter, findings []rule.Finding, s check.Summary) error {
	for _, fd := range findings {
		if err := f.Write(fd); err != nil {
			return err
		}
	}
	return f.Flush(s)
}
