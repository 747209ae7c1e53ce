package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/fix"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/release/config"
	"polc.dev/polc/internal/rule"
)

// ChangelogFile is a module's changelog, next to its module.yaml.
const ChangelogFile = "CHANGELOG.md"

// ManifestFile is release-please's manifest at the repository root: module path -> version.
const ManifestFile = config.ManifestFile

// Level is the part of a semantic version that a bump raises.
type Level int

// The levels; the zero Level is invalid and BumpOptions read it as Patch.
const (
	_ Level = iota
	Patch
	Minor
	Major
)

// String returns the level's name as the command line spells it.
func (l Level) String() string {
	switch l {
	case Patch:
		return "patch"
	case Minor:
		return "minor"
	case Major:
		return "major"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Next returns the version that follows v at level l, by semver.org 2.0.0 and the rules of npm's
// `semver inc`: build metadata is dropped, and a pre-release is released rather than skipped when
// it already is a pre-release of the version the level asks for. So patch of 1.2.3-rc.1 is 1.2.3;
// minor of 1.2.0-rc.1 is 1.2.0 but minor of 1.2.3-rc.1 is 1.3.0; major of 2.0.0-rc.1 is 2.0.0
// but major of 2.1.0-rc.1 is 3.0.0. Numbers of any length are counted exactly.
func Next(v string, l Level) (string, error) {
	if !builtin.IsSemver(v) {
		return "", fmt.Errorf("%q is not a semantic version (MAJOR.MINOR.PATCH)", v)
	}
	core, _, _ := strings.Cut(v, "+")
	core, pre, _ := strings.Cut(core, "-")
	p := strings.Split(core, ".")
	major, minor, patch := p[0], p[1], p[2]
	switch l {
	case Patch:
		if pre == "" {
			patch = incDecimal(patch)
		}
	case Minor:
		if pre == "" || patch != "0" {
			minor, patch = incDecimal(minor), "0"
		}
	case Major:
		if pre == "" || minor != "0" || patch != "0" {
			major, minor, patch = incDecimal(major), "0", "0"
		}
	default:
		return "", fmt.Errorf("unknown bump level %d", int(l))
	}
	return major + "." + minor + "." + patch, nil
}

// incDecimal adds one to a decimal number written without leading zeros, of any length.
func incDecimal(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return "1" + string(b)
}

// BumpOptions say how to bump.
type BumpOptions struct {
	// Level is the part of the version to raise; zero means Patch.
	Level Level
	// Note is written as a Markdown bullet under the new CHANGELOG heading. Empty means: the
	// content of the `## [Unreleased]` section, or when that is empty a default note that says
	// no notes were given (or, for BumpChanged, which objects changed).
	Note string
	// Date is the release date of the heading, YYYY-MM-DD; empty means today in UTC.
	Date string
	// Changes lists the changed modules for BumpChanged; nil means check.Changes. Tests set it.
	Changes func(ctx context.Context, repo *rule.Repo, rev string) ([]check.Change, error)
}

// Bumped is one module a plan bumps.
type Bumped struct {
	// Module is the module's name, Dir its directory relative to the repository root.
	Module, Dir string
	// From is spec.version before the bump, To after it.
	From, To string
	// Files are the files the bump changes or creates, sorted.
	Files []string
	// Created are the files among Files that do not exist yet.
	Created []string
	// Objects are the objects that changed since the revision (BumpChanged only), sorted.
	Objects []string
	// Dependents are the modules that depend on Module, directly or not (Module excluded),
	// sorted: their tests should run.
	Dependents []string
	// Unlisted is true when the release-please manifest exists but does not list Dir.
	Unlisted bool
}

// Skipped is a changed module that BumpChanged leaves alone, and why.
type Skipped struct {
	Module, Reason string
}

// BumpResult is a plan: the bumps and the file changes that make them. Nothing is written until
// Write.
type BumpResult struct {
	// Bumps are sorted by module name.
	Bumps []Bumped
	// Skipped are the changed modules BumpChanged does not bump, sorted by module name.
	Skipped []Skipped
	// Changes are the file edits, sorted by path; fix.Write writes them and fix.Diff prints them.
	Changes []fix.Change
	// Rev is the revision of BumpChanged, "" for Bump.
	Rev string
}

// Bump plans the release of module name: spec.version raised in its module.yaml, a CHANGELOG.md
// heading with the note, and the release-please manifest entry when there is one. Every file is
// edited as bytes (only the version scalar of module.yaml changes). Components, an unknown
// module, a spec.version that is not semver, a changelog that already names a version at or
// above the new one and any file whose symlinks leave the module's directory (or, for the
// manifest, the repository) are errors, and then nothing is planned.
func Bump(repo *rule.Repo, name string, opts BumpOptions) (*BumpResult, error) {
	p, err := newPlanner(repo, opts)
	if err != nil {
		return nil, err
	}
	m, err := p.module(name)
	if err != nil {
		return nil, err
	}
	if err := p.bump(m, nil, ""); err != nil {
		return nil, err
	}
	return p.result(""), nil
}

// BumpChanged plans a bump of every module whose rendered objects changed since rev (see
// check.Changes), with the default note listing the changed objects. A module whose
// spec.version already rose since rev, or that could not be compared with rev, is skipped with
// the reason.
// All edits are planned before any is returned; one failure fails the whole plan.
func BumpChanged(ctx context.Context, repo *rule.Repo, rev string, opts BumpOptions) (*BumpResult, error) {
	p, err := newPlanner(repo, opts)
	if err != nil {
		return nil, err
	}
	changesOf := opts.Changes
	if changesOf == nil {
		changesOf = check.Changes
	}
	changes, err := changesOf(ctx, repo, rev)
	if err != nil {
		return nil, fmt.Errorf("find the modules changed since %s: %w", rev, err)
	}
	slices.SortFunc(changes, func(a, b check.Change) int { return strings.Compare(a.Module, b.Module) })
	changes = slices.CompactFunc(changes, func(a, b check.Change) bool { return a.Module == b.Module })
	var skipped []Skipped
	for _, c := range changes {
		m, err := p.module(c.Module)
		if err != nil {
			return nil, err
		}
		if why := skipReason(m, c, rev); why != "" {
			skipped = append(skipped, Skipped{Module: c.Module, Reason: why})
			continue
		}
		if err := p.bump(m, c.Objects, objectsNote(rev, c.Objects)); err != nil {
			return nil, err
		}
	}
	res := p.result(rev)
	res.Skipped = skipped
	return res, nil
}

// skipReason says why BumpChanged leaves a changed module alone, or returns "": its objects
// could not be compared with rev, or its spec.version already rose since rev.
func skipReason(m *module.Module, c check.Change, rev string) string {
	v := m.Spec.Version
	switch {
	case c.Err != "":
		return fmt.Sprintf("not compared with %s (%s); bump it by name if it changed", rev, c.Err)
	case builtin.IsSemver(c.Before) && builtin.IsSemver(v) && builtin.CompareSemver(v, c.Before) > 0:
		return fmt.Sprintf("spec.version already rose since %s (%s -> %s)", rev, c.Before, v)
	}
	return ""
}

// maxNoteObjects caps the objects the default note of BumpChanged names.
const maxNoteObjects = 20

// objectsNote is the default note of a module bumped because its objects changed.
func objectsNote(rev string, objects []string) string {
	if len(objects) == 0 {
		return fmt.Sprintf("Rendered objects changed since %s.", rev)
	}
	shown := objects[:min(len(objects), maxNoteObjects)]
	s := "Objects changed since " + rev + ": " + strings.Join(shown, ", ")
	if n := len(objects) - len(shown); n > 0 {
		s += fmt.Sprintf(" and %d more", n)
	}
	return s + "."
}

// planner collects the edits of one plan in memory, file by file, so that several bumps that
// touch one file (the manifest) build on each other and nothing is written until the end.
type planner struct {
	repo  *rule.Repo
	opts  BumpOptions
	files map[string]*fix.Change
	bumps []Bumped
}

func newPlanner(repo *rule.Repo, opts BumpOptions) (*planner, error) {
	if opts.Level == 0 {
		opts.Level = Patch
	}
	if opts.Level < Patch || opts.Level > Major {
		return nil, fmt.Errorf("unknown bump level %d", int(opts.Level))
	}
	if opts.Date == "" {
		opts.Date = time.Now().UTC().Format(time.DateOnly)
	} else if d, err := time.Parse(time.DateOnly, opts.Date); err != nil || d.Format(time.DateOnly) != opts.Date {
		return nil, fmt.Errorf("date %q is not a calendar date written YYYY-MM-DD", opts.Date)
	}
	if opts.Note != "" && strings.TrimSpace(opts.Note) == "" {
		return nil, errors.New("the note is blank; leave it out to use the Unreleased section or the default note")
	}
	return &planner{repo: repo, opts: opts, files: map[string]*fix.Change{}}, nil
}

// module returns the module to bump, or why it cannot be bumped.
func (p *planner) module(name string) (*module.Module, error) {
	m := p.repo.ByName[name]
	switch {
	case m == nil:
		return nil, unknownModule(p.repo, name)
	case m.Spec.Type == module.Component:
		return nil, fmt.Errorf("%s is a component: components have no release of their own, they ship with the modules that include them; bump those instead", name)
	case !builtin.IsSemver(m.Spec.Version):
		return nil, fmt.Errorf("%s: spec.version %q of module %s is not a semantic version; set it to MAJOR.MINOR.PATCH first", m.Pos("spec.version"), m.Spec.Version, name)
	}
	return m, nil
}

// unknownModule is the error for a name no module has; it suggests close names.
func unknownModule(repo *rule.Repo, name string) error {
	var all, near []string
	for _, m := range repo.Modules {
		all = append(all, m.Name())
		if n := m.Name(); name != "" && (strings.Contains(n, name) || strings.Contains(name, n)) || distance(n, name) <= max(1, len(name)/3) {
			near = append(near, n)
		}
	}
	near = slices.Compact(near)
	switch {
	case len(near) > 0:
		return fmt.Errorf("unknown module %q; did you mean %s?", name, strings.Join(near, ", "))
	case len(all) == 0:
		return fmt.Errorf("unknown module %q; the repository has no modules", name)
	}
	return fmt.Errorf("unknown module %q; known modules: %s", name, strings.Join(slices.Compact(all), ", "))
}

// distance is the optimal string alignment distance between a and b, in bytes: insertions,
// deletions, substitutions and swaps of adjacent bytes count one each.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// bump plans module m's bump. objects are the changed objects (BumpChanged) and fallback the
// note to write when neither the options nor the Unreleased section give one ("" for the
// default).
func (p *planner) bump(m *module.Module, objects []string, fallback string) error {
	from := m.Spec.Version
	to, err := Next(from, p.opts.Level)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Pos("spec.version"), err)
	}
	b := Bumped{Module: m.Name(), Dir: m.Dir, From: from, To: to, Objects: objects}
	if err := p.editModuleFile(m, from, to); err != nil {
		return err
	}
	if fallback == "" {
		fallback = fmt.Sprintf("Changes since %s; no release notes were given.", from)
	}
	if err := p.editChangelog(m, to, fallback); err != nil {
		return err
	}
	listed, err := p.editManifest(m, to)
	if err != nil {
		return err
	}
	b.Unlisted = !listed && p.files[ManifestFile] != nil
	b.Files = []string{m.File, path.Join(m.Dir, ChangelogFile)}
	if listed {
		b.Files = append(b.Files, ManifestFile)
	}
	slices.Sort(b.Files)
	if c := p.files[path.Join(m.Dir, ChangelogFile)]; c.Create {
		b.Created = []string{c.Path}
	}
	for _, d := range p.repo.Graph.Dependents([]string{m.Name()}) {
		if d != m.Name() {
			b.Dependents = append(b.Dependents, d)
		}
	}
	p.bumps = append(p.bumps, b)
	return nil
}

