// Package check runs the pipeline behind `polc check`: load the repository, render the selected
// modules, run the rules, apply severities and exceptions, and sort the findings.
package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"polc.dev/polc/internal/charts"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Options say what to check.
type Options struct {
	// Root is the repository root.
	Root string
	// Modules selects modules by name; empty means all.
	Modules []string
	// Files selects the modules affected by these changed files (see AffectedModules), in addition
	// to Modules. ChangedSince adds the files changed since a git revision.
	Files        []string
	ChangedSince string
	// ByFiles is true when Files or ChangedSince were given, even if they select nothing.
	ByFiles bool
	// PolicyDirs are directories (relative to Root) of rules that apply to every module, such as
	// the Rego policy directory: a changed file in one selects every module, as polc.yaml does.
	PolicyDirs []string
	// Rules is the rule registry.
	Rules []rule.Rule
	// Sources are extra sources of resource rules, such as a directory of Rego policies. They run
	// on every rendered object of the selected modules, after the registry's rules.
	Sources []Source
	// Now decides whether exceptions have expired; zero means the current time.
	Now time.Time
	// ChartCache is the chart cache directory HelmReleases are templated from (see
	// DefaultChartCache).
	ChartCache string
}

// DefaultChartCache returns the default chart cache directory ($XDG_CACHE_HOME/polc/charts), or
// "" when the system has no cache directory.
func DefaultChartCache() string {
	dir, err := charts.DefaultCacheDir()
	if err != nil {
		return ""
	}
	return dir
}

// Source is an extra source of resource rules (see Options.Sources).
type Source interface {
	// Rules describes the source's rules, so that polc.yaml may configure them and reports can
	// describe them.
	Rules() []rule.Rule
	// Bind prepares the source for the loaded repository, once per run, and returns the function
	// that checks one rendered object of module m. That function is called concurrently; its
	// error means the source itself is broken (exit 2), never that the object is.
	// Evaluation stops when ctx ends.
	Bind(ctx context.Context, repo *rule.Repo) (func(m *module.Module, o *manifest.Object) ([]rule.Finding, error), error)
}

// Result is the outcome of a run.
type Result struct {
	Repo     *rule.Repo
	Findings []rule.Finding
	// Rules are the rules of the run: the registry's, then those of the extra sources.
	Rules []rule.Rule
}

// ConfigError is a problem with polc.yaml, the command line or the repository layout: polc could
// not do its job (exit code 2).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Load reads the configuration and every module's metadata, builds the graph and indexes rules.
// Modules whose metadata does not load are reported as module/metadata findings and left out.
func Load(root string, rules []rule.Rule) (*rule.Repo, []rule.Finding, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	cfg, err := module.LoadConfig(abs)
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	if err := validateRuleConfig(cfg, rules); err != nil {
		return nil, nil, &ConfigError{err}
	}
	if _, err := cfg.RenderTimeout(); err != nil {
		return nil, nil, &ConfigError{err}
	}
	cands, err := module.Discover(abs, cfg)
	if err != nil {
		return nil, nil, &ConfigError{err}
	}
	var mods []*module.Module
	var findings []rule.Finding
	for _, c := range cands {
		if c.Err != nil {
			findings = append(findings, metadataFindings(c)...)
			continue
		}
		mods = append(mods, c.Module)
	}
	repo := rule.NewRepo(abs, cfg, mods)
	repo.Rules = index(rules)
	return repo, findings, nil
}

// index maps rule IDs to the rules of a copy of rules.
func index(rules []rule.Rule) map[string]*rule.Rule {
	rules = slices.Clone(rules)
	out := make(map[string]*rule.Rule, len(rules))
	for i := range rules {
		out[rules[i].ID] = &rules[i]
	}
	return out
}

