package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNewModule scaffolds one module of each kind into an empty repository; the result passes
// polc check, and polc new refuses to overwrite.
func TestNewModule(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "modules"), 0o755))
	for _, args := range [][]string{
		{"photos", "--type", "application"},
		{"dns-core", "--type", "infrastructure"},
		{"dns-extra", "--type", "infrastructure", "--tier", "extra"},
		{"audit", "--type", "component"},
	} {
		res := Polc(t, dir, append([]string{"new", "module"}, args...)...)
		require.Equal(t, 0, res.Code, res.Stderr)
		require.Contains(t, res.Stdout, "created modules/")
	}
	res := Polc(t, dir, "check", "--fail-on", "warning")
	require.Equal(t, 0, res.Code, res.Stdout)
	require.Contains(t, res.Stdout, "0 errors, 0 warnings")

	before := snapshot(t, dir)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{name: "exists", args: []string{"photos", "--type", "application"}, msg: "already exists"},
		{name: "extra without core", args: []string{"mail-extra", "--type", "infrastructure"}, msg: "needs its core module mail-core"},
		{name: "tier on application", args: []string{"blog", "--type", "application", "--tier", "core"}, msg: "infrastructure modules only"},
		{name: "bad name", args: []string{"Blog_1", "--type", "application"}, msg: "DNS-1123"},
		{name: "bad type", args: []string{"blog", "--type", "app"}, msg: "allowed values"},
		{name: "infra without suffix", args: []string{"dns", "--type", "infrastructure"}, msg: "-core or -extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Polc(t, dir, append([]string{"new", "module"}, tc.args...)...)
			require.Equal(t, 2, res.Code)
			require.Contains(t, res.Stderr, tc.msg)
		})
	}
	require.Equal(t, before, snapshot(t, dir), "a refused polc new wrote files")
}