// editModuleFile sets spec.version in m's module.yaml.
func (p *planner) editModuleFile(m *module.Module, from, to string) error {
	c, err := p.open(m.Dir, m.File)
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("%s: %w", m.File, fs.ErrNotExist)
	}
	out, err := SetVersion(m.File, c.New, from, to)
	if err != nil {
		return err
	}
	c.New = out
	return nil
}

// editChangelog adds the release heading to m's CHANGELOG.md, creating the file when missing.
func (p *planner) editChangelog(m *module.Module, to, fallback string) error {
	rel := path.Join(m.Dir, ChangelogFile)
	c, err := p.open(m.Dir, rel)
	if err != nil {
		return err
	}
	if c == nil {
		if c, err = p.create(m.Dir, rel); err != nil {
			return err
		}
		c.New = []byte("# Changelog\n\nAll notable changes to module " + m.Name() + " are documented in this file.\n")
	}
	if newest, line := builtin.NewestVersion(c.New); newest != "" && builtin.CompareSemver(newest, to) >= 0 {
		return fmt.Errorf("%s:%d: the changelog already has version %s, not older than the new version %s of module %s; "+
			"make spec.version agree with it first (polc fix --rule module/version) or bump a higher level", rel, line, newest, to, m.Name())
	}
	out, err := AddRelease(c.New, Entry{Version: to, Date: p.opts.Date, Note: p.opts.Note, Fallback: fallback})
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	c.New = out
	return nil
}

