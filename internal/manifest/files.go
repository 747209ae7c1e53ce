package manifest

import (
	"errors"
	"io/fs"
	"os"

	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Files is a read-only view of the repository's files other than the working tree on disk: the
// tree of a git revision, held in memory. A Renderer whose Files is set reads through it only,
// at the same repository-relative paths (Root stays the working tree's root, so paths and
// messages are the same as on disk). Implementations are safe for concurrent use.
type Files interface {
	// ReadFile returns the content of the regular file rel (slash-separated, relative to the
	// root), refusing what module.ReadFile refuses (paths that leave the repository, files over
	// module.MaxFileSize, anything that is not a regular file). Errors name rel; a missing file's
	// error wraps fs.ErrNotExist.
	ReadFile(rel string) ([]byte, error)
	// Stat returns the type of rel: fs.ModeDir for a directory, 0 for a regular file. A missing
	// path's error wraps fs.ErrNotExist; a path that leaves the repository wraps
	// module.ErrLeavesRepo; a path that exists but is not read (a symlink, a submodule) wraps
	// ErrNotFollowed.
	Stat(rel string) (fs.FileMode, error)
	// FileSystem returns kustomize's view of the files, at absolute paths under root. Only its
	// names matter: repoFS reads content through ReadFile.
	FileSystem(root string) filesys.FileSystem
}

// ErrNotFollowed is wrapped by the errors of Files entries that exist but are never read:
// symbolic links and submodules of a git revision (reading them would mean following a link to
// wherever it points, or fetching another repository).
var ErrNotFollowed = errors.New("symlinks and submodules are not followed when rendering a git revision")

// resolve checks that the repository path rel exists without leaving the repository, as
// module.Resolve does on disk.
func (r *Renderer) resolve(rel string) error {
	if r.Files != nil {
		_, err := r.Files.Stat(rel)
		return err
	}
	_, err := module.Resolve(r.Root, rel)
	return err
}

// stat returns the type of the repository path rel (fs.ModeDir for a directory), after
// module.Resolve's checks on disk; its error is Resolve's, or the stat's.
func (r *Renderer) stat(rel string) (fs.FileMode, error) {
	if r.Files != nil {
		return r.Files.Stat(rel)
	}
	abs, err := module.Resolve(r.Root, rel)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return 0, err
	}
	return st.Mode().Type(), nil
}

// isFile reports whether rel is a regular file inside the repository.
func (r *Renderer) isFile(rel string) bool {
	mode, err := r.stat(rel)
	return err == nil && mode.IsRegular()
}

// readFile reads the repository file rel through Files, or from the disk with module.ReadFile.
func readFile(files Files, root, rel string) ([]byte, error) {
	if files != nil {
		return files.ReadFile(rel)
	}
	return module.ReadFile(root, rel)
}
