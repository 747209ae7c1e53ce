// Package baseline records the findings a repository has today, so that polc check can hold them
// while new ones fail: adoption is gradual instead of a wall of findings on the first run.
//
// A finding is recorded by its fingerprint: the rule, the module, the object it is about (API
// group, kind, namespace, name) or, for a finding about no object, the file, and the field.
// Lines, columns and messages stay out, so that moving an object down its file or rewording a
// message keeps the finding baselined. Several findings with one fingerprint are counted: the
// entry records how many, and findings beyond that count are new.
package baseline

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Kind is the kind of a baseline file; its apiVersion is module.APIVersion, like polc.yaml's.
const Kind = "Baseline"

// Object identifies the object a finding is about. The API version is left out (the group is
// kept), so that moving an object to a newer version of its API keeps its findings baselined.
type Object struct {
	// Group is the API group; empty for the core group.
	Group string `yaml:"group,omitempty"`
	// Kind is the object's kind.
	Kind string `yaml:"kind"`
	// Namespace is the object's namespace; empty for cluster-scoped objects.
	Namespace string `yaml:"namespace,omitempty"`
	// Name is the object's name.
	Name string `yaml:"name"`
}

// String renders the object as [group/]Kind [namespace/]name.
func (o Object) String() string {
	kind, name := o.Kind, o.Name
	if o.Group != "" {
		kind = o.Group + "/" + kind
	}
	if o.Namespace != "" {
		name = o.Namespace + "/" + name
	}
	return kind + " " + name
}

// Fingerprint is what identifies a finding across runs, whatever lines move. It is comparable,
// so it serves as a map key.
type Fingerprint struct {
	// Rule is the rule ID.
	Rule string
	// Module is the module of the finding; empty for repository-wide findings.
	Module string
	// Object is the object the finding is about; zero for findings about no object.
	Object Object
	// File stands in for the object of a finding about no object (a module.yaml, a
	// kustomization.yaml); empty when the finding is about an object.
	File string
	// Field is the offending field path, when the rule names one.
	Field string
}

// Of returns the fingerprint of a finding.
func Of(f rule.Finding) Fingerprint {
	fp := Fingerprint{Rule: f.Rule, Module: f.Module, Field: f.Field}
	if f.Object != nil {
		fp.Object = Object{Group: f.Object.Group(), Kind: f.Object.Kind, Namespace: f.Object.Namespace, Name: f.Object.Name}
	} else {
		fp.File = f.Pos.File
	}
	return fp
}

// String renders the fingerprint on one line, as stale entries are listed:
// "labels/module [media] apps/Deployment media/jellyfin metadata.labels".
func (fp Fingerprint) String() string {
	parts := []string{fp.Rule}
	if fp.Module != "" {
		parts = append(parts, "["+fp.Module+"]")
	}
	if fp.Object != (Object{}) {
		parts = append(parts, fp.Object.String())
	}
	if fp.File != "" {
		parts = append(parts, fp.File)
	}
	if fp.Field != "" {
		parts = append(parts, fp.Field)
	}
	return strings.Join(parts, " ")
}

// compare orders fingerprints by rule, module, object, file and field.
func compare(a, b Fingerprint) int {
	return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Module, b.Module),
		cmp.Compare(a.Object.Group, b.Object.Group), cmp.Compare(a.Object.Kind, b.Object.Kind),
		cmp.Compare(a.Object.Namespace, b.Object.Namespace), cmp.Compare(a.Object.Name, b.Object.Name),
		cmp.Compare(a.File, b.File), cmp.Compare(a.Field, b.Field))
}

// File is a baseline file: the findings a repository had when it was written.
type File struct {
	// APIVersion is module.APIVersion.
	APIVersion string `yaml:"apiVersion"`
	// Kind is Kind.
	Kind string `yaml:"kind"`
	// Entries are the recorded findings, one per fingerprint, sorted by fingerprint.
	Entries []Entry `yaml:"entries"`

	// path is the file the baseline was loaded from, and lines the line of each entry, for
	// messages; both are empty for a baseline built in memory.
	path  string
	lines []int
}

// Entry is one fingerprint and how many findings it holds. Rule, Module, Object, File and Field
// are matched; Seen is a hint for the reader and never matched.
type Entry struct {
	// Rule is the rule ID.
	Rule string `yaml:"rule"`
	// Module is the module; empty for repository-wide findings.
	Module string `yaml:"module,omitempty"`
	// Object is the object the findings are about; nil for findings about no object.
	Object *Object `yaml:"object,omitempty"`
	// File is the file of findings about no object (see Fingerprint.File).
	File string `yaml:"file,omitempty"`
	// Field is the offending field path, when the rule names one.
	Field string `yaml:"field,omitempty"`
	// Count is how many findings with this fingerprint the baseline holds (at least 1).
	Count int `yaml:"count"`
	// Seen says where the findings were and what they said when the baseline was written, once
	// for each different file and message. It helps a reader find them; it is never matched, so
	// files of findings about an object and messages may change.
	Seen []Seen `yaml:"seen,omitempty"`
}

// Seen is one recorded finding, as a hint: its file (when the entry does not name it) and its
// message.
type Seen struct {
	// File is the file the finding was in, relative to the repository root.
	File string `yaml:"file,omitempty"`
	// Message is the finding's message.
	Message string `yaml:"message"`
}

