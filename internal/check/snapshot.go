package check

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"polc.dev/polc/internal/hermetic"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// SnapshotLimits bound the tree of a git revision that polc reads into memory: a hostile history
// may hold any number of files of any size.
type SnapshotLimits struct {
	// MaxFiles caps the entries of the tree (files, symlinks and submodules).
	MaxFiles int
	// MaxBytes caps the content read from it, in total; each file is also capped at
	// module.MaxFileSize, as on disk.
	MaxBytes int64
}

// DefaultSnapshotLimits are the limits of Changes.
var DefaultSnapshotLimits = SnapshotLimits{MaxFiles: 200_000, MaxBytes: 256 << 20}

// maxTreeRecord caps one record of git ls-tree's output (a path name and its metadata).
const maxTreeRecord = 64 << 10

// treeEntry is one non-directory entry of a git tree.
type treeEntry struct {
	// mode is git's mode: 100644 or 100755 for a file, 120000 for a symlink, 160000 for a
	// submodule.
	mode string
	oid  string
}

// regular reports whether the entry is a regular file.
func (e treeEntry) regular() bool { return e.mode == "100644" || e.mode == "100755" }

// snapshot is the tree of a git commit, below the repository root polc checks, as a
// manifest.Files: names and modes are listed at once (git ls-tree, without sizes, which would make
// git open every blob); contents are read on demand, each once, within the limits, through two
// git cat-file processes: --batch-check for the size, then --batch for the content. Nothing is
// written and nothing is checked out. Close ends the process.
type snapshot struct {
	// dir is where git runs (the repository root polc checks).
	dir    string
	commit string
	lim    SnapshotLimits
	// entries are the tree's files, symlinks and submodules by repository-relative path; dirs
	// its directories ("." is the root).
	entries map[string]treeEntry
	dirs    map[string]bool

	mu sync.Mutex
	// check and cat answer with sizes and contents; nil once closed.
	check, cat *catFile
	data       map[string][]byte
	read       int64

	fsOnce sync.Once
	fs     *treeFS
}

var _ manifest.Files = (*snapshot)(nil)

// openSnapshot resolves rev to a commit, as ChangedFiles does (a rev that looks like an option
// is never passed on as one; a rev that is not a commit is a *RevError), and lists the commit's
// tree below root. Names are NUL-separated and the listing stops at lim.MaxFiles entries or at
// ctx's end. The process that reads contents starts alongside the listing, as the caller reads
// module.yaml files next.
func openSnapshot(ctx context.Context, root, rev string, lim SnapshotLimits) (*snapshot, error) {
	// One process resolves the revision and the root's place in the git tree: the prefix line,
	// then the hash.
	out, err := git(root, "rev-parse", "--show-prefix", "--verify", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return nil, &RevError{Rev: rev, Err: err}
	}
	prefix, commit, _ := strings.Cut(strings.TrimSuffix(out, "\n"), "\n")
	if !isHash(commit) {
		return nil, &RevError{Rev: rev, Err: fmt.Errorf("git rev-parse printed %q, not a commit hash", commit)}
	}
	s := &snapshot{dir: root, commit: commit, lim: lim, entries: map[string]treeEntry{}, dirs: map[string]bool{".": true},
		data: map[string][]byte{}}
	var checkErr, catErr error
	var started sync.WaitGroup
	started.Go(func() { s.check, checkErr = startCatFile(ctx, root, "--batch-check") })
	started.Go(func() { s.cat, catErr = startCatFile(ctx, root, "--batch") })
	err = gitStream(ctx, root, s.list, "ls-tree", "-r", "-z", "--full-tree", commit+":"+prefix)
	started.Wait()
	err = cmp.Or(err, checkErr, catErr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("list the files of commit %s: %w", commit, err)
	}
	return s, nil
}

