// Package genfiles writes and compares directories of generated files (the policy pack, the Flux
// cluster entry point): files that a generator marks with a header it recognises, next to files a
// user may have added, which are never touched.
package genfiles

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// File is one generated file; Path is slash-separated, relative to the output directory.
type File struct {
	Path string
	Data []byte
}

// Generated reports whether file contents on disk were written by the generator.
type Generated func(data []byte) bool

// Diff compares files with directory dir and returns the paths that differ, sorted: missing,
// changed, or generated earlier but no longer part of files.
func Diff(dir string, files []File, generated Generated) ([]string, error) {
	want := map[string]bool{}
	var out []string
	for _, f := range files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		if err != nil || !bytes.Equal(got, f.Data) {
			out = append(out, f.Path)
		}
	}
	stale, err := staleFiles(dir, want, generated)
	if err != nil {
		return nil, err
	}
	out = append(out, stale...)
	sort.Strings(out)
	return out, nil
}

// Write writes files to dir (unchanged files are not rewritten), removes the generated files that
// are no longer part of files and the directories they leave empty. Other files are left alone.
func Write(dir string, files []File, generated Generated) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Data) {
			continue
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	stale, err := staleFiles(dir, want, generated)
	if err != nil {
		return err
	}
	for _, rel := range stale {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return fmt.Errorf("remove stale %s: %w", rel, err)
		}
	}
	return removeEmptyDirs(dir)
}

// staleFiles lists the generated files under dir that are not in want.
func staleFiles(dir string, want map[string]bool, generated Generated) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if want[rel] {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if generated(data) {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	return out, nil
}

// removeEmptyDirs removes empty directories below dir (left by stale files).
func removeEmptyDirs(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path != dir {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if entries, err := os.ReadDir(dirs[i]); err == nil && len(entries) == 0 {
			if err := os.Remove(dirs[i]); err != nil {
				return fmt.Errorf("remove %s: %w", dirs[i], err)
			}
		}
	}
	return nil
}
