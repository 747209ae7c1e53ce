package flux

import (
	"bytes"

	"polc.dev/polc/internal/genfiles"
)

// Generated reports whether a file on disk was written by Generate (it starts with Header).
func Generated(_ string, data []byte) bool { return bytes.HasPrefix(data, []byte(Header)) }

// Diff compares the output with directory dir and returns the paths that differ: missing,
// changed, or generated earlier but no longer part of the output. A path where polc finds a
// symlink or a special file (which it never reads) is followed by the reason in parentheses.
func (o *Output) Diff(dir string) ([]string, error) {
	diff, err := genfiles.Diff(dir, o.Files, Generated)
	if err != nil {
		return nil, err
	}
	return genfiles.Paths(diff), nil
}

// Write writes the output to dir, creating it, and removes the files Generate wrote there before
// that are no longer part of the output (modules that left the set). Other files are left alone.
// It writes every file or none, and refuses symlinks and special files (see genfiles.Write).
func (o *Output) Write(dir string) error {
	_, err := genfiles.Write(dir, o.Files, Generated)
	return err
}
