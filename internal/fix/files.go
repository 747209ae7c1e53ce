package fix

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// file is one repository file that fixes read and change, in memory.
type file struct {
	// rel is the path relative to the repository root, slash-separated.
	rel string
	// dir is the directory of the module the file belongs to.
	dir string
	// old is the content on disk (nil for a file fix creates); cur the content after the fixes.
	old, cur []byte
	// create is true for a file that does not exist yet.
	create bool
	// mode is the file's permission bits, kept when it is written.
	mode fs.FileMode
	// rules are the rules whose fixes changed the file.
	rules map[string]bool
}

// store holds the files of one plan. Every path is checked before it is read: it must lie in the
// directory of the module whose finding it fixes (and of no module nested in it), and no symlink
// on the way may lead out of that directory.
type store struct {
	repo  *rule.Repo
	files map[string]*file
}

func newStore(repo *rule.Repo) *store { return &store{repo: repo, files: map[string]*file{}} }

// inModule reports why rel (relative to the repository) is not a file of module m's directory, or
// returns "".
func (s *store) inModule(m *module.Module, rel string) string {
	clean := path.Clean(rel)
	if m.Dir == "" || clean == ".." || strings.HasPrefix(clean, "../") || path.IsAbs(clean) {
		return fmt.Sprintf("%s is outside the repository", rel)
	}
	if m.Dir != "." && !strings.HasPrefix(clean, m.Dir+"/") {
		return fmt.Sprintf("%s is outside the directory of module %s (%s); polc fix edits only the module's own files", rel, m.Name(), m.Dir)
	}
	for _, o := range s.repo.Modules {
		nested := o != m && o.Dir != m.Dir && (m.Dir == "." || strings.HasPrefix(o.Dir+"/", m.Dir+"/"))
		if nested && strings.HasPrefix(clean, o.Dir+"/") {
			return fmt.Sprintf("%s belongs to module %s (%s), nested in module %s", rel, o.Name(), o.Dir, m.Name())
		}
	}
	return ""
}

// open returns the file rel of module m, read on first use. The error says why fix may not touch
// it.
func (s *store) open(m *module.Module, rel string) (*file, error) {
	if f, ok := s.files[rel]; ok {
		if f.dir != m.Dir {
			return nil, fmt.Errorf("%s is edited for another module too", rel)
		}
		return f, nil
	}
	if why := s.inModule(m, rel); why != "" {
		return nil, errors.New(why)
	}
	if err := s.resolveInside(m, rel); err != nil {
		return nil, err
	}
	data, err := module.ReadFile(s.repo.Root, rel)
	if err != nil {
		return nil, err
	}
	abs, _ := module.Resolve(s.repo.Root, rel)
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	f := &file{rel: rel, dir: m.Dir, old: data, cur: data, mode: st.Mode().Perm(), rules: map[string]bool{}}
	s.files[rel] = f
	return f, nil
}

// create returns a new file rel of module m, refused when anything (even a dangling symlink)
// exists at that path.
func (s *store) create(m *module.Module, rel string) (*file, error) {
	if f, ok := s.files[rel]; ok {
		return f, nil
	}
	if why := s.inModule(m, rel); why != "" {
		return nil, errors.New(why)
	}
	if err := s.resolveInside(m, path.Dir(rel)); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(filepath.Join(s.repo.Root, filepath.FromSlash(rel))); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s exists but cannot be read as a regular file of the module; fix it by hand", rel)
	}
	f := &file{rel: rel, dir: m.Dir, create: true, mode: 0o644, rules: map[string]bool{}}
	s.files[rel] = f
	return f, nil
}

// resolveInside checks that rel, symlinks followed, stays inside module m's directory.
func (s *store) resolveInside(m *module.Module, rel string) error {
	real, err := module.Resolve(s.repo.Root, rel)
	if err != nil {
		return err
	}
	dir, err := module.Resolve(s.repo.Root, m.Dir)
	if err != nil {
		return err
	}
	if real != dir && !strings.HasPrefix(real, dir+string(filepath.Separator)) {
		return fmt.Errorf("%s: %w", rel, errLeavesModule)
	}
	return nil
}

// errLeavesModule is the error of a path whose symlinks lead out of its module's directory.
var errLeavesModule = errors.New("symlink leads out of the module directory (not followed)")

// changes returns the files whose content changed.
func (s *store) changes() []Change {
	var out []Change
	for _, f := range s.files {
		if !f.create && string(f.old) == string(f.cur) || f.create && f.cur == nil {
			continue
		}
		c := Change{Path: f.rel, Dir: f.dir, Old: f.old, New: f.cur, Create: f.create, Mode: f.mode}
		for r := range f.rules {
			c.Rules = append(c.Rules, r)
		}
		out = append(out, c)
	}
	return out
}
