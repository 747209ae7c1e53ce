// Package genfiles writes and compares directories of generated files (the policy pack, the Flux
// cluster entry point, the module docs) and creates new files that must never overwrite anything
// (polc new, polc init --write). Every command that writes generated files goes through it, and
// it assumes that the repository is hostile: polc runs in CI on pull requests.
//
// Every writer works the same way:
//
//   - the caller builds every file in memory first;
//   - every path is validated before anything is written (CheckPath; names that become paths
//     are DNS-1123 labels, CheckLabel and CheckModuleNames);
//   - the output directory is refused when it is a symlink or, inside the repository, reached
//     through one (CheckOutputDir);
//   - all file system access below the output directory goes through an os.Root, so neither
//     symlinks nor ".." can leave it, and a symlink, a special file or a conflicting directory
//     where a generated file goes is refused, never written through or replaced;
//   - files are written to temporary files inside their own directory first, then renamed (or,
//     for Create, hard-linked) into place, so a failure leaves the previous state: either every
//     file is committed or none (a failing rename, which the file system hardly ever reports, is
//     the only way to stop half-way, and it is reported).
//
// Diff, behind every --check, reads only regular files (checked with Lstat before opening, and
// again on the opened file), at most MaxFileSize bytes of each, and reports anything else as a
// difference: a symlink to /dev/zero or a FIFO cannot make it hang or exhaust memory.
package genfiles

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unicode/utf8"

	"polc.dev/polc/internal/module"
)

// MaxFileSize caps what polc reads of a file in an output directory.
const MaxFileSize = module.MaxFileSize

// File is one generated file; Path is slash-separated, relative to the output directory.
type File struct {
	Path string
	Data []byte
}

// Generated reports whether a file found in the output directory (path slash-separated, relative
// to it) was written by the generator, from its contents: Write removes such files when they are
// no longer generated, and Diff reports them as extra. Other files are never touched.
type Generated func(path string, data []byte) bool

// Errors that the refusals of this package wrap.
var (
	// ErrSymlink: polc never follows, writes through or replaces a symlink where it writes.
	ErrSymlink = errors.New("is a symlink; polc does not follow, write through or replace symlinks in its output")
	// ErrNotRegular: polc never reads or replaces a FIFO, device, socket or directory where a
	// generated file goes.
	ErrNotRegular = errors.New("is not a regular file; polc does not read or replace special files or directories in its output")
	// ErrNotDir: a file where a directory must go.
	ErrNotDir = errors.New("is not a directory")
	// ErrTooLarge: a file over MaxFileSize, which polc does not read.
	ErrTooLarge = fmt.Errorf("is larger than the %d MiB limit", MaxFileSize>>20)
	// ErrBadPath: a generated path that is not a clean relative path.
	ErrBadPath = errors.New("is not a clean relative path of printable characters inside the output directory")
	// ErrNotGenerated: a file that polc did not write (it has no generated header) where a
	// generated file goes; polc never overwrites a user's file.
	ErrNotGenerated = errors.New("was not written by polc (it has no generated header); polc never overwrites it: move it, or write to another directory")
	// ErrExists: Create found a file where it would create one.
	ErrExists = errors.New("already exists; polc never overwrites it")
)

// tempPrefix starts the names of temporary files; generated paths may not use it.
const tempPrefix = ".polc-tmp-"

// CheckPath validates a generated path: slash-separated, relative, clean (no "." or ".." element,
// no empty element), valid UTF-8 without control characters or backslashes, and not using the
// prefix of polc's temporary files.
func CheckPath(p string) error {
	bad := p == "" || p == "." || !utf8.ValidString(p) || path.IsAbs(p) || path.Clean(p) != p ||
		p == ".." || strings.HasPrefix(p, "../")
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r < 0xa0) {
			bad = true
		}
	}
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, tempPrefix) {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("path %q %w", p, ErrBadPath)
	}
	return nil
}

