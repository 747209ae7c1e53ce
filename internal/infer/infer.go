// Package infer proposes module metadata for an existing Flux repository that has none yet: the
// logic behind `polc init --infer`.
//
// The unit of a module is a top-level kustomization directory: a directory under the modules
// root that holds a kustomization file while none of its parents below the root does. In the
// home-operations layout (kubernetes/apps/<namespace>/<app>/app, one Flux Kustomization per app
// in <app>/ks.yaml, listed by <namespace>/kustomization.yaml) that unit is the namespace
// directory: module names must equal their directory names and be unique, and every app
// directory there is called app, so the app directories cannot be modules of their own. The
// files below a module directory that its kustomization does not include (the app directories
// that Flux deploys separately) still count as the module's: their CRDs and HelmReleases are
// read for provided APIs and dependencies.
//
// A top-level kustomization that includes (resources or bases) another candidate directory is an
// overlay of it (apps/staging of apps/base/podinfo): the included directory is the module, and
// Flux Kustomizations that deploy the overlay count as deploying the module.
//
// Every inferred value is recorded as a Fact with the file that shows it, so that the user can
// review the proposal before writing it.
package infer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Options say where to look.
type Options struct {
	// Root is the repository root.
	Root string
	// ModulesDir overrides polc.yaml's spec.modulesDir (relative to Root), for repositories whose
	// kustomizations live elsewhere (kubernetes/apps).
	ModulesDir string
}

// Fact is one inferred value of a proposed module.yaml and the reason for it.
type Fact struct {
	// Field is the module.yaml field path (spec.dependsOn).
	Field string
	// Value is what init proposes.
	Value string
	// Why explains the value.
	Why string
	// Source is the file (and line) that shows it.
	Source string
}

// Proposal is the module.yaml proposed for one directory.
type Proposal struct {
	// Dir is the module directory, relative to the root.
	Dir string
	// Module is the proposed metadata, or the existing one when Existing is set.
	Module *module.Module
	// Facts say why each value was chosen, in module.yaml field order.
	Facts []Fact
	// Notes are things the user should know or fix.
	Notes []string
	// Existing is true when the directory already has a module.yaml, which is never overwritten.
	Existing bool

	// objects are the rendered objects (possibly partial when rendering failed).
	objects []*manifest.Object
	// raw are the documents of the YAML files under Dir.
	raw []doc
	// cached holds items() once computed.
	cached []item
}

// Name is the proposed module name.
func (p *Proposal) Name() string { return p.Module.Name() }

// File is the module.yaml path of the proposal, relative to the root.
func (p *Proposal) File() string { return path.Join(p.Dir, module.MetadataFile) }

// Skip is a directory that was considered and not proposed.
type Skip struct {
	Dir    string
	Reason string
}

// Result is everything init inferred.
type Result struct {
	// Root is the absolute repository root.
	Root string
	// ModulesDir is the modules root that was searched.
	ModulesDir string
	// Proposals are the proposed modules, sorted by name.
	Proposals []*Proposal
	// Skipped are the kustomization directories that were not proposed, sorted by directory.
	Skipped []Skip
	// Config is the polc.yaml to write when the repository has none and the defaults do not fit;
	// nil otherwise.
	Config []byte
	// ConfigFacts explain Config's values; ConfigNotes are about polc.yaml.
	ConfigFacts []Fact
	ConfigNotes []string
	// Notes are about the run as a whole.
	Notes []string
}

// infraSegments are path elements that make a module infrastructure.
var infraSegments = []string{"infrastructure", "infra", "core", "system", "controllers"}

// fieldOrder is the order of facts, as in module.yaml.
var fieldOrder = []string{"metadata.name", "spec.type", "spec.tier", "spec.version", "spec.namespaces",
	"spec.dependsOn", "spec.softDependsOn", "spec.provides.apis"}

// inferrer holds the state of one run.
type inferrer struct {
	root       string
	modulesDir string
	cfg        *module.Config
	sources    *manifest.Sources
	scan       *scan
	res        *Result
	// byDir indexes the proposals by directory; overlayOf maps overlay directories to the
	// directories of the modules they include.
	byDir     map[string]*Proposal
	overlayOf map[string][]string
	// nsOwner and provider say which module declares a namespace or an API group.
	nsOwner  map[string]*Proposal
	provider map[string]*Proposal
	// hard is the hard dependency adjacency by module name, for cycle checks.
	hard map[string][]string
}