// editManifest sets m's entry of the release-please manifest to to, when the manifest exists;
// it reports whether the manifest lists m's directory.
func (p *planner) editManifest(m *module.Module, to string) (bool, error) {
	c, err := p.open(".", ManifestFile)
	if err != nil || c == nil {
		return false, err
	}
	out, n, err := SetManifestVersion(ManifestFile, c.New, m.Dir, to)
	if err != nil {
		return false, err
	}
	c.New = out
	return n > 0, nil
}

// open returns the planned change of file rel, read on first use, or nil when nothing exists at
// rel. The file must resolve, symlinks followed, inside the directory dir (relative to the
// repository root): polc writes a module's own files only.
func (p *planner) open(dir, rel string) (*fix.Change, error) {
	if c, ok := p.files[rel]; ok {
		return c, nil
	}
	if _, err := os.Lstat(filepath.Join(p.repo.Root, filepath.FromSlash(rel))); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	abs, err := p.inside(dir, rel)
	if err != nil {
		return nil, err
	}
	data, err := module.ReadFile(p.repo.Root, rel)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	c := &fix.Change{Path: rel, Dir: dir, Old: data, New: data, Mode: st.Mode().Perm()}
	p.files[rel] = c
	return c, nil
}

// create returns a planned new file rel in directory dir.
func (p *planner) create(dir, rel string) (*fix.Change, error) {
	if _, err := p.inside(dir, path.Dir(rel)); err != nil {
		return nil, err
	}
	c := &fix.Change{Path: rel, Dir: dir, Create: true, Mode: 0o644}
	p.files[rel] = c
	return c, nil
}