// checkFiles validates every path of files, and that no two files share a path or need the same
// path as a file and as a directory.
func checkFiles(files []File) error {
	seen := map[string]bool{}
	for _, f := range files {
		if err := CheckPath(f.Path); err != nil {
			return err
		}
		if seen[f.Path] {
			return fmt.Errorf("path %q is generated twice", f.Path)
		}
		seen[f.Path] = true
	}
	for _, f := range files {
		for _, d := range parents(f.Path) {
			if seen[d] {
				return fmt.Errorf("path %q is generated both as a file and as the directory of %q", d, f.Path)
			}
		}
	}
	return nil
}

// parents returns the directories of a slash-separated relative path, outermost first:
// a/b/c.yaml gives a and a/b.
func parents(p string) []string {
	var out []string
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}

// CheckOutputDir refuses an output directory that polc must not write to: dir itself being a
// symlink (it is not followed) or not a directory and, when dir lies inside repo, any existing
// element of its path below repo being a symlink or not a directory. Elements that do not exist
// yet are fine (Write creates them). Paths outside repo (an --out the user chose) are checked
// only for dir itself.
func CheckOutputDir(repo, dir string) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	absRepo, err := filepath.Abs(repo)
	if err != nil {
		return fmt.Errorf("repository %s: %w", repo, err)
	}
	check := []string{absDir}
	if rel, err := filepath.Rel(absRepo, absDir); err == nil && rel != "." && rel != ".." &&
		!strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		check = nil
		p := absRepo
		for _, el := range strings.Split(rel, string(filepath.Separator)) {
			p = filepath.Join(p, el)
			check = append(check, p)
		}
	}
	for _, p := range check {
		what := fmt.Sprintf("output directory %s: %s", dir, p)
		if p == absDir {
			what = "output directory " + dir
		}
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("output directory %s: %w", dir, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s %w", what, ErrSymlink)
		case !fi.IsDir():
			return fmt.Errorf("%s %w", what, ErrNotDir)
		}
	}
	return nil
}

// Kind is the kind of a Difference.
type Kind string

// The kinds of differences.
const (
	// Missing: a generated file is not in the output directory.
	Missing Kind = "missing"
	// Stale: it is there with other contents.
	Stale Kind = "stale"
	// Extra: a file that the generator wrote earlier (Generated) is no longer generated.
	Extra Kind = "extra"
	// Unsafe: where a generated file goes there is a symlink, a special file, a directory, a
	// file over MaxFileSize, or a directory on the way is a symlink or a file. polc does not
	// read it, and Write refuses to replace it.
	Unsafe Kind = "unsafe"
)

// Difference is one file that differs between the generated files and an output directory.
type Difference struct {
	// Path is slash-separated, relative to the output directory.
	Path string
	Kind Kind
	// Err says why an Unsafe file is unsafe; nil for the other kinds.
	Err error
}

// String is "kind path", followed by the reason of an Unsafe difference.
func (d Difference) String() string {
	if d.Err != nil {
		return fmt.Sprintf("%s %s: %v", d.Kind, d.Path, d.Err)
	}
	return fmt.Sprintf("%s %s", d.Kind, d.Path)
}

// Paths lists the paths of differences, as `polc compile --check` prints them: each unsafe one
// followed by its reason in parentheses.
func Paths(diff []Difference) []string {
	var out []string
	for _, d := range diff {
		if d.Err != nil {
			out = append(out, fmt.Sprintf("%s (%v)", d.Path, d.Err))
			continue
		}
		out = append(out, d.Path)
	}
	return out
}

