// Package fix applies the mechanical fixes of polc's findings to a repository's files: the module
// labels, the depends-on annotation and the Pod Security labels of owned Namespaces, a missing
// CHANGELOG.md and spec.version synced from the changelog.
//
// Fixes are driven by the findings the rules report on the loaded and rendered repository, so fix
// changes exactly what the rules ask for. Each fix edits the source document the finding's object
// comes from (its file and line), as lines: comments, blank lines, quoting and indentation of
// everything else stay as they are. Plan computes the new file contents in memory; Write writes
// them. A finding fix cannot reach (a file outside the module's directory, a chart's object, a
// value a later transformer overrides) is returned with the reason.
package fix

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Options say what to fix.
type Options struct {
	// Root is the repository root.
	Root string
	// Modules selects modules by name; empty means all.
	Modules []string
	// Rules are the IDs of the rules whose findings to fix (see Fixable); empty means all of them.
	Rules []string
	// ChartCache is the chart cache directory HelmReleases are templated from (check.Options).
	ChartCache string
	// Now decides whether exceptions have expired; zero means the current time.
	Now time.Time
}

// Change is a file that the fixes change or create.
type Change struct {
	// Path is relative to the repository root, slash-separated.
	Path string
	// Dir is the directory of the module the file belongs to: Write writes nothing outside it.
	Dir string
	// Old is the current content (nil for a new file); New the content after the fixes.
	Old, New []byte
	// Create is true for a file that does not exist yet.
	Create bool
	// Mode is the file's permission bits, kept when it is written.
	Mode fs.FileMode
	// Rules are the IDs of the rules whose fixes change the file, sorted.
	Rules []string
}

// Skip is a finding that fix does not fix, and why.
type Skip struct {
	Finding rule.Finding
	Reason  string
}

// Result is a plan: the changes to make and the findings left alone.
type Result struct {
	// Changes are sorted by path.
	Changes []Change
	// Skipped are sorted by file, line and rule.
	Skipped []Skip
}

// fixable are the rules fix knows how to fix, by ID.
var fixable = []*rule.Rule{
	&builtin.DepsNamespaceAnnotation,
	&builtin.LabelsModule,
	&builtin.ModuleFiles,
	&builtin.ModuleVersion,
	&builtin.SecurityNamespacePSA,
}

// Fixable returns the IDs of the rules fix knows how to fix, sorted.
func Fixable() []string {
	out := make([]string, len(fixable))
	for i, r := range fixable {
		out[i] = r.ID
	}
	sort.Strings(out)
	return out
}

// UnknownRuleError is a --rule ID that fix cannot fix.
type UnknownRuleError struct{ ID string }

func (e *UnknownRuleError) Error() string {
	return fmt.Sprintf("rule %q has no fix; fixable rules: %s", e.ID, strings.Join(Fixable(), ", "))
}

// rulesFor returns the fixable rules among ids (all when ids is empty).
func rulesFor(ids []string) ([]*rule.Rule, error) {
	if len(ids) == 0 {
		return fixable, nil
	}
	var out []*rule.Rule
	for _, id := range ids {
		i := slices.IndexFunc(fixable, func(r *rule.Rule) bool { return r.ID == id })
		if i < 0 {
			return nil, &UnknownRuleError{ID: id}
		}
		if !slices.Contains(out, fixable[i]) {
			out = append(out, fixable[i])
		}
	}
	return out, nil
}

