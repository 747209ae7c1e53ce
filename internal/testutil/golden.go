// Package testutil holds test helpers shared by polc's packages.
package testutil

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files instead of comparing")

// Golden compares got with the golden file at path, or rewrites the file when -update is set.
func Golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing; run the test with -update")
	require.Equal(t, string(want), string(got), "output differs from %s; run with -update and review the diff", path)
}

// Updating reports whether -update was given.
func Updating() bool { return *update }
