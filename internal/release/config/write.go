package config

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/rule"
)

// Difference is a generated release file that differs from the repository's.
type Difference struct {
	// Path is the file, relative to the repository root.
	Path string
	// Missing is true when the repository has no such file.
	Missing bool
	// Line is the first line that differs (1-based); 0 when Missing.
	Line int
	// Have and Want are that line in the repository and in the generated file ("" past the end).
	Have, Want string
}

// String describes the difference: "missing PATH", or "stale PATH:LINE" with both lines.
func (d Difference) String() string {
	if d.Missing {
		return "missing " + d.Path
	}
	return fmt.Sprintf("stale %s:%d\n    have: %s\n    want: %s", d.Path, d.Line, orEnd(d.Have), orEnd(d.Want))
}

func orEnd(s string) string {
	if s == "" {
		return "(end of file)"
	}
	return s
}

// Diff compares the generated files with the repository's and returns the files that differ, in
// the order of files. It writes nothing and reads through the repository's safe reader: a file
// that cannot be read (a symlink out of the repository, a special file, one over the size limit)
// is an error.
func Diff(repo *rule.Repo, files []genfiles.File) ([]Difference, error) {
	var out []Difference
	for _, f := range files {
		have, err := readFile(repo, f.Path)
		if err != nil {
			return nil, err
		}
		if have == nil {
			out = append(out, Difference{Path: f.Path, Missing: true})
			continue
		}
		if bytes.Equal(have, f.Data) {
			continue
		}
		out = append(out, firstDifference(f.Path, have, f.Data))
	}
	return out, nil
}

// firstDifference finds the first line where have and want differ.
func firstDifference(p string, have, want []byte) Difference {
	h, w := strings.Split(string(have), "\n"), strings.Split(string(want), "\n")
	for i := 0; ; i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl || i >= len(h) || i >= len(w) {
			return Difference{Path: p, Line: i + 1, Have: strings.TrimSpace(hl), Want: strings.TrimSpace(wl)}
		}
	}
}

// Write writes files below the repository root, every file or none, and returns the paths it
// changed (unchanged files are not rewritten). All access goes through an os.Root, so nothing
// leaves the repository; a symlink, a special file or a directory where a file goes, or a
// symlink or a file where one of its directories goes, is refused before anything is written.
// New contents go to temporary files next to their targets and are renamed into place once all
// are written.
func Write(root string, files []genfiles.File) ([]string, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("nothing written: %w", err)
	}
	defer r.Close()
	var todo []genfiles.File
	var mkdirs []string
	for _, f := range files {
		if err := genfiles.CheckPath(f.Path); err != nil {
			return nil, fmt.Errorf("nothing written: %s: %w", f.Path, err)
		}
		missing, same, err := plan(r, f)
		if err != nil {
			return nil, fmt.Errorf("refusing to write %s, nothing written: %w", f.Path, err)
		}
		mkdirs = appendNew(mkdirs, missing...)
		if !same {
			todo = append(todo, f)
		}
	}
	var made, temps []string
	undo := func() {
		for _, t := range temps {
			_ = r.Remove(t)
		}
		for i := len(made) - 1; i >= 0; i-- {
			_ = r.Remove(made[i])
		}
	}
	for _, d := range mkdirs {
		if err := r.Mkdir(d, 0o755); err != nil {
			undo()
			return nil, fmt.Errorf("nothing written: %w", err)
		}
		made = append(made, d)
	}
	for _, f := range todo {
		t, err := writeTemp(r, f)
		if err != nil {
			undo()
			return nil, fmt.Errorf("nothing written: %w", err)
		}
		temps = append(temps, t)
	}
	var written []string
	for i, f := range todo {
		if err := r.Rename(temps[i], f.Path); err != nil {
			temps = temps[i:]
			undo()
			return written, fmt.Errorf("write %s: %w (%d of %d files were written)", f.Path, err, i, len(todo))
		}
		written = append(written, f.Path)
	}
	return written, nil
}

// plan inspects where f goes: the directories to create, and whether the file already holds
// f's contents. Symlinks and anything but directories and regular files are refused.
func plan(r *os.Root, f genfiles.File) (missing []string, same bool, err error) {
	var dirs []string
	for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for i, d := range dirs {
		fi, err := r.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return dirs[i:], false, nil
		case err != nil:
			return nil, false, err
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, false, fmt.Errorf("directory %s %w", d, genfiles.ErrSymlink)
		case !fi.IsDir():
			return nil, false, fmt.Errorf("%s %w", d, genfiles.ErrNotDir)
		}
	}
	fi, err := r.Lstat(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, false, fmt.Errorf("it %w", genfiles.ErrSymlink)
	case !fi.Mode().IsRegular():
		return nil, false, fmt.Errorf("it %w", genfiles.ErrNotRegular)
	case fi.Size() != int64(len(f.Data)):
		return nil, false, nil
	}
	have, err := r.ReadFile(f.Path)
	if err != nil {
		return nil, false, err
	}
	return nil, bytes.Equal(have, f.Data), nil
}

// writeTemp writes f's contents to a new temporary file in its directory and returns its path.
func writeTemp(r *os.Root, f genfiles.File) (string, error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	t := path.Join(path.Dir(f.Path), ".polc-tmp-"+hex.EncodeToString(rnd[:]))
	w, err := r.OpenFile(t, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = w.Write(f.Data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = r.Remove(t)
		return "", fmt.Errorf("write %s: %w", f.Path, err)
	}
	return t, nil
}

// appendNew appends the elements of add that list does not hold yet.
func appendNew(list []string, add ...string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}