// metadataFindings turns a module.yaml load error into findings, one per problem.
func metadataFindings(c module.Candidate) []rule.Finding {
	mk := func(pos module.Pos, msg string) rule.Finding {
		return rule.Finding{Rule: rule.MetadataRule, Module: filepath.Base(c.Dir), Pos: pos, Message: msg}
	}
	if de, ok := c.Err.(*module.DecodeError); ok {
		out := make([]rule.Finding, 0, len(de.Errors))
		for _, fe := range de.Errors {
			out = append(out, mk(fe.Pos, fe.Message))
		}
		return out
	}
	return []rule.Finding{mk(module.Pos{File: c.Dir + "/" + module.MetadataFile}, c.Err.Error())}
}

// validateRuleConfig rejects severity overrides for rules that do not exist.
func validateRuleConfig(cfg *module.Config, rules []rule.Rule) error {
	known := map[string]bool{}
	var ids []string
	for _, r := range rules {
		known[r.ID] = true
		ids = append(ids, r.ID)
	}
	for _, id := range sortedKeys(cfg.Spec.Rules) {
		if !known[id] {
			return fmt.Errorf("%s: spec.rules: unknown rule %q; see `polc rules` for the %d rules", cfg.Pos("spec.rules."+id), id, len(ids))
		}
	}
	return nil
}

// Run checks the repository. Rendering stops when ctx ends.
func Run(ctx context.Context, opts Options) (*Result, error) {
	all := opts.Rules
	for _, src := range opts.Sources {
		all = append(slices.Clip(all), src.Rules()...)
	}
	repo, findings, err := Load(opts.Root, all)
	if err != nil {
		return nil, err
	}
	names := opts.Modules
	var touched map[string]bool
	var changed []string // the files changed since opts.ChangedSince
	if opts.ByFiles {
		files := opts.Files
		if opts.ChangedSince != "" {
			changed, err = ChangedFiles(repo.Root, opts.ChangedSince)
			if err != nil {
				return nil, &ConfigError{err}
			}
			files = append(slices.Clip(files), changed...)
		}
		if touchesDirs(files, opts.PolicyDirs) {
			names = moduleNames(repo)
		} else {
			names = append(names, AffectedModules(repo, files)...)
		}
		touched = TouchedClusters(repo, files)
	}
	if err := Select(repo, names); err != nil {
		return nil, err
	}
	if opts.ByFiles && repo.Selected == nil {
		repo.Selected = map[string]bool{} // nothing changed: repository rules only
	}
	repo.Now = opts.Now
	repo.ChartCache = opts.ChartCache
	if repo.Now.IsZero() {
		repo.Now = time.Now() // one clock for the whole run
	}
	// One renderer, so one source cache, for the modules and the cluster entry points: a file
	// both read is read and parsed once.
	r := NewRenderer(repo)
	findings = append(findings, RenderWith(ctx, r, repo)...)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cf, err := runClusters(ctx, r, repo, opts.Rules, touched)
	if err != nil {
		return nil, err
	}
	findings = append(findings, cf...)
	if err := compareChanged(ctx, r, repo, opts, changed); err != nil {
		return nil, err
	}
	found, err := Evaluate(ctx, repo, opts.Rules, opts.Sources)
	if err != nil {
		return nil, err
	}
	findings = Finalize(repo, append(findings, found...))
	return &Result{Repo: repo, Findings: findings, Rules: all}, nil
}

// ReleaseManifest is release-please's manifest file at the repository root: when it exists,
// release-please bumps module versions, and rule versions/bump is off.
const ReleaseManifest = ".release-please-manifest.json"

// compareChanged sets repo.ChangedSince and repo.Changes for rule versions/bump: the modules
// that the files changed since opts.ChangedSince touch, compared with their render at that
// revision (see Changes). It does nothing without --changed-since, when the rule is not in the
// run or is off in polc.yaml, when release-please manages versions (ReleaseManifest exists), or
// when no module changed. r is the run's renderer, whose source cache it reuses.
func compareChanged(ctx context.Context, r *manifest.Renderer, repo *rule.Repo, opts Options, changed []string) error {
	if opts.ChangedSince == "" || !ruleOn(repo, opts.Rules, rule.BumpRule) || repo.Exists(ReleaseManifest) {
		return nil
	}
	repo.ChangedSince = opts.ChangedSince
	mods := BumpCandidates(repo, changed)
	if len(mods) == 0 {
		return nil
	}
	changes, err := compareRevision(ctx, repo, r, opts.ChangedSince, mods)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &ConfigError{err}
	}
	repo.Changes = make(map[string]Change, len(changes))
	for _, c := range changes {
		repo.Changes[c.Module] = c
	}
	return nil
}