// inside resolves rel and checks that it stays inside dir, both relative to the repository root.
func (p *planner) inside(dir, rel string) (string, error) {
	real, err := module.Resolve(p.repo.Root, rel)
	if err != nil {
		return "", err
	}
	base, err := module.Resolve(p.repo.Root, dir)
	if err != nil {
		return "", err
	}
	if real != base && !strings.HasPrefix(real, base+string(filepath.Separator)) {
		return "", fmt.Errorf("%s: symlink leads out of %s (not followed); polc writes only the module's own files", rel, dir)
	}
	return real, nil
}

// result returns the plan, its changes sorted by path.
func (p *planner) result(rev string) *BumpResult {
	res := &BumpResult{Bumps: p.bumps, Rev: rev}
	for _, c := range p.files {
		if c.Create || !bytes.Equal(c.Old, c.New) {
			res.Changes = append(res.Changes, *c)
		}
	}
	slices.SortFunc(res.Changes, func(a, b fix.Change) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(res.Bumps, func(a, b Bumped) int { return strings.Compare(a.Module, b.Module) })
	return res
}

// Write writes the plan's changes into the repository at root, each atomically and inside its
// module's directory (fix.Write).
func (r *BumpResult) Write(root string) error { return fix.Write(root, r.Changes) }

// Diff writes the plan's changes as a unified diff (fix.Diff).
func (r *BumpResult) Diff(w io.Writer) error { return fix.Diff(w, r.Changes) }

// Summary writes what the plan does, one block per module: the versions, the objects that
// changed, the files and the dependents whose tests should run. dryRun words it as what would
// happen.
func (r *BumpResult) Summary(w io.Writer, dryRun bool) error {
	var b strings.Builder
	verb, write := "bumped", "wrote"
	if dryRun {
		verb, write = "would bump", "would write"
	}
	for _, bm := range r.Bumps {
		fmt.Fprintf(&b, "%s %s %s -> %s\n", verb, bm.Module, bm.From, bm.To)
		if len(bm.Objects) > 0 {
			fmt.Fprintf(&b, "  objects changed since %s: %s\n", r.Rev, strings.Join(bm.Objects, ", "))
		}
		for _, f := range bm.Files {
			suffix := ""
			if slices.Contains(bm.Created, f) {
				suffix = " (new)"
			}
			fmt.Fprintf(&b, "  %s %s%s\n", write, f, suffix)
		}
		if bm.Unlisted {
			fmt.Fprintf(&b, "  %s does not list %s; left unchanged\n", ManifestFile, bm.Dir)
		}
		if len(bm.Dependents) == 0 {
			fmt.Fprintf(&b, "  no module depends on %s\n", bm.Module)
		} else {
			fmt.Fprintf(&b, "  modules that depend on %s, whose tests should run: %s\n", bm.Module, strings.Join(bm.Dependents, ", "))
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "skipped %s: %s\n", s.Module, s.Reason)
	}
	if len(r.Bumps) == 0 && len(r.Skipped) == 0 && r.Rev != "" {
		fmt.Fprintf(&b, "no module changed since %s\n", r.Rev)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