// Fingerprint returns the fingerprint the entry matches.
func (e Entry) Fingerprint() Fingerprint {
	fp := Fingerprint{Rule: e.Rule, Module: e.Module, File: e.File, Field: e.Field}
	if e.Object != nil {
		fp.Object = *e.Object
	}
	return fp
}

// Recorded reports whether polc records a finding in a baseline: excepted findings are left out,
// since their exception already excuses them (and its expiry must still fail the run).
func Recorded(f rule.Finding) bool { return !f.Excepted }

// Build returns the baseline of findings: one entry per fingerprint of the recorded findings, with
// their count and hints, sorted. keep are entries to carry over unchanged from an earlier
// baseline (those of modules the run did not check); an entry of keep whose fingerprint the
// findings also have is replaced.
func Build(findings []rule.Finding, keep []Entry) *File {
	byFP := map[Fingerprint]*Entry{}
	for _, f := range findings {
		if !Recorded(f) {
			continue
		}
		fp := Of(f)
		e := byFP[fp]
		if e == nil {
			e = newEntry(fp)
			byFP[fp] = e
		}
		e.Count++
		seen := Seen{File: f.Pos.File, Message: f.Message}
		if fp.File != "" {
			seen.File = "" // the entry names it
		}
		e.Seen = append(e.Seen, seen)
	}
	for _, k := range keep {
		if _, ok := byFP[k.Fingerprint()]; !ok {
			byFP[k.Fingerprint()] = &k
		}
	}
	out := &File{APIVersion: module.APIVersion, Kind: Kind, Entries: make([]Entry, 0, len(byFP))}
	for _, e := range byFP {
		slices.SortFunc(e.Seen, func(a, b Seen) int { return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Message, b.Message)) })
		e.Seen = slices.Compact(e.Seen)
		out.Entries = append(out.Entries, *e)
	}
	slices.SortFunc(out.Entries, func(a, b Entry) int { return compare(a.Fingerprint(), b.Fingerprint()) })
	return out
}

// newEntry returns an entry for fp with no findings counted yet.
func newEntry(fp Fingerprint) *Entry {
	e := &Entry{Rule: fp.Rule, Module: fp.Module, File: fp.File, Field: fp.Field}
	if fp.Object != (Object{}) {
		o := fp.Object
		e.Object = &o
	}
	return e
}

// Result is what applying a baseline to a run's findings gives.
type Result struct {
	// Baselined has one element per finding: true when the baseline holds it.
	Baselined []bool
	// Count is the number of baselined findings.
	Count int
	// Stale are the entries that hold more findings than the run found, in the file's order.
	Stale []Stale
}

// Stale is an entry that no longer matches all the findings it counts.
type Stale struct {
	// Entry is the stale entry.
	Entry Entry
	// Line is the entry's line in the baseline file; 0 when unknown.
	Line int
	// Missing is how many of its Count findings the run did not find (Count when none).
	Missing int
}

// String renders the stale entry on one line: its fingerprint and what is missing.
func (s Stale) String() string {
	str := s.Entry.Fingerprint().String()
	if s.Missing < s.Entry.Count {
		str += fmt.Sprintf(" (%d of %d no longer found)", s.Missing, s.Entry.Count)
	}
	return str
}

// Apply matches the run's findings against the baseline. Each entry holds up to Count recorded
// findings with its fingerprint, in the order of findings (the run's sorted order); any further
// ones are new. inScope says whether the run checked a module ("" for repository-wide
// findings): only entries in scope can be stale, since a run that checks some modules cannot
// know whether the findings of the others are gone. A nil baseline holds nothing.
func (b *File) Apply(findings []rule.Finding, inScope func(module string) bool) Result {
	res := Result{Baselined: make([]bool, len(findings))}
	if b == nil {
		return res
	}
	left := make(map[Fingerprint]int, len(b.Entries))
	for _, e := range b.Entries {
		left[e.Fingerprint()] += e.Count
	}
	for i, f := range findings {
		if !Recorded(f) {
			continue
		}
		fp := Of(f)
		if left[fp] > 0 {
			left[fp]--
			res.Baselined[i] = true
			res.Count++
		}
	}
	for i, e := range b.Entries {
		fp := e.Fingerprint()
		if left[fp] <= 0 || (inScope != nil && !inScope(e.Module)) {
			continue
		}
		res.Stale = append(res.Stale, Stale{Entry: e, Line: b.line(i), Missing: min(left[fp], e.Count)})
		left[fp] = 0 // a fingerprint is listed once, even if (hand-edited) entries repeat it
	}
	return res
}

// line returns the line of entry i in the loaded file, or 0.
func (b *File) line(i int) int {
	if i < len(b.lines) {
		return b.lines[i]
	}
	return 0
}

// Path returns the file the baseline was loaded from; empty for a baseline built in memory.
func (b *File) Path() string { return b.path }

// OutOf returns the entries of modules outside the run's scope (see Apply): those a run that
// checked only some modules keeps when it rewrites the baseline.
func (b *File) OutOf(inScope func(module string) bool) []Entry {
	if b == nil || inScope == nil {
		return nil
	}
	var out []Entry
	for _, e := range b.Entries {
		if !inScope(e.Module) {
			out = append(out, e)
		}
	}
	return out
}
