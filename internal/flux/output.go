package flux

import (
	"bytes"
	"polc.dev/polc/internal/genfiles"
)

// generated reports whether a file on disk was written by Generate.
func generated(data []byte) bool { return bytes.HasPrefix(data, []byte(Header)) }

// Diff compares the output with directory dir and returns the paths that differ: missing,
// changed, or generated earlier but no longer part of the output.
func (o *Output) Diff(dir string) ([]string, error) { return genfiles.Diff(dir, o.Files, generated) }

// Write writes the output to dir, creating it, and removes the files Generate wrote there before
// that are no longer part of the output (modules that left the set). Other files are left alone.
func (o *Output) Write(dir string) error { return genfiles.Write(dir, o.Files, generated) }
