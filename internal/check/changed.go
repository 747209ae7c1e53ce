package check

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"polc.dev/polc/internal/hermetic"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
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
// that hold them or whose kustomization reaches them (an overlay module and its base elsewhere),
// the modules that include a changed component, and every module that depends on those, directly
// or not. A change to polc.yaml affects every module, and so does a changed YAML file that no
// module holds or reaches (a path a Flux Kustomization may deploy), unless polc.yaml excludes it.
// The result is sorted.
func AffectedModules(repo *rule.Repo, files []string) []string {
	owners := map[string]bool{}
	var trees map[*module.Module][]string
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
			continue
		}
		if trees == nil {
			trees = moduleTrees(repo)
		}
		reached := false
		for m, dirs := range trees {
			if slices.ContainsFunc(dirs, func(d string) bool { return f == d || strings.HasPrefix(f, d+"/") }) {
				owners[m.Name()] = true
				reached = true
			}
		}
		if !reached && deployable(repo, f) {
			return moduleNames(repo)
		}
	}
	names := make([]string, 0, len(owners))
	for n := range owners {
		names = append(names, n)
	}
	sort.Strings(names)
	return repo.Graph.Dependents(names)
}

// deployable reports whether a changed file that no module holds may still be deployed by one: a
// Kubernetes manifest (a YAML file with a top-level apiVersion) outside the policy pack, the
// cluster entry points, hidden directories and polc.yaml spec.exclude.
func deployable(repo *rule.Repo, f string) bool {
	if ext := path.Ext(f); ext != ".yaml" && ext != ".yml" {
		return false
	}
	// The pack, cluster entry points (checked on their own) and excluded paths deploy no module.
	for _, d := range append([]string{repo.Config.Spec.PoliciesDir}, repo.Config.Spec.Clusters...) {
		if d = path.Clean(d); f == d || strings.HasPrefix(f, d+"/") {
			return false
		}
	}
	if repo.Config.Excluded(f) {
		return false
	}
	data, err := repo.ReadFile(f)
	if err != nil {
		return false // deleted, or refused: nothing to render
	}
	return bytes.HasPrefix(data, []byte("apiVersion:")) || bytes.Contains(data, []byte("\napiVersion:"))
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

// componentUsers returns the modules whose kustomization reaches the component's directory.
func componentUsers(repo *rule.Repo, c *module.Module) []string {
	var users []string
	for _, m := range repo.Modules {
		if m.Spec.Type != module.Component && slices.Contains(kustomizeTree(repo, m.Dir), c.Dir) {
			users = append(users, m.Name())
		}
	}
	return users
}

// moduleTrees returns, for each module that is not a component, the directories and files its
// kustomization reaches outside its own directory.
func moduleTrees(repo *rule.Repo) map[*module.Module][]string {
	out := map[*module.Module][]string{}
	for _, m := range repo.Modules {
		if m.Spec.Type != module.Component {
			out[m] = kustomizeTree(repo, m.Dir)
		}
	}
	return out
}

// maxTree bounds the paths kustomizeTree collects for one module.
const maxTree = 256

// kustomizeTree returns the local paths (repository-relative) that the kustomization in dir
// reaches through resources, components and bases, recursively, without dir itself: an overlay's
// base directories and the files it lists. Paths that leave the repository, remote entries and
// unreadable kustomizations are ignored (rendering reports them); the walk is bounded.
func kustomizeTree(repo *rule.Repo, dir string) []string {
	seen := map[string]bool{dir: true}
	queue := []string{dir}
	for len(queue) > 0 && len(seen) < maxTree {
		d := queue[0]
		queue = queue[1:]
		for _, entry := range kustomizationEntries(repo, d) {
			p := path.Clean(path.Join(d, entry))
			if seen[p] || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(entry, "://") {
				continue
			}
			seen[p] = true
			queue = append(queue, p)
		}
	}
	delete(seen, dir)
	return slices.Sorted(maps.Keys(seen))
}

// kustomizationEntries returns the resources, components and bases of the kustomization in dir,
// or nothing when dir has none.
func kustomizationEntries(repo *rule.Repo, dir string) []string {
	for _, name := range manifest.KustomizationFiles {
		data, err := repo.ReadFile(path.Join(dir, name))
		if err != nil {
			continue
		}
		var k struct {
			Resources  []string `yaml:"resources"`
			Components []string `yaml:"components"`
			Bases      []string `yaml:"bases"`
		}
		if yaml.Unmarshal(data, &k) != nil {
			return nil
		}
		return slices.Concat(k.Resources, k.Components, k.Bases)
	}
	return nil
}
