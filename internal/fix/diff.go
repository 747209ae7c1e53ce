package fix

import (
	"fmt"
	"io"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// Diff writes a unified diff of every change, in path order, with a/<path> and b/<path> headers
// (/dev/null for a created file), as `git apply` and `patch -p1` read them.
func Diff(w io.Writer, changes []Change) error {
	for _, c := range changes {
		from := "a/" + c.Path
		if c.Create {
			from = "/dev/null"
		}
		text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A:        splitLines(c.Old),
			B:        splitLines(c.New),
			FromFile: from,
			ToFile:   "b/" + c.Path,
			Context:  3,
		})
		if err != nil {
			return fmt.Errorf("diff %s: %w", c.Path, err)
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
	}
	return nil
}

// splitLines splits data into lines that keep their line ending; a last line without one gets
// diff's marker, so that the diff still applies.
func splitLines(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	if last := lines[len(lines)-1]; last == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] = last + "\n\\ No newline at end of file\n"
	}
	return lines
}