// Infer proposes a module.yaml for each top-level kustomization directory under the modules root.
func Infer(opts Options) (*Result, error) {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("resolve repository root: %w", err)
	}
	cfg, err := module.LoadConfig(root)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", module.ConfigFile, err)
	}
	dir := cfg.Spec.ModulesDir
	if opts.ModulesDir != "" {
		dir = path.Clean(filepath.ToSlash(opts.ModulesDir))
	}
	abs, err := module.Resolve(root, dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("modules directory: %w", err)
	}
	if st, serr := os.Stat(abs); err != nil || serr != nil || !st.IsDir() {
		return nil, fmt.Errorf("modules directory %q not found in %s; point --modules-dir at the directory that holds the kustomizations (kubernetes/apps)", dir, root)
	}
	in := &inferrer{root: root, modulesDir: dir, cfg: cfg, sources: manifest.NewSources(root),
		res:   &Result{Root: root, ModulesDir: dir},
		byDir: map[string]*Proposal{}, overlayOf: map[string][]string{},
		nsOwner: map[string]*Proposal{}, provider: map[string]*Proposal{}, hard: map[string][]string{}}
	if in.scan, err = scanRepo(root, in.sources); err != nil {
		return nil, fmt.Errorf("read repository: %w", err)
	}
	in.candidates()
	if len(in.res.Proposals) == 0 && len(in.res.Skipped) == 0 {
		in.res.Notes = append(in.res.Notes, fmt.Sprintf("no kustomization file under %s: a polc module is a directory with a kustomization.yaml "+
			"(Flux generates one for a plain directory, polc does not); add one to each directory that Flux deploys, for example with `kustomize create --autodetect`", dir))
	}
	in.render()
	in.namespaces()
	in.provides()
	in.dependencies()
	in.types()
	in.config()
	for _, p := range in.res.Proposals {
		sort.SliceStable(p.Facts, func(i, j int) bool {
			return slices.Index(fieldOrder, p.Facts[i].Field) < slices.Index(fieldOrder, p.Facts[j].Field)
		})
	}
	sort.Slice(in.res.Skipped, func(i, j int) bool { return in.res.Skipped[i].Dir < in.res.Skipped[j].Dir })
	return in.res, nil
}

func (in *inferrer) skip(dir, format string, args ...any) {
	in.res.Skipped = append(in.res.Skipped, Skip{Dir: dir, Reason: fmt.Sprintf(format, args...)})
}

func (p *Proposal) fact(field, value, why, source string) {
	p.Facts = append(p.Facts, Fact{Field: field, Value: value, Why: why, Source: source})
}

func (p *Proposal) note(format string, args ...any) {
	p.Notes = append(p.Notes, fmt.Sprintf(format, args...))
}

// candidates finds the top-level kustomization directories under the modules root, sets overlays
// aside, and proposes a module for each of the others.
func (in *inferrer) candidates() {
	var tops []string
	for _, d := range slices.Sorted(maps.Keys(in.scan.kustomizations)) {
		if !under(d, in.modulesDir) {
			continue
		}
		if d == in.modulesDir {
			in.skip(d, "the modules directory itself holds a kustomization; its subdirectories are the candidate modules")
			continue
		}
		if in.nested(d) {
			continue
		}
		tops = append(tops, d)
	}
	// Overlays: a top-level kustomization that includes another top-level directory.
	for _, d := range tops {
		k := in.scan.kustomization(in.sources, d)
		if k == nil {
			continue
		}
		for _, ref := range slices.Concat(scalars(k, "resources"), scalars(k, "bases")) {
			if strings.Contains(ref, "://") || strings.HasPrefix(ref, "github.com/") {
				continue
			}
			target := path.Join(d, ref)
			for _, other := range tops {
				if other != d && under(target, other) && !slices.Contains(in.overlayOf[d], other) {
					in.overlayOf[d] = append(in.overlayOf[d], other)
				}
			}
		}
	}
	seen := map[string]*Proposal{}
	for _, d := range tops {
		if bases := in.overlayOf[d]; len(bases) > 0 {
			in.skip(d, "overlay of %s (its kustomization includes them): the included directories are the modules, and the Flux Kustomizations that deploy this overlay count as deploying them",
				strings.Join(bases, ", "))
			continue
		}
		p := in.propose(d)
		if p == nil {
			continue
		}
		if first, dup := seen[p.Name()]; dup {
			in.skip(d, "module name %q is already proposed for %s and module names must be unique; rename the directory or write its module.yaml by hand", p.Name(), first.Dir)
			continue
		}
		seen[p.Name()] = p
		in.byDir[d] = p
		in.res.Proposals = append(in.res.Proposals, p)
	}
	sort.Slice(in.res.Proposals, func(i, j int) bool { return in.res.Proposals[i].Name() < in.res.Proposals[j].Name() })
	for _, p := range in.res.Proposals {
		for _, dd := range in.scan.docs {
			if under(dd.file(), p.Dir) {
				p.raw = append(p.raw, dd)
			}
		}
	}
}

