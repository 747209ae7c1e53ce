package infer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"polc.dev/polc/internal/module"
)

// maxRefsSize bounds how much of .git/packed-refs init reads.
const maxRefsSize = 8 << 20

// versionHeading matches a CHANGELOG.md version heading: ## [1.2.0] - 2025-01-31, or ## 1.2.0.
var versionHeading = regexp.MustCompile(`(?m)^##[ \t]+\[?v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?\]?(?:[ \t]|$)`)

// semverText matches a whole semantic version, with an optional leading v.
var semverText = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

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
	var best []string
	for _, sm := range versionHeading.FindAllStringSubmatch(string(data), -1) {
		if best == nil || newer(sm, best) {
			best = sm
		}
	}
	if best == nil {
		p.note("add a version heading (`## [x.y.z]`) to %s: polc check compares it with spec.version (module/version)", file)
		return "", "", false
	}
	return best[1] + "." + best[2] + "." + best[3] + best[4] + best[5], file, true
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
				if s, ok := v.(string); ok && semverText.MatchString(s) {
					in.manifest[path.Clean(strings.TrimPrefix(k, "./"))] = strings.TrimPrefix(s, "v")
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
			if i := strings.LastIndex(tag, sep); i > 0 {
				v := tag[i+len(sep):]
				if semverText.MatchString(v) {
					out[tag[:i]] = append(out[tag[:i]], [2]string{v, tag})
				}
				return
			}
		}
	}
	gitDir := filepath.Join(root, ".git")
	if st, err := os.Lstat(gitDir); err != nil || !st.IsDir() {
		return out
	}
	tagsDir := filepath.Join(gitDir, "refs", "tags")
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
	// module.ReadFile refuses a FIFO, a device or a link out of the repository, and caps the size.
	if data, err := module.ReadFile(root, ".git/packed-refs"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data[:min(len(data), maxRefsSize)]))
		for sc.Scan() {
			_, ref, ok := strings.Cut(sc.Text(), " ")
			if tag, found := strings.CutPrefix(ref, "refs/tags/"); ok && found {
				add(tag)
			}
		}
	}
	return out
}

// newest returns the newest version tagged for name, and the tag.
func (t tagSet) newest(name string) (string, string) {
	var best []string
	bestTag := ""
	for _, vt := range t[name] {
		sm := semverText.FindStringSubmatch(vt[0])
		if best == nil || newer(sm, best) || !newer(best, sm) && vt[1] < bestTag {
			best, bestTag = sm, vt[1]
		}
	}
	if best == nil {
		return "", ""
	}
	return best[1] + "." + best[2] + "." + best[3] + best[4] + best[5], bestTag
}

// newer compares two version matches (whole match, major, minor, patch, pre-release, build):
// numeric core first, then a release above its pre-releases, then pre-releases as strings.
func newer(a, b []string) bool {
	for i := 1; i <= 3; i++ {
		x, y := atoi(a[i]), atoi(b[i])
		if x != y {
			return x > y
		}
	}
	switch {
	case a[4] == b[4]:
		return false
	case a[4] == "":
		return true
	case b[4] == "":
		return false
	}
	return a[4] > b[4]
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			return n
		}
	}
	return n
}