// openDir opens dir as an os.Root after checking that it is a directory and not a symlink. A dir
// that does not exist gives a nil root and no error.
func openDir(dir string) (*os.Root, error) {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("output directory %s %w", dir, ErrSymlink)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("output directory %s %w", dir, ErrNotDir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	// The directory opened must be the one checked (not a symlink put in its place since).
	if st, err := root.Stat("."); err != nil || !os.SameFile(fi, st) {
		root.Close()
		return nil, fmt.Errorf("output directory %s changed while it was opened", dir)
	}
	return root, nil
}

// inspect compares one generated file with what root holds at its path. It returns "" when the
// file is up to date; an Unsafe difference carries the reason. missingDirs are the directories of
// the path that do not exist (for Write to create).
func inspect(root *os.Root, f File, generated Generated) (kind Kind, why error, missingDirs []string, err error) {
	dirs := parents(f.Path)
	for i, d := range dirs {
		fi, err := root.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return Missing, nil, dirs[i:], nil
		case err != nil:
			return "", nil, nil, fmt.Errorf("%s: %w", f.Path, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return Unsafe, fmt.Errorf("directory %s %w", d, ErrSymlink), nil, nil
		case !fi.IsDir():
			return Unsafe, fmt.Errorf("%s %w", d, ErrNotDir), nil, nil
		}
	}
	fi, err := root.Lstat(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Missing, nil, nil, nil
	case err != nil:
		return "", nil, nil, fmt.Errorf("%s: %w", f.Path, err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return Unsafe, fmt.Errorf("it %w", ErrSymlink), nil, nil
	case !fi.Mode().IsRegular():
		return Unsafe, fmt.Errorf("it %w (%s)", ErrNotRegular, describe(fi.Mode())), nil, nil
	}
	got, err := readRegular(root, f.Path, fi)
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrSymlink) || errors.Is(err, ErrNotRegular) {
		return Unsafe, fmt.Errorf("it %w", err), nil, nil
	}
	if err != nil {
		return "", nil, nil, err
	}
	switch {
	case bytes.Equal(got, f.Data):
		return "", nil, nil, nil
	case generated != nil && !generated(f.Path, got):
		return Unsafe, fmt.Errorf("it %w", ErrNotGenerated), nil, nil
	}
	return Stale, nil, nil, nil
}

// describe names the type of a file that is not regular.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

// readRegular reads the regular file name below root, which Lstat described as fi, with O_NOFOLLOW
// semantics: the file opened must be the one Lstat saw (os.Root follows a symlink that replaced
// it since, within the root), and at most MaxFileSize bytes are read. O_NONBLOCK keeps the open
// from hanging on a FIFO put in its place.
func readRegular(root *os.Root, name string, fi fs.FileInfo) ([]byte, error) {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, ErrSymlink
	}
	if !fi.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	if fi.Size() > MaxFileSize {
		return nil, ErrTooLarge
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if !st.Mode().IsRegular() || !os.SameFile(fi, st) {
		return nil, fmt.Errorf("%s changed while it was read: %w", name, ErrNotRegular)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, ErrTooLarge
	}
	return data, nil
}

// Diff compares files with directory dir and returns the differences, sorted by path. It writes
// nothing, and reads only regular files of at most MaxFileSize. A dir that does not exist makes
// every file missing; a dir that is a symlink or not a directory is an error.
func Diff(dir string, files []File, generated Generated) ([]Difference, error) {
	if err := checkFiles(files); err != nil {
		return nil, err
	}
	root, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Difference
	if root == nil {
		for _, f := range files {
			out = append(out, Difference{Path: f.Path, Kind: Missing})
		}
		return sortDiffs(out), nil
	}
	defer root.Close()
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		kind, why, _, err := inspect(root, f, generated)
		if err != nil {
			return nil, fmt.Errorf("compare %s: %w", dir, err)
		}
		if kind != "" {
			out = append(out, Difference{Path: f.Path, Kind: kind, Err: why})
		}
	}
	stale, err := staleFiles(root, want, generated)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dir, err)
	}
	for _, p := range stale {
		out = append(out, Difference{Path: p, Kind: Extra})
	}
	return sortDiffs(out), nil
}

func sortDiffs(d []Difference) []Difference {
	slices.SortFunc(d, func(a, b Difference) int { return strings.Compare(a.Path, b.Path) })
	return d
}

// Changes are what Write changed: slash-separated paths relative to the output directory.
type Changes struct {
	// Written are the files written, in the order of the files given to Write.
	Written []string
	// Removed are the stale generated files removed, sorted.
	Removed []string
}

// testHookBeforeCommit, when set (by tests), runs after every temporary file is written and before
// any is renamed into place; an error makes Write fail there.
var testHookBeforeCommit func() error