// ruleOn reports whether the rule id is among rules and not off in the repository's polc.yaml.
func ruleOn(repo *rule.Repo, rules []rule.Rule, id string) bool {
	i := slices.IndexFunc(rules, func(ru rule.Rule) bool { return ru.ID == id })
	return i >= 0 && repo.SeverityOf(&rules[i]) != rule.Off
}

// Evaluate runs the rules and the extra sources on the loaded, rendered repository: repository
// rules once, module and resource rules and the sources on each selected module. It returns the
// raw findings, stamped with their rule's ID, default severity and hint; Finalize applies the
// repository's configuration to them. Evaluation stops when ctx ends.
func Evaluate(ctx context.Context, repo *rule.Repo, rules []rule.Rule, sources []Source) ([]rule.Finding, error) {
	all := slices.Clone(rules)
	for _, src := range sources {
		all = append(all, src.Rules()...)
	}
	repo.Rules = index(all)
	found := runRules(repo, rules)
	extra, err := runSources(ctx, repo, sources)
	if err != nil {
		return nil, err
	}
	return append(found, extra...), nil
}

// Finalize applies the repository's configuration to raw findings, as every command reports
// them: module exceptions mark the findings they excuse (at the run's clock), polc.yaml severity
// overrides apply and rules that are off drop out, the findings a component's objects give in
// each module that includes it are reported once, and the result is sorted.
func Finalize(repo *rule.Repo, findings []rule.Finding) []rule.Finding {
	findings = fromRegistry(repo, findings)
	findings = applyExceptions(repo, findings, repo.Clock())
	findings = applySeverities(repo.Config, findings)
	findings = mergeComponentFindings(repo, findings)
	Sort(findings)
	return findings
}

// touchesDirs reports whether one of files (relative) is inside one of dirs (relative).
func touchesDirs(files, dirs []string) bool {
	for _, d := range dirs {
		d = path.Clean(filepath.ToSlash(d))
		for _, f := range files {
			if f = path.Clean(filepath.ToSlash(f)); d == "." || f == d || strings.HasPrefix(f, d+"/") {
				return true
			}
		}
	}
	return false
}

// Select restricts the run to the named modules; unknown names are a usage error.
func Select(repo *rule.Repo, names []string) error {
	if len(names) == 0 {
		return nil
	}
	repo.Selected = map[string]bool{}
	for _, n := range names {
		if repo.ByName[n] == nil {
			return &ConfigError{fmt.Errorf("unknown module %q; known modules: %s", n, strings.Join(moduleNames(repo), ", "))}
		}
		repo.Selected[n] = true
	}
	return nil
}

func moduleNames(repo *rule.Repo) []string {
	var out []string
	for _, m := range repo.Modules {
		out = append(out, m.Name())
	}
	return out
}

// selected returns the modules this run reports on, in name order.
func selected(repo *rule.Repo) []*module.Module {
	var out []*module.Module
	for _, m := range repo.Modules {
		if repo.ByName[m.Name()] != m {
			continue // a duplicate name
		}
		if repo.Selected == nil || repo.Selected[m.Name()] {
			out = append(out, m)
		}
	}
	return out
}

// parallel runs fn for each selected module on GOMAXPROCS workers and collects the findings.
func parallel(repo *rule.Repo, fn func(m *module.Module) []rule.Finding) []rule.Finding {
	mods := selected(repo)
	jobs := make(chan *module.Module)
	var mu sync.Mutex
	var out []rule.Finding
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(mods), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range jobs {
				f := fn(m)
				mu.Lock()
				out = append(out, f...)
				mu.Unlock()
			}
		}()
	}
	for _, m := range mods {
		jobs <- m
	}
	close(jobs)
	wg.Wait()
	return out
}

