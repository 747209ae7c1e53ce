package charts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxChartSize caps a packaged chart, in the cache and on the wire (20 MiB; Helm's own archive
// loader refuses larger charts too).
const MaxChartSize = 20 << 20

// ErrNotCached means the cache holds no chart for a ref.
var ErrNotCached = errors.New("chart not cached")

// Cache is the on-disk chart cache: one packaged chart (.tgz) per Ref, named by a hash of the
// Ref so that no value read from a repository shapes a path.
type Cache struct {
	// Dir is the cache directory; see DefaultCacheDir.
	Dir string
}

// DefaultCacheDir returns polc's chart cache in the user's cache directory:
// $XDG_CACHE_HOME/polc/charts on Linux.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the chart cache: %w", err)
	}
	return filepath.Join(dir, "polc", "charts"), nil
}

// Key returns the cache key of ref: the hex sha256 of its type, URL (without trailing
// slashes), chart, version and, when set, digest.
func Key(ref Ref) string {
	parts := []string{ref.Type, strings.TrimRight(ref.URL, "/"), ref.Chart, ref.Version}
	if ref.Digest != "" {
		parts = append(parts, ref.Digest)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// File returns the name of ref's chart inside the cache directory.
func File(ref Ref) string { return Key(ref) + ".tgz" }

// Get returns the packaged chart of ref, or an error wrapping ErrNotCached (also when Dir is
// empty: no cache). Only a regular file of at most MaxChartSize bytes is read; anything else in
// its place is an error.
func (c Cache) Get(ref Ref) ([]byte, error) {
	name := File(ref)
	if c.Dir == "" {
		return nil, fmt.Errorf("%s: %w (no chart cache)", ref, ErrNotCached)
	}
	root, err := os.OpenRoot(c.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (cache %s)", ref, ErrNotCached, c.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open chart cache: %w", err)
	}
	defer root.Close()
	info, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (cache %s)", ref, ErrNotCached, c.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read cached chart %s: %w", ref, err)
	}
	if err := checkFile(info); err != nil {
		return nil, fmt.Errorf("read cached chart %s: %s: %w", ref, filepath.Join(c.Dir, name), err)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read cached chart %s: %w", ref, err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil || checkFile(info) != nil {
		return nil, fmt.Errorf("read cached chart %s: %s changed while opening", ref, filepath.Join(c.Dir, name))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxChartSize+1))
	if err != nil {
		return nil, fmt.Errorf("read cached chart %s: %w", ref, err)
	}
	if len(data) > MaxChartSize {
		return nil, fmt.Errorf("read cached chart %s: larger than %d bytes", ref, MaxChartSize)
	}
	return data, nil
}

// checkFile refuses anything but a regular file within the size cap.
func checkFile(info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", info.Mode().Type())
	}
	if info.Size() > MaxChartSize {
		return fmt.Errorf("%d bytes, more than the %d allowed", info.Size(), MaxChartSize)
	}
	return nil
}

// Has reports whether the cache holds a readable chart for ref.
func (c Cache) Has(ref Ref) bool {
	_, err := c.Get(ref)
	return err == nil
}

// Put stores the packaged chart of ref, atomically: it is written to a temporary file in the
// cache directory (created 0755 when missing) and renamed into place, mode 0644.
func (c Cache) Put(ref Ref, data []byte) (err error) {
	if len(data) > MaxChartSize {
		return fmt.Errorf("cache chart %s: %d bytes, more than the %d allowed", ref, len(data), MaxChartSize)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("create chart cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.Dir, ".pull-*.tmp")
	if err != nil {
		return fmt.Errorf("cache chart %s: %w", ref, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("cache chart %s: %w", ref, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("cache chart %s: %w", ref, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("cache chart %s: %w", ref, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("cache chart %s: %w", ref, err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(c.Dir, File(ref))); err != nil {
		return fmt.Errorf("cache chart %s: %w", ref, err)
	}
	return nil
}
