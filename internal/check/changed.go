package check

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"polc.dev/polc/internal/hermetic"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// ChangedFiles lists the files that differ between rev and the working tree (staged, unstaged and
// untracked), relative to the repository root, using git.
//
// rev comes from the command line of CI jobs that check untrusted pull requests, and the file
// names from the repository itself, so git is run defensively: rev is resolved to a commit hash
// first (a rev that looks like an option, such as --output=FILE, is refused, never passed on),
// name lists are read NUL-separated (-z), so that no name is quoted or split, and git diff runs
// no external diff driver or textconv filter that .gitattributes could name.
func ChangedFiles(root, rev string) ([]string, error) {
	// The git commands are independent but the diff, which needs the resolved commit: run the
	// others at once, as pre-commit waits for them.
	var out [3]string
	var errs [3]error
	var wg sync.WaitGroup
	for i, args := range [][]string{
		{"rev-parse", "--show-toplevel"},
		{"rev-parse", "--verify", "--end-of-options", rev + "^{commit}"},
		{"ls-files", "-z", "--others", "--exclude-standard", "--full-name"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = git(root, args...)
		}()
	}
	wg.Wait()
	if errs[0] != nil {
		return nil, errs[0]
	}
	if errs[1] != nil {
		return nil, &RevError{Rev: rev, Err: errs[1]}
	}
	if errs[2] != nil {
		return nil, errs[2]
	}
	top, commit, untracked := strings.TrimSuffix(out[0], "\n"), strings.TrimSpace(out[1]), out[2]
	if !isHash(commit) {
		return nil, &RevError{Rev: rev, Err: fmt.Errorf("git rev-parse printed %q, not a commit hash", commit)}
	}
	diff, err := git(root, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", "--no-textconv", commit, "--")
	if err != nil {
		return nil, err
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return nil, err
	}
	prefix, err := filepath.Rel(top, realRoot)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range slices.Concat(strings.Split(diff, "\x00"), strings.Split(untracked, "\x00")) {
		if f == "" {
			continue
		}
		f = filepath.FromSlash(f)
		if prefix != "." {
			rel, err := filepath.Rel(prefix, f)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				continue // outside the repository polc checks
			}
			f = rel
		}
		files = append(files, filepath.ToSlash(f))
	}
	return files, nil
}

// RevError is a --changed-since revision that git does not resolve to a commit: a usage error.
type RevError struct {
	Rev string
	Err error
}

// Error names the revision, quoted, as it may hold anything.
func (e *RevError) Error() string {
	return fmt.Sprintf("--changed-since %q is not a commit of the repository: %v", e.Rev, e.Err)
}

// Unwrap returns git's error.
func (e *RevError) Unwrap() error { return e.Err }

// isHash reports whether s is a full commit hash (SHA-1 or SHA-256), as git rev-parse prints it.
func isHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// git runs git with args in dir, directly (never through a shell), and returns its standard
// output. GIT_OPTIONAL_LOCKS=0 keeps read-only commands from refreshing the index, so polc
// never writes into the repository it checks.
func git(dir string, args ...string) (string, error) {
	prog, err := hermetic.Git()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			return "", fmt.Errorf("git %s: %w", args[0], err)
		}
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return out.String(), nil
}

// AffectedModules maps changed files (repository-relative) to the modules to check: the modules
// that hold them, the modules that include a changed component, and every module that depends on
// those, directly or not. A change to polc.yaml affects every module. The result is sorted.
func AffectedModules(repo *rule.Repo, files []string) []string {
	owners := map[string]bool{}
	for _, f := range files {
		f = path.Clean(filepath.ToSlash(f))
		if f == module.ConfigFile {
			return moduleNames(repo)
		}
		if m := moduleOf(repo, f); m != nil {
			owners[m.Name()] = true
			if m.Spec.Type == module.Component {
				for _, user := range componentUsers(repo, m) {
					owners[user] = true
				}
			}
		}
	}
	names := make([]string, 0, len(owners))
	for n := range owners {
		names = append(names, n)
	}
	sort.Strings(names)
	return repo.Graph.Dependents(names)
}

// moduleOf returns the module whose directory holds file, the innermost one when nested.
func moduleOf(repo *rule.Repo, file string) *module.Module {
	var best *module.Module
	for _, m := range repo.Modules {
		if strings.HasPrefix(file, m.Dir+"/") && (best == nil || len(m.Dir) > len(best.Dir)) {
			best = m
		}
	}
	return best
}

// componentUsers returns the modules whose kustomization lists the component's directory.
func componentUsers(repo *rule.Repo, c *module.Module) []string {
	var users []string
	for _, m := range repo.Modules {
		if m.Spec.Type == module.Component {
			continue
		}
		data, err := repo.ReadFile(m.Dir + "/kustomization.yaml")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			entry := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
			if entry != "" && path.Clean(path.Join(m.Dir, entry)) == c.Dir {
				users = append(users, m.Name())
				break
			}
		}
	}
	return users
}