// NewRenderer returns the renderer of the loaded repository: its substitution values, its limits,
// and one source cache for the run.
func NewRenderer(repo *rule.Repo) *manifest.Renderer {
	timeout, _ := repo.Config.RenderTimeout() // validated by Load
	return &manifest.Renderer{Root: repo.Root, Vars: repo.Config.Spec.Substitute, Sources: manifest.NewSources(repo.Root),
		Limits: manifest.Limits{Timeout: timeout}}
}

// Render renders every selected non-component module in parallel into repo.Objects and returns a
// module/render finding for each module that fails and a module/remote finding for each remote
// reference that was not fetched. It then follows the Flux Kustomizations of the rendered objects
// (follow), and records in repo.Gaps what the selected modules deploy that polc does not render.
func Render(ctx context.Context, repo *rule.Repo) []rule.Finding {
	return RenderWith(ctx, NewRenderer(repo), repo)
}

// RenderWith is Render with the renderer r (see NewRenderer), whose source cache the caller may
// go on using.
func RenderWith(ctx context.Context, r *manifest.Renderer, repo *rule.Repo) []rule.Finding {
	var mu sync.Mutex
	findings := parallel(repo, func(m *module.Module) []rule.Finding {
		if m.Spec.Type == module.Component || !repo.Exists(m.Dir+"/kustomization.yaml") {
			return nil // a directory without a kustomization renders when a Flux Kustomization deploys it
		}
		objs, remotes, err := r.Render(ctx, m.Dir, m.Name())
		mu.Lock()
		repo.Objects[m.Name()] = objs
		repo.Rendered[m.Name()] = err == nil
		mu.Unlock()
		out := RemoteFindings(m.Name(), remotes)
		if err == nil {
			return out
		}
		pos := module.Pos{File: m.Dir + "/kustomization.yaml"}
		if re, ok := err.(*manifest.RenderError); ok {
			pos = re.Pos
		}
		return append(out, rule.Finding{Rule: rule.RenderRule, Module: m.Name(), Pos: pos,
			Message: err.Error(), Hint: "Run `polc render " + m.Name() + "` to see what kustomize builds, fix the kustomization, or set the variable in polc.yaml spec.substitute."})
	})
	followed := Follow(ctx, r, repo)
	// A module whose own build failed but that its deploying Flux Kustomization builds (with the
	// variables of its postBuild) is rendered: its build's failure is not a finding.
	findings = slices.DeleteFunc(findings, func(f rule.Finding) bool { return f.Rule == rule.RenderRule && repo.Rendered[f.Module] })
	return append(findings, followed...)
}

// Follow renders what the rendered objects of the selected modules deploy: the paths of their Flux
// Kustomizations (see follow), then the charts of every HelmRelease found (renderCharts). It adds
// those objects to the modules, sets repo.Gaps to what polc could not render, and returns the
// module/render and module/remote findings of what it rendered.
func Follow(ctx context.Context, r *manifest.Renderer, repo *rule.Repo) []rule.Finding {
	rest := &others{ctx: ctx, r: r, repo: repo}
	findings, followGaps := follow(ctx, r, repo, rest)
	chartFindings, chartGaps := renderCharts(ctx, repo, rest)
	repo.Gaps = append(followGaps, chartGaps...)
	return append(findings, chartFindings...)
}

// RemoteFindings reports the remote references of module mod that polc did not fetch.
func RemoteFindings(mod string, remotes []manifest.Remote) []rule.Finding {
	var out []rule.Finding
	for _, rem := range remotes {
		out = append(out, rule.Finding{Rule: rule.RemoteRule, Module: mod, Pos: rem.Pos,
			Message: fmt.Sprintf("%s entry %q is remote: polc does not fetch it, so what it adds is not checked here (only in the cluster)", rem.Field, rem.Ref),
			Hint:    "Vendor the remote content into the repository, or accept the gap with a module exception for module/remote."})
	}
	return out
}