// list reads git ls-tree -r -z records: "<mode> SP <type> SP <oid> TAB <path> NUL".
func (s *snapshot) list(r *bufio.Reader) error {
	for {
		rec, err := r.ReadSlice(0)
		if err == io.EOF && len(rec) == 0 {
			return nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("a tree entry is longer than %d bytes", maxTreeRecord)
		}
		if err != nil {
			return err
		}
		meta, name, ok := strings.Cut(string(rec[:len(rec)-1]), "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 3 || name == "" {
			return fmt.Errorf("unexpected git ls-tree output %q", rec)
		}
		if len(s.entries) >= s.lim.MaxFiles {
			return fmt.Errorf("the tree has more than %d files (the limit of polc's in-memory snapshot)", s.lim.MaxFiles)
		}
		s.entries[name] = treeEntry{mode: fields[0], oid: fields[2]}
		for d := path.Dir(name); !s.dirs[d]; d = path.Dir(d) {
			s.dirs[d] = true
		}
	}
}

// lookup cleans rel and returns it with its entry, whether it is a directory, and the error of a
// path that leaves the repository, is missing, or goes through a symlink or submodule.
func (s *snapshot) lookup(op, rel string) (string, treeEntry, bool, error) {
	clean := path.Clean(filepath.ToSlash(rel))
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return clean, treeEntry{}, false, fmt.Errorf("%s: %w", rel, module.ErrLeavesRepo)
	}
	if e, ok := s.entries[clean]; ok {
		if !e.regular() {
			return clean, e, false, fmt.Errorf("%s %s: %s at commit %s: %w", op, rel, e.kind(), s.short(), manifest.ErrNotFollowed)
		}
		return clean, e, false, nil
	}
	if s.dirs[clean] {
		return clean, treeEntry{}, true, nil
	}
	// A path below a symlink or a submodule: name the entry that stops it.
	for d := path.Dir(clean); d != "."; d = path.Dir(d) {
		if e, ok := s.entries[d]; ok {
			return clean, e, false, fmt.Errorf("%s %s: %s is a %s at commit %s: %w", op, rel, d, e.kind(), s.short(), manifest.ErrNotFollowed)
		}
	}
	return clean, treeEntry{}, false, fmt.Errorf("%s %s: %w", op, rel, fs.ErrNotExist)
}

// kind names a non-regular entry.
func (e treeEntry) kind() string {
	switch e.mode {
	case "120000":
		return "symlink"
	case "160000":
		return "submodule"
	}
	return "special file (mode " + e.mode + ")"
}

// short is the commit's abbreviated hash, for messages.
func (s *snapshot) short() string { return s.commit[:12] }

// Stat returns fs.ModeDir for a directory and 0 for a regular file of the tree.
func (s *snapshot) Stat(rel string) (fs.FileMode, error) {
	_, _, dir, err := s.lookup("stat", rel)
	if err != nil {
		return 0, err
	}
	if dir {
		return fs.ModeDir, nil
	}
	return 0, nil
}

// ReadFile returns the content of the regular file rel, read once from git, within the limits.
func (s *snapshot) ReadFile(rel string) ([]byte, error) {
	clean, e, dir, err := s.lookup("read", rel)
	switch {
	case err != nil:
		return nil, err
	case dir:
		return nil, fmt.Errorf("read %s: not a regular file", rel)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if data, ok := s.data[clean]; ok {
		return data, nil
	}
	data, err := s.blob(rel, e.oid)
	if err != nil {
		return nil, err
	}
	s.data[clean] = data
	return data, nil
}

// blob reads the blob oid of the file rel, if its size is within the limits; s.mu is held.
func (s *snapshot) blob(rel, oid string) ([]byte, error) {
	if s.check == nil || s.cat == nil {
		return nil, fmt.Errorf("read %s at commit %s: the snapshot is closed", rel, s.short())
	}
	size, err := s.check.size(oid)
	if err == nil {
		switch {
		case size > module.MaxFileSize:
			return nil, fmt.Errorf("read %s: file is larger than the %d MiB limit", rel, module.MaxFileSize>>20)
		case s.read+size > s.lim.MaxBytes:
			return nil, fmt.Errorf("read %s at commit %s: more than %d MiB read from the commit (the limit of polc's in-memory snapshot)", rel, s.short(), s.lim.MaxBytes>>20)
		}
		var data []byte
		if data, err = s.cat.blob(oid, size); err == nil {
			s.read += size
			return data, nil
		}
	}
	s.closeLocked() // the streams may be out of step: read nothing more from them
	return nil, fmt.Errorf("read %s at commit %s: %w", rel, s.short(), err)
}

// FileSystem returns kustomize's view of the tree at absolute paths under root: its directories
// and regular files, whose content repoFS reads through ReadFile. Symlinks and submodules are
// left out. (kustomize's own in-memory file system refuses names outside [a-zA-Z0-9-_.:], which
// repositories and their paths on disk may well use.)
func (s *snapshot) FileSystem(root string) filesys.FileSystem {
	s.fsOnce.Do(func() { s.fs = newTreeFS(root, s) })
	return s.fs
}

// Close ends the git processes that read sizes and contents.
func (s *snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked()
}

// closeLocked is Close with s.mu held.
func (s *snapshot) closeLocked() error {
	var errs []error
	for _, c := range []**catFile{&s.check, &s.cat} {
		if *c != nil {
			errs = append(errs, (*c).close())
			*c = nil
		}
	}
	return errors.Join(errs...)
}

// catFile is a running git cat-file --batch or --batch-check: object names in, headers (and for
// --batch contents) out.
type catFile struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startCatFile starts git cat-file with mode (--batch or --batch-check) in dir. It never runs
// filters or textconv drivers (objects are printed as stored), and ends with ctx.
func startCatFile(ctx context.Context, dir, mode string) (*catFile, error) {
	prog, err := hermetic.Git()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, prog, "cat-file", mode)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	return &catFile{cmd: cmd, in: in, out: bufio.NewReader(out)}, nil
}

