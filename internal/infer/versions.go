package infer

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/module"
)

// semver returns v without a leading "v" when it is a semantic version, else "".
func semver(v string) string {
	if v = strings.TrimPrefix(v, "v"); builtin.IsSemver(v) {
		return v
	}
	return ""
}

// version sets spec.version from, in order: .release-please-manifest.json (the entry of the
// module's directory), the newest CHANGELOG.md heading, the newest git tag <name>-v<semver> or
// <name>/v<semver>; else 0.1.0, with a note that it is a guess.
func (in *inferrer) version(p *Proposal) {
	if v, src := in.releasePlease(p.Dir); v != "" {
		p.setVersion(v, "the entry of "+p.Dir+" in .release-please-manifest.json", src)
		in.changelogNote(p)
		return
	}
	if v, src, ok := in.changelog(p); ok {
		p.setVersion(v, "the newest version heading of CHANGELOG.md", src)
		return
	}
	if v, src := in.tags.newest(p.Name()); v != "" {
		p.setVersion(v, "the newest git tag "+src, ".git")
		in.changelogNote(p)
		return
	}
	p.Module.Spec.Version = "0.1.0"
	p.fact("spec.version", "0.1.0", "guessed: no release-please manifest entry, CHANGELOG.md heading or git tag names a version; the first version", p.Dir)
	p.note("spec.version 0.1.0 is a guess: no release-please manifest entry, CHANGELOG.md heading or git tag %s-v<version> names one", p.Name())
	in.changelogNote(p)
}

func (p *Proposal) setVersion(v, why, source string) {
	p.Module.Spec.Version = v
	p.fact("spec.version", v, why, source)
}

// changelogNote says that polc check needs a CHANGELOG.md when the module has none.
func (in *inferrer) changelogNote(p *Proposal) {
	if p.Module.Spec.Type == module.Component {
		return
	}
	file := path.Join(p.Dir, "CHANGELOG.md")
	if _, err := module.ReadFile(in.root, file); err != nil {
		p.note("add %s with a `## [%s]` heading: polc check requires it (module/files)", file, p.Module.Spec.Version)
	}
}

// changelog returns the newest version heading of the module's CHANGELOG.md; ok is false when
// there is none (a note says so when the file exists without one).
func (in *inferrer) changelog(p *Proposal) (v, file string, ok bool) {
	file = path.Join(p.Dir, "CHANGELOG.md")
	data, err := module.ReadFile(in.root, file)
	if err != nil {
		return "", "", false
	}
	// Read as rule module/version reads it, so that check agrees with what init proposes.
	v, _ = builtin.NewestVersion(data)
	if v == "" {
		p.note("add a version heading (`## [x.y.z]`) to %s: polc check compares it with spec.version (module/version)", file)
		return "", "", false
	}
	return v, file, true
}

// releasePlease returns the version .release-please-manifest.json holds for dir, and where.
func (in *inferrer) releasePlease(dir string) (string, string) {
	const file = ".release-please-manifest.json"
	if in.manifest == nil {
		in.manifest = map[string]string{}
		if data, err := module.ReadFile(in.root, file); err == nil {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				in.res.Notes = append(in.res.Notes, fmt.Sprintf("%s does not parse (%v); versions are not read from it", file, err))
			}
			for k, v := range m {
				if s, ok := v.(string); ok && semver(s) != "" {
					in.manifest[path.Clean(strings.TrimPrefix(k, "./"))] = semver(s)
				}
			}
		}
	}
	if v, ok := in.manifest[dir]; ok {
		return v, file
	}
	return "", ""
}

// maxTags bounds the entries of .git/refs/tags read.
const maxTags = 10000

// tagSet holds the version tags of the repository, read from .git/refs/tags and
// .git/packed-refs (never by running git).
type tagSet map[string][][2]string

// readTags reads the tag names of the repository at root. A .git that is a file (a worktree) or
// missing gives none.
func readTags(root string) tagSet {
	out := tagSet{}
	add := func(tag string) {
		for _, sep := range []string{"-v", "/v", "@v"} {
			if i := strings.LastIndex(tag, sep); i > 0 && builtin.IsSemver(tag[i+len(sep):]) {
				out[tag[:i]] = append(out[tag[:i]], [2]string{tag[i+len(sep):], tag})
				return
			}
		}
	}
	gitDir := filepath.Join(root, ".git")
	if st, err := os.Lstat(gitDir); err != nil || !st.IsDir() {
		return out
	}
	// Resolve refuses .git/refs or .git/refs/tags linked out of the repository.
	if tagsDir, err := module.Resolve(root, ".git/refs/tags"); err == nil {
		seen := 0
		_ = filepath.WalkDir(tagsDir, func(p string, d os.DirEntry, err error) error {
			if seen++; seen > maxTags {
				return filepath.SkipAll
			}
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(tagsDir, p)
			add(filepath.ToSlash(rel))
			return nil
		})
	}
	// module.ReadFile refuses a FIFO, a device or a link out of the repository, and caps the size.
	if data, err := module.ReadFile(root, ".git/packed-refs"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			_, ref, ok := strings.Cut(sc.Text(), " ")
			if tag, found := strings.CutPrefix(ref, "refs/tags/"); ok && found {
				add(tag)
			}
		}
	}
	return out
}

// newest returns the newest version tagged for name, and the tag (the first tag name of a version
// tagged twice).
func (t tagSet) newest(name string) (string, string) {
	best, bestTag := "", ""
	for _, vt := range t[name] {
		if c := cmpVersion(vt[0], best); best == "" || c > 0 || c == 0 && vt[1] < bestTag {
			best, bestTag = vt[0], vt[1]
		}
	}
	return best, bestTag
}

// cmpVersion orders two semantic versions by precedence, then by text (build metadata).
func cmpVersion(a, b string) int {
	if b == "" {
		return 1
	}
	return cmp.Or(builtin.CompareSemver(a, b), strings.Compare(a, b))
}