// runRules runs repository rules once, and module and resource rules per selected module.
func runRules(repo *rule.Repo, rules []rule.Rule) []rule.Finding {
	var out []rule.Finding
	for i := range rules {
		if rules[i].CheckRepo != nil {
			out = append(out, stamp(&rules[i], rules[i].CheckRepo(repo))...)
		}
	}
	return append(out, parallel(repo, func(m *module.Module) []rule.Finding {
		var out []rule.Finding
		for i := range rules {
			if rules[i].CheckModule != nil {
				out = append(out, stamp(&rules[i], rules[i].CheckModule(repo, m))...)
			}
		}
		for _, o := range repo.Objects[m.Name()] {
			out = append(out, CheckObject(repo, m, o, rules)...)
		}
		return out
	})...)
}

// stamp sets the ID, default severity and hint of rule ru on the findings its check returned.
func stamp(ru *rule.Rule, findings []rule.Finding) []rule.Finding {
	for i := range findings {
		findings[i].Rule, findings[i].Severity, findings[i].Hint = ru.ID, ru.Severity, ru.Remediation
	}
	return findings
}

// runSources binds each extra rule source and runs it on every object of the selected modules.
// When a source fails on some objects, the first error in message order is returned.
func runSources(ctx context.Context, repo *rule.Repo, sources []Source) ([]rule.Finding, error) {
	var all []rule.Finding
	for _, src := range sources {
		check, err := src.Bind(ctx, repo)
		if err != nil {
			return nil, &ConfigError{err}
		}
		var mu sync.Mutex
		var errs []string
		all = append(all, parallel(repo, func(m *module.Module) []rule.Finding {
			var out []rule.Finding
			for _, o := range repo.Objects[m.Name()] {
				f, err := check(m, o)
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					return out
				}
				out = append(out, f...)
			}
			return out
		})...)
		if len(errs) > 0 {
			sort.Strings(errs)
			return nil, &ConfigError{errors.New(errs[0])}
		}
	}
	return all, nil
}

// CheckObject runs the resource rules on one object.
func CheckObject(repo *rule.Repo, m *module.Module, o *manifest.Object, rules []rule.Rule) []rule.Finding {
	var out []rule.Finding
	for i := range rules {
		ru := &rules[i]
		if ru.CheckObject == nil || len(ru.Kinds) > 0 && !slices.Contains(ru.Kinds, o.Ref.Kind) {
			continue
		}
		for _, v := range ru.CheckObject(repo, m, o) {
			ref := o.Ref
			msg := v.Message
			if o.Origin.Kind == manifest.FromHelm {
				msg += fmt.Sprintf(" (%s, from chart %s, %s)", ref, o.Origin.Chart, o.Origin.Template)
			}
			out = append(out, rule.Finding{Rule: ru.ID, Severity: ru.Severity, Module: m.Name(), Pos: o.FieldPos(v.Field),
				Object: &ref, Field: v.Field, Message: msg, Hint: ru.Remediation})
		}
	}
	return out
}

// fromRegistry completes the findings the engine reports itself (module/metadata, module/render,
// module/remote) from the run's rules: the rule's default severity and, unless the finding has a
// more specific one, its remediation as the hint. A rule the run does not have reports errors.
func fromRegistry(repo *rule.Repo, findings []rule.Finding) []rule.Finding {
	for i := range findings {
		f := &findings[i]
		if f.Severity != "" {
			continue
		}
		f.Severity = rule.Error
		if ru := repo.Rules[f.Rule]; ru != nil {
			f.Severity = ru.Severity
			if f.Hint == "" {
				f.Hint = ru.Remediation
			}
		}
	}
	return findings
}

// applySeverities applies polc.yaml severity overrides and drops findings of rules that are off.
func applySeverities(cfg *module.Config, findings []rule.Finding) []rule.Finding {
	out := findings[:0]
	for _, f := range findings {
		if f.Severity = rule.ConfiguredSeverity(cfg, f.Rule, f.Severity); f.Severity != rule.Off {
			out = append(out, f)
		}
	}
	return out
}

