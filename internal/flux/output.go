package flux

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// generated reports whether a file on disk was written by Generate.
func generated(data []byte) bool { return bytes.HasPrefix(data, []byte(Header)) }

// Diff compares the output with directory dir and returns the paths that differ: missing,
// changed, or generated earlier but no longer part of the output. Only the top level of dir is
// considered: the generator writes no subdirectories.
func (o *Output) Diff(dir string) ([]string, error) {
	want := map[string]bool{}
	var out []string
	for _, f := range o.Files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		if err != nil || !bytes.Equal(got, f.Data) {
			out = append(out, f.Path)
		}
	}
	stale, err := staleFiles(dir, want)
	if err != nil {
		return nil, err
	}
	out = append(out, stale...)
	sort.Strings(out)
	return out, nil
}

// Write writes the output to dir, creating it, and removes the files Generate wrote there before
// that are no longer part of the output (modules that left the set). Other files are left alone.
func (o *Output) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	want := map[string]bool{}
	for _, f := range o.Files {
		want[f.Path] = true
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	stale, err := staleFiles(dir, want)
	if err != nil {
		return err
	}
	for _, rel := range stale {
		if err := os.Remove(filepath.Join(dir, rel)); err != nil {
			return fmt.Errorf("remove stale %s: %w", rel, err)
		}
	}
	return nil
}

// staleFiles lists the generated files at the top level of dir that are not in want, sorted.
func staleFiles(dir string, want map[string]bool) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if want[e.Name()] || !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", e.Name(), err)
		}
		if generated(data) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
