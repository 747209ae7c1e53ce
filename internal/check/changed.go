package check

import (
	"bytes"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// ChangedFiles lists the files that differ between rev and the working tree (staged, unstaged and
// untracked), relative to the repository root, using git.
func ChangedFiles(root, rev string) ([]string, error) {
	// The three git commands are independent: run them at once, as pre-commit waits for them.
	var out [3]string
	var errs [3]error
	var wg sync.WaitGroup
	for i, args := range [][]string{
		{"rev-parse", "--show-toplevel"},
		{"diff", "--name-only", "--no-renames", rev, "--"},
		{"ls-files", "--others", "--exclude-standard", "--full-name"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = git(root, args...)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	top, diff, untracked := out[0], out[1], out[2]
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if err != nil {
		return nil, err
	}
	prefix, err := filepath.Rel(strings.TrimSpace(top), realRoot)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(diff+"\n"+untracked, "\n") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if prefix != "." {
			rel, err := filepath.Rel(prefix, f)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue // outside the repository polc checks
			}
			f = rel
		}
		files = append(files, filepath.ToSlash(f))
	}
	return files, nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
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