// applyExceptions marks findings on objects that a live exception of their module covers.
func applyExceptions(repo *rule.Repo, findings []rule.Finding, now time.Time) []rule.Finding {
	for i := range findings {
		f := &findings[i]
		m := repo.ByName[f.Module]
		if f.Object == nil || m == nil {
			continue
		}
		for _, ex := range m.Spec.Exceptions {
			if ex.Excuses(f.Rule, f.Object.Kind, f.Object.Namespace, f.Object.Name, now) {
				f.Excepted, f.Reason = true, ex.Reason
				break
			}
		}
	}
	return findings
}

// mergeComponentFindings reports once the findings that a component's objects give in each
// module that includes it: the same rule, file, line, object, field and message (and the same
// exception verdict) in several modules becomes one finding of the component, whose message names
// the including modules.
func mergeComponentFindings(repo *rule.Repo, findings []rule.Finding) []rule.Finding {
	type key struct {
		rule, file, field, msg, object string
		line, col                      int
		excepted                       bool
	}
	var comps []*module.Module
	for _, m := range repo.Modules {
		if m.Spec.Type == module.Component && m.Dir != "" && repo.ByName[m.Name()] == m {
			comps = append(comps, m)
		}
	}
	if len(comps) == 0 {
		return findings
	}
	first := map[key]int{}
	modules := map[int][]string{}
	owner := map[int]*module.Module{}
	out := findings[:0]
	for _, f := range findings {
		comp := componentOf(comps, f.Pos.File)
		if comp == nil || f.Module == "" || f.Module == comp.Name() {
			out = append(out, f)
			continue
		}
		// Each including module may put the object in its own namespace: the namespace is not
		// part of the key, and a merged finding whose namespaces differ names none.
		obj := ""
		if f.Object != nil {
			obj = f.Object.APIVersion + "/" + f.Object.Kind + "/" + f.Object.Name
		}
		k := key{f.Rule, f.Pos.File, f.Field, f.Message, obj, f.Pos.Line, f.Pos.Column, f.Excepted}
		i, seen := first[k]
		switch {
		case !seen:
			i = len(out)
			first[k] = i
			out = append(out, f)
			owner[i] = comp
		case f.Object != nil && out[i].Object.Namespace != f.Object.Namespace:
			ref := *out[i].Object
			ref.Namespace = ""
			out[i].Object = &ref
		}
		modules[i] = append(modules[i], f.Module)
	}
	for i, mods := range modules {
		sort.Strings(mods)
		mods = slices.Compact(mods)
		comp := owner[i]
		word := "module"
		if len(mods) > 1 {
			word = "modules"
		}
		out[i].Module = comp.Name()
		out[i].Message += fmt.Sprintf(" (component %s, included by %s %s)", comp.Name(), word, strings.Join(mods, ", "))
	}
	return out
}

// componentOf returns the component of comps whose directory holds the repository file rel, or nil.
func componentOf(comps []*module.Module, rel string) *module.Module {
	for _, m := range comps {
		if strings.HasPrefix(rel, m.Dir+"/") {
			return m
		}
	}
	return nil
}

// Sort orders findings by file, line, column, rule and message, then module, field and object, so
// output never depends on scheduling.
func Sort(findings []rule.Finding) { slices.SortStableFunc(findings, Compare) }

// Compare orders two findings as Sort does: -1, 0 or +1.
func Compare(a, b rule.Finding) int {
	if c := cmp.Compare(a.Pos.File, b.Pos.File); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column),
		cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.Module, b.Module), // a component's object, included by several modules
		cmp.Compare(a.Field, b.Field), cmp.Compare(objectKey(a.Object), objectKey(b.Object)))
}

func objectKey(r *rule.ObjectRef) string {
	if r == nil {
		return ""
	}
	return r.APIVersion + "/" + r.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
