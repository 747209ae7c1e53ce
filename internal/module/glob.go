package module

import (
	"fmt"
	"path"
	"strings"
)

// MatchGlob reports whether the slash-separated repository path name matches pattern: path
// elements are matched one by one with path.Match ('*', '?', '[...]' within an element), and an
// element '**' matches any number of elements, none included. A malformed pattern matches nothing
// (ParseConfig refuses one).
func MatchGlob(pattern, name string) bool {
	return matchElems(splitPath(pattern), splitPath(name))
}

// splitPath splits a cleaned repository path into its elements; the root (".") has none.
func splitPath(p string) []string {
	p = path.Clean(p)
	if p == "." || p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// matchElems matches path elements against pattern elements by dynamic programming over
// (pattern, name) positions, so that a pattern with many '**' costs len(pat)*len(name) steps,
// not an exponential search.
func matchElems(pat, name []string) bool {
	// ok[j] reports whether pat[i:] matches name[j:], for the current i, computed from the end.
	ok := make([]bool, len(name)+1)
	ok[len(name)] = true // the empty pattern matches the empty name
	for i := len(pat) - 1; i >= 0; i-- {
		next := make([]bool, len(name)+1)
		if pat[i] == "**" {
			// ** matches name[j:k] for any k >= j: next[j] = ok[j] || next[j+1].
			next[len(name)] = ok[len(name)]
			for j := len(name) - 1; j >= 0; j-- {
				next[j] = ok[j] || next[j+1]
			}
		} else {
			for j := range name {
				if m, err := path.Match(pat[i], name[j]); err == nil && m {
					next[j] = ok[j+1]
				}
			}
		}
		ok = next
	}
	return ok[0]
}

// globBase returns the directory a pattern's matches all lie under: its leading elements without
// glob syntax.
func globBase(pattern string) string {
	var base []string
	for _, e := range splitPath(pattern) {
		if strings.ContainsAny(e, `*?[\`) {
			break
		}
		base = append(base, e)
	}
	if len(base) == 0 {
		return "."
	}
	return strings.Join(base, "/")
}

// checkGlob says what is wrong with a repository glob: absolute, leaving the repository, or
// malformed.
func checkGlob(pattern string) error {
	clean := path.Clean(pattern)
	if pattern == "" {
		return fmt.Errorf("empty pattern")
	}
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("%q leaves the repository", pattern)
	}
	for _, e := range splitPath(pattern) {
		if e == "**" {
			continue
		}
		if _, err := path.Match(e, ""); err != nil {
			return fmt.Errorf("%q is not a valid glob: %v", pattern, err)
		}
	}
	return nil
}

// ModuleGlobs returns the globs of module directories: spec.modules, or the modules directory and
// everything below it.
func (c *Config) ModuleGlobs() []string {
	if len(c.Spec.Modules) > 0 {
		return c.Spec.Modules
	}
	return []string{path.Join(path.Clean(c.Spec.ModulesDir), "**")}
}

// IsModuleDir reports whether the repository directory dir matches one of the module globs.
func (c *Config) IsModuleDir(dir string) bool {
	for _, g := range c.ModuleGlobs() {
		if MatchGlob(g, dir) {
			return true
		}
	}
	return false
}

// Excluded reports whether polc.yaml spec.exclude excludes the repository path rel, or one of the
// directories above it. Hidden files and directories (.git, .github, .archive) are always
// excluded.
func (c *Config) Excluded(rel string) bool {
	elems := splitPath(rel)
	for i, e := range elems {
		if strings.HasPrefix(e, ".") {
			return true
		}
		sub := strings.Join(elems[:i+1], "/")
		for _, g := range c.Spec.Exclude {
			if MatchGlob(g, sub) {
				return true
			}
		}
	}
	return false
}
