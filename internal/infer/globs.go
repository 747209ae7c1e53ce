package infer

import (
	"path"
	"slices"
	"strings"

	"polc.dev/polc/internal/module"
)

// moduleGlobs returns polc.yaml spec.modules globs that match every directory of mods and no
// other directory of all: for each module directory, the candidate that matches the most module
// directories among <parent>/*, base/*/.../<name> (every element between the modules root and
// the last one a wildcard) and the directory itself, the first on a tie.
func moduleGlobs(mods, all []string, base string) []string {
	isMod := map[string]bool{}
	for _, d := range mods {
		isMod[d] = true
	}
	exact := func(g string) (int, bool) {
		n := 0
		for _, d := range all {
			if module.MatchGlob(g, d) {
				if !isMod[d] {
					return 0, false
				}
				n++
			}
		}
		return n, true
	}
	var out []string
	for _, d := range mods {
		if slices.ContainsFunc(out, func(g string) bool { return module.MatchGlob(g, d) }) {
			continue
		}
		best, bestN := d, 0
		for _, g := range globCandidates(d, base) {
			if n, ok := exact(g); ok && n > bestN {
				best, bestN = g, n
			}
		}
		out = append(out, best)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// globCandidates returns the generalisations of directory d below base, most general first.
func globCandidates(d, base string) []string {
	rel := d
	if base != "." {
		rel = strings.TrimPrefix(d, base+"/")
	}
	elems := strings.Split(rel, "/")
	out := []string{path.Join(path.Dir(d), "*")}
	if len(elems) > 1 {
		wild := slices.Repeat([]string{"*"}, len(elems)-1)
		out = append(out, path.Join(base, path.Join(wild...), elems[len(elems)-1]))
	}
	return append(out, d)
}