// nested reports whether a parent of d below the modules root holds a kustomization.
func (in *inferrer) nested(d string) bool {
	for p := path.Dir(d); p != in.modulesDir && p != "." && p != "/"; p = path.Dir(p) {
		if _, ok := in.scan.kustomizations[p]; ok {
			return true
		}
	}
	return false
}

// bases resolves an overlay to the module directories it includes, through overlays of overlays.
func (in *inferrer) bases(d string, seen map[string]bool) []string {
	if seen[d] {
		return nil
	}
	seen[d] = true
	var out []string
	for _, b := range in.overlayOf[d] {
		if len(in.overlayOf[b]) > 0 {
			out = append(out, in.bases(b, seen)...)
		} else {
			out = append(out, b)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// propose builds the proposal for directory d: name, type from the path and the kustomization
// kind, and version. It returns nil when d cannot be a module.
func (in *inferrer) propose(d string) *Proposal {
	kfile := in.scan.kustomizations[d]
	mfile := path.Join(d, module.MetadataFile)
	if data, err := module.ReadFile(in.root, mfile); err == nil {
		m, err := module.ParseModule(mfile, data)
		if err != nil {
			in.skip(d, "%s exists and does not load (%v); it is left unchanged", mfile, err)
			return nil
		}
		m.Dir, m.File = d, mfile
		p := &Proposal{Dir: d, Module: m, Existing: true}
		p.note("%s exists; it is left unchanged and used as it is for the other modules", mfile)
		return p
	} else if !errors.Is(err, fs.ErrNotExist) {
		in.skip(d, "%s cannot be read: %v", mfile, err)
		return nil
	}
	name := path.Base(d)
	if !module.IsDNSLabel(name) {
		in.skip(d, "directory name %q is not a DNS-1123 label, and a module's name must equal its directory name; rename the directory (lowercase letters, digits and '-')", name)
		return nil
	}
	m := &module.Module{APIVersion: module.APIVersion, Kind: "Module", Metadata: module.Metadata{Name: name}, Dir: d, File: mfile}
	p := &Proposal{Dir: d, Module: m}
	p.fact("metadata.name", name, "the directory name", kfile)

	kind := ""
	if k := in.scan.kustomization(in.sources, d); k != nil {
		kind = k.GetKind()
	}
	segments := strings.Split(d, "/")
	infra := slices.IndexFunc(segments, func(s string) bool { return slices.Contains(infraSegments, strings.ToLower(s)) })
	switch {
	case kind == "Component":
		m.Spec.Type = module.Component
		p.fact("spec.type", string(module.Component), "the kustomization is kind: Component", kfile)
	case infra >= 0:
		seg := segments[infra]
		m.Spec.Type = module.Infrastructure
		p.fact("spec.type", string(module.Infrastructure), fmt.Sprintf("the path has the element %q", seg), d)
	default:
		m.Spec.Type = module.Application
		p.fact("spec.type", string(module.Application), "the path has none of the elements "+strings.Join(infraSegments, ", ")+" and the kustomization is not a Component", d)
	}
	if kind != "Component" && slices.Contains(segments, "components") {
		p.note("the path has a components element but %s is not kind: Component, so the module is not a component", kfile)
	}
	in.version(p)
	return p
}

// versionHeading matches a CHANGELOG.md version heading: ## [1.2.0] - 2025-01-31, or ## 1.2.0.
var versionHeading = regexp.MustCompile(`(?m)^##[ \t]+\[?v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?\]?(?:[ \t]|$)`)

// version sets the version from the newest CHANGELOG.md heading, or 0.1.0.
func (in *inferrer) version(p *Proposal) {
	file := path.Join(p.Dir, "CHANGELOG.md")
	data, err := module.ReadFile(in.root, file)
	if err != nil {
		p.Module.Spec.Version = "0.1.0"
		p.fact("spec.version", "0.1.0", "no CHANGELOG.md; the first version", p.Dir)
		if p.Module.Spec.Type != module.Component {
			p.note("add %s with a `## [0.1.0]` heading: polc check requires it (module/files)", file)
		}
		return
	}
	var best []string
	for _, sm := range versionHeading.FindAllStringSubmatch(string(data), -1) {
		if best == nil || newer(sm, best) {
			best = sm
		}
	}
	if best == nil {
		p.Module.Spec.Version = "0.1.0"
		p.fact("spec.version", "0.1.0", "CHANGELOG.md has no version heading; the first version", file)
		p.note("add a `## [0.1.0]` heading to %s: polc check compares it with spec.version (module/version)", file)
		return
	}
	v := best[1] + "." + best[2] + "." + best[3] + best[4] + best[5]
	p.Module.Spec.Version = v
	p.fact("spec.version", v, "the newest version heading of CHANGELOG.md", file)
}

// newer compares two versionHeading matches: numeric core first, then a release above its
// pre-releases, then pre-releases as strings.
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

// render renders every non-component module (proposed or existing) as polc check does, with
// the same stages: the module's kustomization, the Flux Kustomization paths its objects deploy from
// the repository, and the HelmReleases whose charts are in the repository or the default chart
// cache. What the modules deploy is what inference reads.
func (in *inferrer) render() {
	var mods []*module.Module
	for _, p := range in.res.Proposals {
		mods = append(mods, p.Module)
	}
	repo := rule.NewRepo(in.root, in.cfg, mods)
	repo.ChartCache = check.DefaultChartCache()
	findings := check.Render(context.Background(), repo)
	for _, p := range in.res.Proposals {
		if p.Module.Spec.Type == module.Component || repo.ByName[p.Name()] != p.Module {
			continue
		}
		p.objects = repo.Objects[p.Name()]
		if p.Existing {
			continue
		}
		var remotes, failures []rule.Finding
		for _, f := range findings {
			switch {
			case f.Module != p.Name():
			case f.Rule == rule.RemoteRule:
				remotes = append(remotes, f)
			case f.Rule == rule.RenderRule:
				failures = append(failures, f)
			}
		}
		if len(remotes) > 0 {
			p.note("lists %d remote reference(s), first at %s, that polc does not fetch (module/remote); inferred from its local files", len(remotes), remotes[0].Pos)
		}
		if len(failures) > 0 {
			msg := failures[0].Message
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			if len(msg) > 300 {
				msg = msg[:300] + "..."
			}
			p.note("does not render (%s); inferred from its files where possible, and polc check reports module/render until it is fixed", msg)
		}
	}
}

// namespaces declares the Namespace objects each module renders, with the Pod Security level of
// their enforce label. The first module in name order that creates a namespace owns it.
func (in *inferrer) namespaces() {
	for _, p := range in.res.Proposals {
		if p.Existing {
			for _, ns := range p.Module.Spec.Namespaces {
				if in.nsOwner[ns.Name] == nil {
					in.nsOwner[ns.Name] = p
				}
			}
		}
	}
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Type == module.Component {
			continue
		}
		for _, o := range p.objects {
			if !isKind(o.Node, "", "Namespace") {
				continue
			}
			name := o.Ref.Name
			if !module.IsDNSLabel(name) {
				p.note("Namespace %q at %s is not a valid namespace name; not declared", name, posString(o.Pos))
				continue
			}
			if owner := in.nsOwner[name]; owner != nil {
				if owner != p {
					p.note("Namespace %s at %s is also created by module %s, which declares it; polc check reports the second owner (naming/namespace-ownership)", name, posString(o.Pos), owner.Name())
				}
				continue
			}
			in.nsOwner[name] = p
			ns := module.Namespace{Name: name}
			why := "no pod-security.kubernetes.io/enforce label; restricted by default"
			if v, ok := o.Node.GetLabels()["pod-security.kubernetes.io/enforce"]; ok {
				switch l := module.Level(v); l {
				case module.Restricted, module.Baseline, module.Privileged:
					why = "label pod-security.kubernetes.io/enforce: " + v
					if l != module.Restricted {
						ns.PodSecurity = l
						ns.Reason = fmt.Sprintf("the namespace's pod-security.kubernetes.io/enforce label is %s (%s); replace this with why its workloads need it", v, o.Pos.File)
					}
				default:
					why = fmt.Sprintf("label pod-security.kubernetes.io/enforce has the unknown value %q; restricted by default", v)
				}
			}
			p.Module.Spec.Namespaces = append(p.Module.Spec.Namespaces, ns)
			p.fact("spec.namespaces", name+" ("+string(ns.Level())+")", "Namespace object; "+why, posString(o.Pos))
		}
	}
}

// item is an object a module renders, or a document in its files that it does not render.
type item struct {
	node     *yaml.RNode
	pos      module.Pos
	rendered bool
}

// items returns the rendered objects of p followed by the documents of its files that no rendered
// object comes from. The list is built once, after rendering.
func (p *Proposal) items() []item {
	if p.cached != nil {
		return p.cached
	}
	out := []item{}
	seen := map[string]bool{}
	for _, o := range p.objects {
		out = append(out, item{node: o.Node, pos: o.Pos, rendered: true})
		if o.Source != nil {
			seen[posString(o.Pos)] = true
		}
	}
	for _, d := range p.raw {
		if !seen[posString(d.pos)] {
			out = append(out, item{node: d.node, pos: d.pos})
		}
	}
	p.cached = out
	return out
}

// provides lists the API groups of the CRDs each module holds and of the well-known charts its
// HelmReleases install. The first module in name order that provides a group keeps it.
func (in *inferrer) provides() {
	for _, p := range in.res.Proposals {
		if p.Existing {
			for _, g := range p.Module.Spec.Provides.APIs {
				if in.provider[g] == nil {
					in.provider[g] = p
				}
			}
		}
	}
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Type == module.Component {
			continue
		}
		noted := map[string]bool{}
		add := func(g, why, source string) {
			if g == "" || strings.Contains(g, "${") {
				return
			}
			if owner := in.provider[g]; owner != nil {
				if owner != p && !noted[g] {
					noted[g] = true
					p.note("API group %s (%s, %s) is also provided by module %s, which keeps it", g, why, source, owner.Name())
				}
				return
			}
			in.provider[g] = p
			p.Module.Spec.Provides.APIs = append(p.Module.Spec.Provides.APIs, g)
			p.fact("spec.provides.apis", g, why, source)
		}
		for _, it := range p.items() {
			switch {
			case isKind(it.node, "apiextensions.k8s.io", "CustomResourceDefinition"):
				add(str(it.node, "spec", "group"), "CustomResourceDefinition "+it.node.GetName(), posString(it.pos))
			case isKind(it.node, helmGroup, "HelmRelease"):
				chart, from := in.chartOf(p, it)
				for _, g := range wellKnownCharts[chart] {
					add(g, fmt.Sprintf("HelmRelease %s installs the well-known chart %s%s", it.node.GetName(), chart, from), posString(it.pos))
				}
			}
		}
		slices.Sort(p.Module.Spec.Provides.APIs)
	}
}

const (
	helmGroup   = "helm.toolkit.fluxcd.io"
	fluxKSGroup = "kustomize.toolkit.fluxcd.io"
)

// chartOf returns the chart name of a HelmRelease: spec.chart.spec.chart, or the URL of the
// OCIRepository that spec.chartRef names. from says where the name came from when it is not the
// HelmRelease itself.
func (in *inferrer) chartOf(p *Proposal, it item) (chart, from string) {
	if c := str(it.node, "spec", "chart", "spec", "chart"); c != "" {
		return chartName(c), ""
	}
	kind, name := str(it.node, "spec", "chartRef", "kind"), str(it.node, "spec", "chartRef", "name")
	if kind != "OCIRepository" || name == "" {
		return "", ""
	}
	ns := str(it.node, "spec", "chartRef", "namespace")
	if ns == "" {
		ns = it.node.GetNamespace()
	}
	// Prefer the OCIRepository of the same module, then any other.
	for _, scope := range [][]*Proposal{{p}, in.res.Proposals} {
		for _, q := range scope {
			for _, o := range q.items() {
				if isKind(o.node, "source.toolkit.fluxcd.io", "OCIRepository") && o.node.GetName() == name &&
					(ns == "" || o.node.GetNamespace() == "" || o.node.GetNamespace() == ns) {
					if url := str(o.node, "spec", "url"); url != "" && !strings.Contains(url, "${") {
						return chartName(url), " (OCIRepository " + name + ", " + posString(o.pos) + ")"
					}
				}
			}
		}
	}
	return "", ""
}

func posString(p module.Pos) string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return p.File
}
