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
	// Exclude are globs of repository paths never scanned (ci/**, .archive/**), added to
	// polc.yaml spec.exclude and proposed for it.
	Exclude []string
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
	// deployedBy are the Flux Kustomizations of the repository's own source that deploy Dir.
	deployedBy []*fluxKS
	// typeWhy is the type's fact before classify looks at the content.
	typeWhy Fact
	// partial is true when rendering failed or left remote references out.
	partial bool
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
	// Modules are the proposed polc.yaml spec.modules globs: they match the proposed module
	// directories and no other scanned directory.
	Modules []string
	// Exclude is the proposed polc.yaml spec.exclude.
	Exclude []string
	// FluxPrefixes are the Flux Kustomization name prefixes per module type that the repository
	// uses, when they differ from polc's defaults; nil otherwise.
	FluxPrefixes map[module.Type]string
	// FluxDeployed is true when Flux Kustomizations of the repository's own source deploy
	// directories under the modules root, which are then the modules.
	FluxDeployed bool
	// Defaulted are the namespaces declared restricted without evidence, as "module/namespace".
	Defaulted []string
}

// infraSegments are path elements that make a module infrastructure.
var infraSegments = []string{"infrastructure", "infra", "core", "system", "controllers"}

// fieldOrder is the order of facts, as in module.yaml.
var fieldOrder = []string{"metadata.name", "spec.type", "spec.tier", "spec.version", "spec.namespaces",
	"spec.dependsOn", "spec.softDependsOn", "spec.provides.apis", "spec.uses"}

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
	// exclude are the globs of paths never scanned (polc.yaml spec.exclude and Options.Exclude).
	exclude []string
	// flux caches fluxKustomizations; manifest caches .release-please-manifest.json by directory;
	// tags are the repository's version tags.
	flux     []*fluxKS
	entries  map[string]bool
	labelled map[string]bool
	manifest map[string]string
	tags     tagSet
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
	exclude, err := excludes(cfg, opts.Exclude)
	if err != nil {
		return nil, err
	}
	in := &inferrer{root: root, modulesDir: dir, cfg: cfg, sources: manifest.NewSources(root),
		res:   &Result{Root: root, ModulesDir: dir, Exclude: exclude},
		byDir: map[string]*Proposal{}, overlayOf: map[string][]string{},
		nsOwner: map[string]*Proposal{}, provider: map[string]*Proposal{}, hard: map[string][]string{},
		exclude: exclude, tags: readTags(root), labelled: map[string]bool{}}
	if in.scan, err = scanRepo(root, in.sources, in.excluded); err != nil {
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
	in.classify()
	in.dependencies()
	in.types()
	in.podSecurity()
	slices.Sort(in.res.Defaulted)
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

// candidates chooses the module directories and proposes a module for each. Where Flux
// Kustomizations of the repository's own source deploy directories under the modules root, those
// directories are modules (an overlay that Flux deploys is the module, and the bases it includes
// are not); the top-level kustomization directories that no deployed directory includes, holds or
// lies in stay candidates as before. Among those, a kustomization that includes another candidate
// is an overlay of it, and the included directory is the module.
func (in *inferrer) candidates() {
	flux := map[string]*deployment{}
	for d, dep := range in.deployed() {
		if under(d, in.modulesDir) && d != in.modulesDir && !in.excluded(d) {
			flux[d] = dep
		}
	}
	in.res.FluxDeployed = len(flux) > 0
	coveredBy := map[string]string{}
	for _, f := range slices.Sorted(maps.Keys(flux)) {
		for _, inc := range in.includes(f) {
			if _, ok := coveredBy[inc]; !ok && !in.isComponent(inc) {
				coveredBy[inc] = f
			}
		}
	}
	var tops []string
	for _, d := range slices.Sorted(maps.Keys(in.scan.kustomizations)) {
		switch {
		case !under(d, in.modulesDir) || in.excluded(d) || flux[d] != nil:
		case d == in.modulesDir:
			in.skip(d, "the modules directory itself holds a kustomization; its subdirectories are the candidate modules")
		case in.nested(d):
		case in.inEntryPoint(d) != "":
			in.skip(d, "part of the cluster entry point %s, which deploys the modules to a cluster: list it in polc.yaml spec.clusters; it is not a module", in.inEntryPoint(d))
		case coveredBy[d] != "":
			in.skip(d, "a base that %s includes; Flux deploys that directory, so it is the module and this one is checked as part of it", coveredBy[d])
		default:
			if inner := in.deployedBelow(d, flux); inner != "" {
				in.skip(d, "holds %s, which Flux deploys: the deployed directories are the modules", inner)
				continue
			}
			tops = append(tops, d)
		}
	}
	in.overlays(tops)
	dirs := slices.Collect(maps.Keys(flux))
	for _, d := range tops {
		if bases := in.overlayOf[d]; len(bases) > 0 {
			in.skip(d, "overlay of %s (its kustomization includes them): the included directories are the modules, and the Flux Kustomizations that deploy this overlay count as deploying them",
				strings.Join(bases, ", "))
			continue
		}
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	names := map[*Proposal]naming{}
	for _, d := range dirs {
		nm, notes := in.nameFor(d, flux[d])
		p := in.propose(d, nm)
		if p == nil {
			continue
		}
		if !p.Existing {
			names[p] = nm
			p.Notes = append(p.Notes, notes...)
		}
		if dep := flux[d]; dep != nil {
			p.deployedBy = slices.Concat(dep.direct, dep.generated)
		}
		in.byDir[d] = p
		in.res.Proposals = append(in.res.Proposals, p)
	}
	in.unique(in.res.Proposals, names)
	for _, p := range in.res.Proposals {
		if !p.Existing {
			nm := names[p]
			p.fact("metadata.name", p.Name(), nm.why, nm.source)
			in.version(p)
		}
	}
	sort.Slice(in.res.Proposals, func(i, j int) bool { return in.res.Proposals[i].Name() < in.res.Proposals[j].Name() })
	for _, p := range in.res.Proposals {
		for _, dd := range in.scan.docs {
			if under(dd.file(), p.Dir) && in.ownerDir(dd.file()) == p.Dir {
				p.raw = append(p.raw, dd)
			}
		}
	}
}

// inEntryPoint returns the cluster entry point that holds d, or "".
func (in *inferrer) inEntryPoint(d string) string {
	for _, e := range slices.Sorted(maps.Keys(in.entryPoints())) {
		if under(d, e) {
			return e
		}
	}
	return ""
}

// ownerDir returns the deepest proposed module directory that holds file.
func (in *inferrer) ownerDir(file string) string {
	best := ""
	for d := range in.byDir {
		if under(file, d) && len(d) > len(best) {
			best = d
		}
	}
	return best
}

// deployedBelow returns the first deployed directory strictly below d, or "".
func (in *inferrer) deployedBelow(d string, flux map[string]*deployment) string {
	for _, f := range slices.Sorted(maps.Keys(flux)) {
		if f != d && under(f, d) {
			return f
		}
	}
	return ""
}

// overlays records which of the top-level directories include others (overlays of them).
func (in *inferrer) overlays(tops []string) {
	for _, d := range tops {
		k := in.scan.kustomization(in.sources, d)
		if k == nil {
			continue
		}
		for _, ref := range slices.Concat(scalars(k, "resources"), scalars(k, "bases")) {
			if manifest.IsRemote(ref) {
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

// propose builds the proposal for directory d with its name and a first type (component for a
// kind: Component kustomization, else from the path; classify refines it from the content). It
// returns nil when d cannot be a module.
func (in *inferrer) propose(d string, nm naming) *Proposal {
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
	if nm.name == "" {
		in.skip(d, "no DNS-1123 label can be made of the directory name %q; write its module.yaml by hand", path.Base(d))
		return nil
	}
	m := &module.Module{APIVersion: module.APIVersion, Kind: "Module", Metadata: module.Metadata{Name: nm.name}, Dir: d, File: mfile}
	p := &Proposal{Dir: d, Module: m}
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
		m.Spec.Type = module.Infrastructure
		p.typeWhy = Fact{Field: "spec.type", Value: string(module.Infrastructure), Why: fmt.Sprintf("the path has the element %q", segments[infra]), Source: d}
	default:
		m.Spec.Type = module.Application
		p.typeWhy = Fact{Field: "spec.type", Value: string(module.Application), Why: "nothing in its content or path says infrastructure (no CRD, cluster-scoped kind, operator, well-known infrastructure chart or namespace, and none of the path elements " + strings.Join(infraSegments, ", ") + ")", Source: d}
	}
	if kind != "Component" && slices.Contains(segments, "components") {
		p.note("the path has a components element but %s is not kind: Component, so the module is not a component", kfile)
	}
	return p
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
		p.partial = len(remotes)+len(failures) > 0
		if len(remotes) > 0 {
			var at []string
			for i, f := range remotes {
				if i == 10 {
					at = append(at, fmt.Sprintf("and %d more", len(remotes)-i))
					break
				}
				at = append(at, fmt.Sprintf("%s (%s)", f.Pos, firstLine(f.Message)))
			}
			p.note("lists %d remote reference(s) that polc does not fetch (module/remote); inferred from what renders and its local files: %s", len(remotes), strings.Join(at, "; "))
		}
		if len(failures) > 0 {
			msg := firstLine(failures[0].Message)
			p.note("does not render (%s); inferred from its files where possible, and polc check reports module/render until it is fixed", msg)
		}
	}
}

// firstLine returns the first line of a message, at most 300 bytes of it.
func firstLine(msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return msg
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
		for _, o := range p.namespaceObjects() {
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
					in.labelled[name] = true
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

// namespaceObjects returns the Namespace objects p renders; when rendering was partial (a
// failure or remote references), the Namespace documents of its files too.
func (p *Proposal) namespaceObjects() []*manifest.Object {
	var out []*manifest.Object
	seen := map[string]bool{}
	for _, o := range p.objects {
		if isKind(o.Node, "", "Namespace") && !seen[o.Ref.Name] {
			seen[o.Ref.Name] = true
			out = append(out, o)
		}
	}
	if !p.partial {
		return out
	}
	for _, d := range p.raw {
		if isKind(d.node, "", "Namespace") && d.node.GetName() != "" && !seen[d.node.GetName()] {
			seen[d.node.GetName()] = true
			o := &manifest.Object{Node: d.node, Pos: d.pos}
			o.Ref.Kind, o.Ref.Name, o.Ref.APIVersion = "Namespace", d.node.GetName(), "v1"
			out = append(out, o)
		}
	}
	return out
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