// Plan loads and renders the repository as polc check does, runs the fixable rules on the
// selected modules, and returns the file changes that fix their findings, with the findings it
// leaves and why. Nothing is written. Rendering stops when ctx ends.
func Plan(ctx context.Context, opts Options) (*Result, error) {
	rules, err := rulesFor(opts.Rules)
	if err != nil {
		return nil, err
	}
	repo, _, err := check.Load(opts.Root, builtin.All())
	if err != nil {
		return nil, err
	}
	if err := check.Select(repo, opts.Modules); err != nil {
		return nil, err
	}
	repo.Now, repo.ChartCache = opts.Now, opts.ChartCache
	if repo.Now.IsZero() {
		repo.Now = time.Now()
	}
	p := &planner{repo: repo, store: newStore(repo), actions: map[string]*action{}}
	var objectRules []rule.Rule
	for _, r := range rules {
		if r.CheckObject != nil {
			objectRules = append(objectRules, *r)
		}
	}
	if len(objectRules) > 0 {
		p.renderSkips(check.Render(ctx, repo))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	for _, m := range repo.Reported() {
		for _, r := range rules {
			if r.CheckModule != nil {
				for _, f := range r.CheckModule(repo, m) {
					f.Rule, f.Severity, f.Hint = r.ID, r.Severity, r.Remediation
					p.finding(m, nil, f)
				}
			}
		}
		for _, o := range repo.Objects[m.Name()] {
			for _, f := range check.CheckObject(repo, m, o, objectRules) {
				p.finding(m, o, f)
			}
		}
	}
	return p.run(), nil
}

// planner collects the actions that fix the findings of one run, then runs them.
type planner struct {
	repo    *rule.Repo
	store   *store
	actions map[string]*action
	skips   []Skip
}

// action is one edit of one file that fixes one or more findings.
type action struct {
	// rule is the rule the action fixes; mod the module whose file it edits; rel the file; id
	// tells apart the actions of one rule on one file (the document or key they edit).
	rule string
	id   string
	mod  *module.Module
	rel  string
	// create is true when the action writes a new file (content).
	create  bool
	content []byte
	// edit changes the file's content; it reports whether anything changed.
	edit func(f *file) (bool, error)
	// unchanged says why the findings remain when the edit changes nothing: the file already holds
	// what the action writes, so something else overrides it.
	unchanged string
	findings  []rule.Finding
}

// finding routes one finding of module m (about object o, or nil) to the action that fixes it, or
// records why it cannot be fixed.
func (p *planner) finding(m *module.Module, o *manifest.Object, f rule.Finding) {
	if rule.ConfiguredSeverity(p.repo.Config, f.Rule, f.Severity) == rule.Off || p.excepted(m, f) {
		return
	}
	var a *action
	var why string
	switch f.Rule {
	case builtin.LabelsModule.ID:
		a, why = p.labels(m, o)
	case builtin.DepsNamespaceAnnotation.ID:
		a, why = p.namespaceAnnotation(m, o)
	case builtin.SecurityNamespacePSA.ID:
		a, why = p.namespacePSA(m, o, f)
	case builtin.ModuleFiles.ID:
		a, why = p.moduleFiles(m, f)
	case builtin.ModuleVersion.ID:
		a, why = p.moduleVersion(m)
	}
	if a == nil {
		p.skip(f, why)
		return
	}
	key := a.rule + "\x00" + a.rel + "\x00" + a.id
	if prev, ok := p.actions[key]; ok {
		a = prev
	} else {
		p.actions[key] = a
	}
	a.findings = append(a.findings, f)
}

// excepted reports whether a live exception of module m excuses the finding, as check does.
func (p *planner) excepted(m *module.Module, f rule.Finding) bool {
	if f.Object == nil {
		return false
	}
	for _, ex := range m.Spec.Exceptions {
		if ex.Excuses(f.Rule, f.Object.Kind, f.Object.Namespace, f.Object.Name, p.repo.Clock()) {
			return true
		}
	}
	return false
}

func (p *planner) skip(f rule.Finding, why string) {
	p.skips = append(p.skips, Skip{Finding: f, Reason: why})
}

// renderSkips reports what did not render: the objects, and so their findings, are unknown.
func (p *planner) renderSkips(findings []rule.Finding) {
	for _, f := range findings {
		if f.Rule != rule.RenderRule {
			continue
		}
		f.Severity = rule.Error
		why := "what this deploys does not render, so polc fix cannot see its objects; fix the render error first (polc check reports it)"
		if !p.repo.Rendered[f.Module] {
			why = "the module does not render, so polc fix cannot see its objects; fix the render error first (polc check reports it)"
		}
		p.skip(f, why)
	}
}

// run applies the actions in a fixed order (by file, then rule) and returns the plan.
func (p *planner) run() *Result {
	keys := make([]string, 0, len(p.actions))
	for k := range p.actions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := p.actions[keys[i]], p.actions[keys[j]]
		if a.rel != b.rel {
			return a.rel < b.rel
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		a := p.actions[k]
		if why := p.apply(a); why != "" {
			for _, f := range a.findings {
				p.skip(f, why)
			}
		}
	}
	res := &Result{Changes: p.store.changes(), Skipped: p.skips}
	sort.Slice(res.Changes, func(i, j int) bool { return res.Changes[i].Path < res.Changes[j].Path })
	for i := range res.Changes {
		sort.Strings(res.Changes[i].Rules)
	}
	sortSkips(res.Skipped)
	return res
}

// apply runs one action and returns why it fixed nothing, or "".
func (p *planner) apply(a *action) string {
	if a.create {
		f, err := p.store.create(a.mod, a.rel)
		if err != nil {
			return err.Error()
		}
		if f.cur == nil {
			f.cur = a.content
			f.rules[a.rule] = true
		}
		return ""
	}
	f, err := p.store.open(a.mod, a.rel)
	if err != nil {
		return err.Error()
	}
	changed, err := a.edit(f)
	switch {
	case err != nil:
		return err.Error()
	case !changed:
		return a.unchanged
	}
	f.rules[a.rule] = true
	return ""
}

// sortSkips orders skipped findings as check orders findings.
func sortSkips(s []Skip) {
	slices.SortStableFunc(s, func(a, b Skip) int {
		return cmp.Or(check.Compare(a.Finding, b.Finding), strings.Compare(a.Reason, b.Reason))
	})
}

// edit applies step to the document of f that started at line:col in the file as read, and keeps
// the result when it changed the text. Each step sees a fresh parse of the current content.
func (f *file) edit(line, col int, step func(t *text, doc *yaml.Node) (bool, error)) (bool, error) {
	idx, err := f.docIndex(line, col)
	if err != nil {
		return false, err
	}
	t, err := parseText(f.rel, f.cur)
	if err != nil {
		return false, err
	}
	if idx >= len(t.docs) {
		return false, fmt.Errorf("%s: document %d is gone", f.rel, idx+1)
	}
	changed, err := step(t, t.docs[idx])
	if err != nil || !changed {
		return false, err
	}
	f.cur = t.bytes()
	return true, nil
}

// docIndex returns the index of the document that starts at line:col in the file as read (line 0:
// the first document).
func (f *file) docIndex(line, col int) (int, error) {
	if line == 0 {
		return 0, nil
	}
	t, err := parseText(f.rel, f.old)
	if err != nil {
		return 0, err
	}
	for i, d := range t.docs {
		if d.Line == line && d.Column == col {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s:%d: no YAML document starts here", f.rel, line)
}