// Write makes directory dir hold files: it creates dir (and its missing parents) when needed,
// writes the files that are missing or differ (unchanged files are not rewritten), then removes
// the files that Generated recognises and that are no longer part of files, and the directories
// that this leaves empty. Other files are left alone.
//
// Before writing anything, Write validates every path and refuses, naming every offending path,
// when a symlink, a special file or a directory is where a generated file goes, or a symlink or a
// file is where one of its directories goes. dir itself must not be a symlink; the caller checks
// its parents (CheckOutputDir). The new contents go to temporary files in their directories
// first and are renamed into place only when all of them are written; on an error before that,
// the temporary files and the directories Write created are removed, so nothing has changed.
func Write(dir string, files []File, generated Generated) (Changes, error) {
	var ch Changes
	if err := checkFiles(files); err != nil {
		return ch, fmt.Errorf("nothing written to %s: %w", dir, err)
	}
	root, err := openDir(dir)
	if err != nil {
		return ch, fmt.Errorf("nothing written: %w", err)
	}
	var tx txn
	if root == nil {
		if err := tx.mkdirAll(dir); err != nil {
			return ch, err
		}
		if root, err = openDir(dir); err != nil || root == nil {
			tx.rollback(nil)
			return ch, fmt.Errorf("nothing written: open %s: %w", dir, err)
		}
	}
	defer root.Close()

	// Plan: find what to write and refuse before writing anything.
	var todo []File
	var unsafe []error
	makeDirs := map[string]bool{}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		kind, why, missing, err := inspect(root, f, generated)
		if err != nil {
			tx.rollback(nil)
			return ch, fmt.Errorf("nothing written to %s: %w", dir, err)
		}
		switch kind {
		case Unsafe:
			unsafe = append(unsafe, fmt.Errorf("%s: %w", filepath.Join(dir, filepath.FromSlash(f.Path)), why))
		case Missing, Stale:
			todo = append(todo, f)
			for _, d := range missing {
				makeDirs[d] = true
			}
		}
	}
	if len(unsafe) > 0 {
		tx.rollback(nil)
		return ch, fmt.Errorf("refusing to write %s, nothing written: %w", dir, errors.Join(unsafe...))
	}
	stale, err := staleFiles(root, want, generated)
	if err != nil {
		tx.rollback(nil)
		return ch, fmt.Errorf("nothing written: scan %s: %w", dir, err)
	}

	// Write every new file to a temporary file next to it.
	for _, d := range slices.Sorted(maps.Keys(makeDirs)) {
		if err := tx.mkdir(root, d); err != nil {
			tx.rollback(root)
			return ch, fmt.Errorf("nothing written to %s: %w", dir, err)
		}
	}
	for _, f := range todo {
		if err := tx.writeTemp(root, f); err != nil {
			tx.rollback(root)
			return ch, fmt.Errorf("nothing written to %s: %w", dir, err)
		}
	}
	if testHookBeforeCommit != nil {
		if err := testHookBeforeCommit(); err != nil {
			tx.rollback(root)
			return ch, fmt.Errorf("nothing written to %s: %w", dir, err)
		}
	}

	// Commit: rename the temporary files into place, then remove the stale files.
	for i, t := range tx.temps {
		if err := root.Rename(t.temp, t.path); err != nil {
			tx.temps = tx.temps[i:]
			tx.removeTemps(root)
			return ch, fmt.Errorf("write %s: %w (%d of %d files were written: %s is incomplete)", filepath.Join(dir, filepath.FromSlash(t.path)), err, i, len(todo), dir)
		}
		ch.Written = append(ch.Written, t.path)
	}
	tx.temps = nil
	for _, p := range stale {
		if err := root.Remove(p); err != nil {
			return ch, fmt.Errorf("remove stale %s: %w", filepath.Join(dir, filepath.FromSlash(p)), err)
		}
		ch.Removed = append(ch.Removed, p)
		removeEmptyParents(root, p)
	}
	return ch, nil
}