// ask writes oid and reads the answer's header, "<oid> blob <size>", and returns the size.
func (c *catFile) ask(oid string) (int64, error) {
	if _, err := io.WriteString(c.in, oid+"\n"); err != nil {
		return 0, fmt.Errorf("git cat-file: %w", err)
	}
	header, err := c.out.ReadSlice('\n')
	if err != nil {
		return 0, fmt.Errorf("git cat-file: %w", err)
	}
	f := strings.Fields(string(header))
	if len(f) != 3 || f[0] != oid || f[1] != "blob" {
		return 0, fmt.Errorf("git cat-file: unexpected answer %q for blob %s", bytes.TrimSpace(header), oid)
	}
	size, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || size < 0 {
		return 0, fmt.Errorf("git cat-file: unexpected size in %q", bytes.TrimSpace(header))
	}
	return size, nil
}

// size returns the size of the blob oid (--batch-check).
func (c *catFile) size(oid string) (int64, error) { return c.ask(oid) }

// blob returns the content of the blob oid (--batch), whose size --batch-check gave.
func (c *catFile) blob(oid string, size int64) ([]byte, error) {
	got, err := c.ask(oid)
	if err != nil {
		return nil, err
	}
	if got != size {
		return nil, fmt.Errorf("git cat-file: blob %s has %d bytes, not %d", oid, got, size)
	}
	data := make([]byte, size+1) // the content and its trailing newline
	if _, err := io.ReadFull(c.out, data); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	return data[:size:size], nil
}

// close ends the process: end of input makes cat-file exit. Output it did not read (an answer
// cut short by an error) is discarded.
func (c *catFile) close() error {
	c.in.Close()
	_, _ = io.Copy(io.Discard, c.out)
	return c.cmd.Wait()
}

// gitStream runs git with args in dir and hands its standard output to read as it comes; the
// process ends with ctx, or when read returns (its error is returned, and git is stopped).
func gitStream(ctx context.Context, dir string, read func(*bufio.Reader) error, args ...string) error {
	prog, err := hermetic.Git()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	var errb bytes.Buffer
	cmd.Stderr = &limitedWriter{buf: &errb, max: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	rerr := read(bufio.NewReaderSize(out, maxTreeRecord))
	if rerr != nil {
		cancel()
	}
	werr := cmd.Wait()
	switch {
	case rerr != nil:
		return rerr
	case werr != nil && strings.TrimSpace(errb.String()) != "":
		return fmt.Errorf("git %s: %w: %s", args[0], werr, strings.TrimSpace(errb.String()))
	case werr != nil:
		return fmt.Errorf("git %s: %w", args[0], werr)
	}
	return nil
}

// limitedWriter keeps the first max bytes written to it and drops the rest.
type limitedWriter struct {
	buf *bytes.Buffer
	max int
}

// Write keeps what fits and reports everything written.
func (w *limitedWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
