package fix

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"polc.dev/polc/internal/module"
)

// Write writes the changes into the repository at root, each atomically: a temporary file in the
// same directory, renamed over the file, with the file's mode. Every write goes through an
// os.Root opened at the module's directory, so no path or symlink can lead a write out of it, and
// a file that changed on disk since Plan read it is left alone. Write stops at the first error.
func Write(root string, changes []Change) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if err := writeOne(root, c); err != nil {
			return fmt.Errorf("write %s: %w", c.Path, err)
		}
	}
	return nil
}

// writeOne writes one change.
func writeOne(root string, c Change) error {
	dir, err := module.Resolve(root, c.Dir)
	if err != nil {
		return err
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	name, err := nameIn(root, dir, c)
	if err != nil {
		return err
	}
	switch old, err := r.ReadFile(name); {
	case c.Create && !errors.Is(err, fs.ErrNotExist):
		return errors.New("the file appeared since polc read the repository; run the command again")
	case !c.Create && err != nil:
		return err
	case !c.Create && !bytes.Equal(old, c.Old):
		return errors.New("the file changed since polc read it; run the command again")
	}
	tmp, err := tempName(name)
	if err != nil {
		return err
	}
	if err := r.WriteFile(tmp, c.New, c.Mode); err != nil {
		return err
	}
	if err := r.Chmod(tmp, c.Mode); err == nil {
		err = r.Rename(tmp, name)
		if err == nil {
			return nil
		}
	}
	r.Remove(tmp)
	return err
}

// nameIn returns the change's file, relative to the resolved module directory dir: the file's
// own resolved path (a symlink inside the module is written through), or for a new file its
// resolved directory and name.
func nameIn(root, dir string, c Change) (string, error) {
	target := c.Path
	if c.Create {
		target = path.Dir(c.Path)
	}
	real, err := module.Resolve(root, target)
	if err != nil {
		return "", err
	}
	if c.Create {
		real = filepath.Join(real, path.Base(c.Path))
	}
	rel, err := filepath.Rel(dir, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", errLeavesModule
	}
	return rel, nil
}

// tempName returns a fresh name for a temporary file next to name.
func tempName(name string) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".polc-fix-"+hex.EncodeToString(b)), nil
}