// temp is a temporary file written for the generated file at path.
type temp struct{ temp, path string }

// txn records what a writer created, to undo it: directories (in creation order, absolute when
// created before the root existed) and temporary files.
type txn struct {
	absDirs []string
	dirs    []string
	temps   []temp
	// created are files committed by Create, removed again when a later one fails.
	created []string
}

// mkdirAll creates dir and its missing parents, recording each.
func (tx *txn) mkdirAll(dir string) error {
	var missing []string
	for p := filepath.Clean(dir); ; {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("nothing written: create %s: %w", dir, err)
		}
		missing = append(missing, p)
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			tx.rollback(nil)
			return fmt.Errorf("nothing written: create %s: %w", dir, err)
		}
		tx.absDirs = append(tx.absDirs, missing[i])
	}
	return nil
}

// mkdir creates directory d below root.
func (tx *txn) mkdir(root *os.Root, d string) error {
	if err := root.Mkdir(d, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", d, err)
	}
	tx.dirs = append(tx.dirs, d)
	return nil
}

// writeTemp writes f's data to a new temporary file in f's directory below root.
func (tx *txn) writeTemp(root *os.Root, f File) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := path.Join(path.Dir(f.Path), tempPrefix+hex.EncodeToString(rnd[:])+"-"+path.Base(f.Path))
	fh, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	tx.temps = append(tx.temps, temp{temp: name, path: f.Path})
	_, err = fh.Write(f.Data)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	return nil
}

// removeTemps removes the temporary files that are left.
func (tx *txn) removeTemps(root *os.Root) {
	for _, t := range tx.temps {
		_ = root.Remove(t.temp)
	}
	tx.temps = nil
}

// rollback removes what tx created: files committed by Create, temporary files, and the
// directories it created (innermost first, when they are empty).
func (tx *txn) rollback(root *os.Root) {
	if root != nil {
		for _, p := range slices.Backward(tx.created) {
			_ = root.Remove(p)
		}
		tx.removeTemps(root)
		for _, d := range slices.Backward(tx.dirs) {
			_ = root.Remove(d)
		}
	}
	for _, d := range slices.Backward(tx.absDirs) {
		_ = os.Remove(d)
	}
	*tx = txn{}
}

// staleFiles lists the regular files below root that are not in want and that generated
// recognises, sorted. Symlinks and special files are skipped (never opened), and so are
// directories that are symlinks (never descended into) and files over MaxFileSize.
func staleFiles(root *os.Root, want map[string]bool, generated Generated) ([]string, error) {
	var out []string
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() || want[p] {
			return nil
		}
		fi, err := root.Lstat(p)
		if err != nil {
			return err
		}
		data, err := readRegular(root, p, fi)
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotRegular) || errors.Is(err, ErrSymlink) {
			return nil
		}
		if err != nil {
			return err
		}
		if generated(p, data) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// removeEmptyParents removes the directories of p below root that are empty, innermost first.
func removeEmptyParents(root *os.Root, p string) {
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		f, err := root.Open(d)
		if err != nil {
			return
		}
		names, _ := f.Readdirnames(1)
		f.Close()
		if len(names) > 0 || root.Remove(d) != nil {
			return
		}
	}
}

// Existing says what Create does when a file exists already.
type Existing int

const (
	// RefuseExisting: Create fails and writes nothing when any file exists.
	RefuseExisting Existing = iota
	// SkipExisting: Create leaves existing files alone, reports them, and creates the others.
	SkipExisting
)

