package check

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// errTreeReadOnly is the error of every write to a treeFS.
var errTreeReadOnly = errors.New("a git revision is read-only")

// treeFS is kustomize's file system over the names of a snapshot at absolute paths under root,
// read-only. It answers what kustomize asks about names (is it a directory, what does a
// directory hold); contents come from the snapshot (repoFS reads them through manifest.Files).
type treeFS struct {
	root string
	snap *snapshot
	// children lists each directory's entries (directories and regular files), sorted.
	children map[string][]string
}

var _ filesys.FileSystem = (*treeFS)(nil)

// newTreeFS indexes the snapshot's directories and regular files.
func newTreeFS(root string, s *snapshot) *treeFS {
	t := &treeFS{root: filepath.Clean(root), snap: s, children: map[string][]string{}}
	for d := range s.dirs {
		if d != "." {
			t.children[path.Dir(d)] = append(t.children[path.Dir(d)], path.Base(d))
		}
	}
	for name, e := range s.entries {
		if e.regular() {
			t.children[path.Dir(name)] = append(t.children[path.Dir(name)], path.Base(name))
		}
	}
	for _, c := range t.children {
		slices.Sort(c)
	}
	return t
}

// rel returns the snapshot path of the absolute path p, or false when p is outside the root.
func (t *treeFS) rel(p string) (string, bool) {
	p = filepath.Clean(p)
	if p == t.root {
		return ".", true
	}
	r, ok := strings.CutPrefix(p, t.root+string(filepath.Separator))
	return filepath.ToSlash(r), ok
}

// kind returns whether p is a directory or a regular file of the tree.
func (t *treeFS) kind(p string) (dir, file bool) {
	r, ok := t.rel(p)
	if !ok {
		return false, false
	}
	if t.snap.dirs[r] {
		return true, false
	}
	e, ok := t.snap.entries[r]
	return false, ok && e.regular()
}

// IsDir reports whether p is a directory of the tree.
func (t *treeFS) IsDir(p string) bool { dir, _ := t.kind(p); return dir }

// Exists reports whether p is a directory or a regular file of the tree.
func (t *treeFS) Exists(p string) bool { dir, file := t.kind(p); return dir || file }

// CleanedAbs returns p cleaned, as a directory, or as its directory and file name, as kustomize's
// disk file system does (there are no symlinks to resolve).
func (t *treeFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	abs := filepath.Clean(p)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(t.root, abs)
	}
	if t.IsDir(abs) {
		return filesys.ConfirmedDir(abs), "", nil
	}
	d, f := filepath.Split(abs)
	d = filepath.Clean(d)
	if !t.IsDir(d) {
		return "", "", fmt.Errorf("first part of '%s' not a directory", p)
	}
	return filesys.ConfirmedDir(d), f, nil
}

// ReadDir returns the names in directory p, sorted.
func (t *treeFS) ReadDir(p string) ([]string, error) {
	r, ok := t.rel(p)
	if !ok || !t.snap.dirs[r] {
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return slices.Clone(t.children[r]), nil
}

// Glob returns the regular files and directories whose absolute path matches pattern
// (filepath.Match), sorted.
func (t *treeFS) Glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	_ = t.Walk(t.root, func(p string, _ fs.FileInfo, _ error) error {
		if ok, _ := filepath.Match(pattern, p); ok {
			out = append(out, p)
		}
		return nil
	})
	return out, nil
}

// Walk walks the tree below p in lexical order, as filepath.Walk does.
func (t *treeFS) Walk(p string, fn filepath.WalkFunc) error {
	dir, file := t.kind(p)
	if !dir && !file {
		return fn(p, nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist))
	}
	err := t.walk(filepath.Clean(p), dir, fn)
	if errors.Is(err, filepath.SkipDir) || errors.Is(err, filepath.SkipAll) {
		return nil
	}
	return err
}

func (t *treeFS) walk(p string, dir bool, fn filepath.WalkFunc) error {
	if err := fn(p, treeInfo{name: filepath.Base(p), dir: dir}, nil); err != nil || !dir {
		if dir && errors.Is(err, filepath.SkipDir) {
			return nil
		}
		return err
	}
	r, _ := t.rel(p)
	for _, name := range t.children[r] {
		child := filepath.Join(p, name)
		if err := t.walk(child, t.IsDir(child), fn); err != nil {
			return err
		}
	}
	return nil
}

// Open is refused: contents are read whole, through manifest.Files.
func (t *treeFS) Open(p string) (filesys.File, error) {
	return nil, fmt.Errorf("open %s: %w", p, errTreeReadOnly)
}

// ReadFile reads the file from the snapshot (repoFS reads through manifest.Files before it
// gets here).
func (t *treeFS) ReadFile(p string) ([]byte, error) {
	r, ok := t.rel(p)
	if !ok {
		return nil, fmt.Errorf("read %s: outside the repository", p)
	}
	return t.snap.ReadFile(r)
}

// Create is refused.
func (t *treeFS) Create(string) (filesys.File, error) { return nil, errTreeReadOnly }

// Mkdir is refused.
func (t *treeFS) Mkdir(string) error { return errTreeReadOnly }

// MkdirAll is refused.
func (t *treeFS) MkdirAll(string) error { return errTreeReadOnly }

// RemoveAll is refused.
func (t *treeFS) RemoveAll(string) error { return errTreeReadOnly }

// WriteFile is refused.
func (t *treeFS) WriteFile(string, []byte) error { return errTreeReadOnly }

// treeInfo is the fs.FileInfo of a tree entry, for Walk.
type treeInfo struct {
	name string
	dir  bool
}

func (i treeInfo) Name() string { return i.name }
func (i treeInfo) Size() int64  { return 0 }
func (i treeInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i treeInfo) ModTime() time.Time { return time.Time{} }
func (i treeInfo) IsDir() bool        { return i.dir }
func (i treeInfo) Sys() any           { return nil }
