package charts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKey(t *testing.T) {
	base := Ref{Type: TypeHelm, URL: "https://charts.example.com", Chart: "app", Version: "1.0.0"}
	require.Regexp(t, `^[0-9a-f]{64}$`, Key(base))
	require.Equal(t, Key(base)+".tgz", File(base))
	trailing := base
	trailing.URL += "/"
	require.Equal(t, Key(base), Key(trailing), "a trailing slash names the same repository")
	// Every field tells refs apart, and no value can shift into another field.
	variants := []Ref{
		{Type: TypeOCI, URL: base.URL, Chart: base.Chart, Version: base.Version},
		{Type: TypeHelm, URL: "https://charts.example.org", Chart: "app", Version: "1.0.0"},
		{Type: TypeHelm, URL: base.URL, Chart: "app2", Version: "1.0.0"},
		{Type: TypeHelm, URL: base.URL, Chart: "app", Version: "1.0.1"},
		{Type: TypeHelm, URL: base.URL, Chart: "app", Version: "1.0.0", Digest: "sha256:00"},
		{Type: TypeHelm, URL: base.URL, Chart: "app1", Version: ".0.0"},
		{Type: TypeHelm, URL: "../../etc", Chart: "../passwd", Version: "1.0.0"},
	}
	seen := map[string]bool{Key(base): true}
	for _, v := range variants {
		k := Key(v)
		require.False(t, seen[k], "%+v shares a key", v)
		seen[k] = true
		require.NotContains(t, File(v), "/")
	}
}

func TestCacheGetMissing(t *testing.T) {
	ref := Ref{Type: TypeHelm, URL: "https://charts.example.com", Chart: "app", Version: "1.0.0"}
	for name, dir := range map[string]string{"missing dir": filepath.Join(t.TempDir(), "nope"), "empty dir": t.TempDir(), "no cache": ""} {
		t.Run(name, func(t *testing.T) {
			_, err := Cache{Dir: dir}.Get(ref)
			require.ErrorIs(t, err, ErrNotCached)
			require.ErrorContains(t, err, ref.String())
			require.False(t, Cache{Dir: dir}.Has(ref))
		})
	}
}

func TestCachePutGet(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "polc", "charts")}
	ref := Ref{Type: TypeOCI, URL: "oci://ghcr.io/org/charts", Chart: "app", Version: "1.0.0"}
	require.NoError(t, c.Put(ref, []byte("v1")))
	got, err := c.Get(ref)
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), got)
	// Replacing is atomic: no temporary file is left behind, and the mode is 0644.
	require.NoError(t, c.Put(ref, []byte("v2")))
	got, err = c.Get(ref)
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), got)
	entries, err := os.ReadDir(c.Dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, File(ref), entries[0].Name())
	info, err := os.Stat(filepath.Join(c.Dir, File(ref)))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	dir, err := os.Stat(c.Dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), dir.Mode().Perm()&0o755)
}

func TestCacheRefuses(t *testing.T) {
	ref := Ref{Type: TypeHelm, URL: "https://charts.example.com", Chart: "app", Version: "1.0.0"}
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr string
	}{
		{name: "oversize file", wantErr: "more than the",
			setup: func(t *testing.T, path string) {
				require.NoError(t, os.WriteFile(path, nil, 0o644))
				require.NoError(t, os.Truncate(path, MaxChartSize+1))
			}},
		{name: "symlink", wantErr: "not a regular file",
			setup: func(t *testing.T, path string) {
				target := filepath.Join(t.TempDir(), "chart.tgz")
				require.NoError(t, os.WriteFile(target, []byte("x"), 0o644))
				require.NoError(t, os.Symlink(target, path))
			}},
		{name: "directory", wantErr: "not a regular file",
			setup: func(t *testing.T, path string) { require.NoError(t, os.Mkdir(path, 0o755)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Cache{Dir: t.TempDir()}
			tc.setup(t, filepath.Join(c.Dir, File(ref)))
			_, err := c.Get(ref)
			require.ErrorContains(t, err, tc.wantErr)
			require.False(t, errors.Is(err, ErrNotCached))
		})
	}
}

func TestCachePutOversize(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	ref := Ref{Type: TypeHelm, URL: "https://charts.example.com", Chart: "app", Version: "1.0.0"}
	err := c.Put(ref, make([]byte, MaxChartSize+1))
	require.ErrorContains(t, err, "more than the")
	entries, err := os.ReadDir(c.Dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}

// TestCachePutFailureLeavesNothing: a Put that cannot rename into place removes its temporary
// file and keeps the previous chart.
func TestCachePutFailureLeavesNothing(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	ref := Ref{Type: TypeHelm, URL: "https://charts.example.com", Chart: "app", Version: "1.0.0"}
	require.NoError(t, os.Mkdir(filepath.Join(c.Dir, File(ref)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(c.Dir, File(ref), "keep"), nil, 0o644))
	require.Error(t, c.Put(ref, []byte("data")))
	entries, err := os.ReadDir(c.Dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasSuffix(e.Name(), ".tmp"), "temporary file %s left behind", e.Name())
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/xdg-cache")
	dir, err := DefaultCacheDir()
	require.NoError(t, err)
	require.Equal(t, filepath.Join("/tmp/xdg-cache", "polc", "charts"), dir)
}