// Create creates files below root (the repository), never replacing anything that exists: a
// file, a symlink (even a dangling one) or anything else at a file's path counts as existing. It
// refuses, before writing anything, a path whose directories go through a symlink or a file.
// New files are written to temporary files first and committed with a hard link, which fails
// rather than replace a file created in the meantime; when a commit fails, the files and
// directories Create made are removed again. created and skipped are in the order of files.
func Create(root string, files []File, existing Existing) (created, skipped []string, err error) {
	if err := checkFiles(files); err != nil {
		return nil, nil, fmt.Errorf("nothing written: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, nil, fmt.Errorf("nothing written: %w", err)
	}
	defer r.Close()
	var todo []File
	var refused []error
	makeDirs := map[string]bool{}
	for _, f := range files {
		missing, err := missingDirs(r, f.Path)
		if err != nil {
			refused = append(refused, err)
			continue
		}
		_, err = r.Lstat(f.Path)
		switch {
		case err == nil && existing == SkipExisting:
			skipped = append(skipped, f.Path)
			continue
		case err == nil:
			refused = append(refused, fmt.Errorf("%s %w", f.Path, ErrExists))
			continue
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			refused = append(refused, fmt.Errorf("%s: %w", f.Path, err))
			continue
		}
		todo = append(todo, f)
		for _, d := range missing {
			makeDirs[d] = true
		}
	}
	if len(refused) > 0 {
		return nil, nil, fmt.Errorf("nothing written: %w", errors.Join(refused...))
	}
	var tx txn
	fail := func(err error) ([]string, []string, error) {
		tx.rollback(r)
		return nil, nil, fmt.Errorf("nothing written: %w", err)
	}
	for _, d := range slices.Sorted(maps.Keys(makeDirs)) {
		if err := tx.mkdir(r, d); err != nil {
			return fail(err)
		}
	}
	for _, f := range todo {
		if err := tx.writeTemp(r, f); err != nil {
			return fail(err)
		}
	}
	if testHookBeforeCommit != nil {
		if err := testHookBeforeCommit(); err != nil {
			return fail(err)
		}
	}
	for _, t := range tx.temps {
		if err := commitNew(r, t, todo); err != nil {
			return fail(err)
		}
		tx.created = append(tx.created, t.path)
		created = append(created, t.path)
	}
	tx.removeTemps(r)
	return created, skipped, nil
}

// missingDirs returns the directories of p below root that do not exist, outermost first, or an
// error when one that exists is a symlink or not a directory.
func missingDirs(root *os.Root, p string) ([]string, error) {
	dirs := parents(p)
	for i, d := range dirs {
		fi, err := root.Lstat(d)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return dirs[i:], nil
		case err != nil:
			return nil, fmt.Errorf("%s: %w", p, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("%s: directory %s %w", p, d, ErrSymlink)
		case !fi.IsDir():
			return nil, fmt.Errorf("%s: %s %w", p, d, ErrNotDir)
		}
	}
	return nil, nil
}

// commitNew puts the temporary file t in place without ever replacing a file: a hard link fails
// when the target exists. On file systems without hard links, it creates the target exclusively
// and copies the data.
func commitNew(root *os.Root, t temp, files []File) error {
	err := root.Link(t.temp, t.path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s %w", t.path, ErrExists)
		}
		return nil
	}
	var data []byte
	for _, f := range files {
		if f.Path == t.path {
			data = f.Data
		}
	}
	fh, err := root.OpenFile(t.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s %w", t.path, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	_, err = fh.Write(data)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(t.path)
		return fmt.Errorf("write %s: %w", t.path, err)
	}
	return nil
}

// Replace writes data to the file at path (a path the user gave, not a repository path), through a
// temporary file in its directory renamed into place. It refuses a symlink or a special file at
// path, and an existing file that generated does not recognise, so it never writes through a link,
// into a FIFO or over a file polc did not write.
func Replace(path string, data []byte, generated func([]byte) bool) error {
	dir, name := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("nothing written: %w", err)
	}
	defer root.Close()
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("nothing written: %w", err)
	default:
		old, err := readRegular(root, name, fi)
		if err != nil {
			return fmt.Errorf("nothing written: %s %w", path, err)
		}
		if !generated(old) {
			return fmt.Errorf("nothing written: %s %w", path, ErrNotGenerated)
		}
	}
	var tx txn
	if err := tx.writeTemp(root, File{Path: name, Data: data}); err != nil {
		tx.removeTemps(root)
		return fmt.Errorf("nothing written: %w", err)
	}
	if err := root.Rename(tx.temps[0].temp, name); err != nil {
		tx.removeTemps(root)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
