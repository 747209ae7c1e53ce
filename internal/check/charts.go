package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"polc.dev/polc/internal/charts"
	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/helm"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// helmGroup is the API group of Flux HelmReleases.
const helmGroup = "helm.toolkit.fluxcd.io"

// release is one HelmRelease to template, an object of module mod.
type release struct {
	mod string
	hr  *manifest.Object
}

// templated is the outcome of templating one release.
type templated struct {
	objs     []*manifest.Object
	findings []rule.Finding
	gap      *rule.Gap
}

// renderCharts templates, as helm-controller installs them, the HelmReleases among the rendered
// objects of the selected modules (their own and those of followed Flux Kustomizations), and adds
// the objects to the modules. A chart comes from the repository (its own GitRepository) or from
// the chart cache (repo.ChartCache; `polc charts pull` fills it); polc never downloads one here.
// A HelmRelease whose chart cannot be resolved or is not cached is returned as a gap with the
// reason; one whose values or templates fail gives a module/render finding.
func renderCharts(ctx context.Context, repo *rule.Repo, rest *others) ([]rule.Finding, []rule.Gap) {
	var work []release
	for _, m := range selected(repo) {
		for _, o := range repo.Objects[m.Name()] {
			if o.Ref.Group() == helmGroup && o.Ref.Kind == "HelmRelease" {
				work = append(work, release{mod: m.Name(), hr: o})
			}
		}
	}
	if len(work) == 0 {
		return nil, nil
	}
	find := objectIndex(repo, rest)
	loader := &chartLoader{repo: repo, cache: charts.Cache{Dir: repo.ChartCache}, charts: map[string]*loadedChart{}}
	results := make([]templated, len(work))
	each(len(work), func(i int) { results[i] = templateOne(ctx, repo, loader, find, work[i]) })
	var findings []rule.Finding
	var gaps []rule.Gap
	for i, res := range results {
		findings = append(findings, res.findings...)
		if res.gap != nil {
			gaps = append(gaps, *res.gap)
		}
		repo.Objects[work[i].mod] = append(repo.Objects[work[i].mod], res.objs...)
	}
	return findings, gaps
}

// templateOne resolves, loads and templates one HelmRelease.
func templateOne(ctx context.Context, repo *rule.Repo, loader *chartLoader, find manifest.Lookup, rel release) templated {
	hr := rel.hr
	self := charts.SourceRef{Kind: repo.Config.Spec.Source.Kind, Namespace: repo.Config.Spec.Source.Namespace, Name: repo.Config.Spec.Source.Name}
	res, reason, detail := charts.Resolve(hr.Node, charts.Lookup(find), self)
	if reason != "" {
		return templated{gap: chartGap(rel, cause(string(reason)), fmt.Sprintf("%s is not rendered: %s (%s)", hr.Ref, reason, detail))}
	}
	ch, name, err := loader.load(res)
	if errors.Is(err, charts.ErrNotCached) {
		return templated{gap: chartGap(rel, "chart-not-cached", fmt.Sprintf("%s is not rendered: chart %s is not in the chart cache; run `polc charts pull` first", hr.Ref, name))}
	}
	if err != nil {
		return templated{findings: []rule.Finding{chartError(rel, name, err)}}
	}
	values, err := releaseValues(hr, find)
	var ve *helm.ValuesError
	if errors.As(err, &ve) && errors.Is(ve.Reason, helm.ErrResourceNotFound) {
		return templated{gap: chartGap(rel, "values-not-found", fmt.Sprintf("%s is not rendered: %v, not found in the repository (Flux reads it from the cluster)", hr.Ref, err))}
	}
	if err != nil {
		return templated{findings: []rule.Finding{chartError(rel, name, err)}}
	}
	objs, err := helm.Template(ctx, ch, releaseOptions(repo, hr, values))
	if err != nil {
		return templated{findings: []rule.Finding{chartError(rel, name, err)}}
	}
	out := make([]*manifest.Object, 0, len(objs))
	for _, t := range objs {
		out = append(out, &manifest.Object{Node: t.Node, Module: rel.mod, Ref: manifest.RefOf(t.Node), Pos: hr.Pos,
			Origin: manifest.Origin{Kind: manifest.FromHelm, By: hr.Ref.Namespace + "/" + hr.Ref.Name, Chart: name, Template: t.Template}})
	}
	return templated{objs: out}
}

// releaseOptions are the install settings of HelmRelease hr, as helm-controller derives them.
func releaseOptions(repo *rule.Repo, hr *manifest.Object, values map[string]any) helm.Options {
	n := hr.Node
	ns := manifest.String(n, "spec", "targetNamespace")
	name := manifest.String(n, "spec", "releaseName")
	if name == "" {
		name = hr.Ref.Name
		if ns != "" {
			name = ns + "-" + name
		}
	}
	if ns == "" {
		ns = hr.Ref.Namespace
	}
	var post []*yaml.RNode
	if list, _ := n.Pipe(yaml.Lookup("spec", "postRenderers")); list != nil && list.YNode().Kind == yaml.SequenceNode {
		for _, item := range list.Content() {
			post = append(post, yaml.NewRNode(item))
		}
	}
	common, _ := n.Pipe(yaml.Lookup("spec", "commonMetadata"))
	return helm.Options{
		ReleaseName: name, Namespace: ns, HelmReleaseName: hr.Ref.Name, HelmReleaseNamespace: hr.Ref.Namespace,
		Values: values, KubeVersion: repo.Config.Spec.Render.KubeVersion,
		CRDs:                    manifest.String(n, "spec", "install", "crds"),
		PostRenderers:           post,
		PostRenderStrategy:      manifest.String(n, "spec", "postRenderStrategy"),
		CommonMetadata:          common,
		DisableSchemaValidation: manifest.String(n, "spec", "install", "disableSchemaValidation") == "true",
		Tests:                   manifest.String(n, "spec", "test", "enable") == "true",
	}
}

// releaseValues composes the values of HelmRelease hr as helm-controller does: spec.valuesFrom
// in order (ConfigMaps and Secrets of the repository, in the HelmRelease's namespace), then
// spec.values.
func releaseValues(hr *manifest.Object, find manifest.Lookup) (map[string]any, error) {
	var refs []helm.ValuesReference
	if list, _ := hr.Node.Pipe(yaml.Lookup("spec", "valuesFrom")); list != nil && list.YNode().Kind == yaml.SequenceNode {
		for _, item := range list.Content() {
			r := yaml.NewRNode(item)
			refs = append(refs, helm.ValuesReference{Kind: manifest.String(r, "kind"), Name: manifest.String(r, "name"),
				ValuesKey: manifest.String(r, "valuesKey"), TargetPath: manifest.String(r, "targetPath"),
				Optional: manifest.String(r, "optional") == "true"})
		}
	}
	inline := map[string]any{}
	if v, _ := hr.Node.Pipe(yaml.Lookup("spec", "values")); v != nil && v.YNode().Kind == yaml.MappingNode {
		data, err := v.MarshalJSON()
		if err == nil {
			err = json.Unmarshal(data, &inline)
		}
		if err != nil {
			return nil, fmt.Errorf("spec.values: %w", err)
		}
	}
	ns := hr.Ref.Namespace
	return helm.ComposeValues(refs, inline, func(kind, name string) (map[string]string, bool) {
		obj := find(kind, ns, name)
		if obj == nil {
			return nil, false
		}
		return manifest.ObjectData(obj), true
	})
}

// chartLoader loads each chart once per run.
type chartLoader struct {
	repo   *rule.Repo
	cache  charts.Cache
	mu     sync.Mutex
	charts map[string]*loadedChart
}

// loadedChart is a chart loaded once, shared by the HelmReleases that install it.
type loadedChart struct {
	once  sync.Once
	chart *chart.Chart
	err   error
}

// load returns the chart res names and a name for messages (chart@version, or the path).
func (l *chartLoader) load(res charts.Resolved) (*chart.Chart, string, error) {
	key, name := "ref:"+charts.Key(res.Ref), res.Ref.String()
	if res.LocalPath != "" {
		key, name = "path:"+res.LocalPath, res.LocalPath
	}
	l.mu.Lock()
	lc := l.charts[key]
	if lc == nil {
		lc = &loadedChart{}
		l.charts[key] = lc
	}
	l.mu.Unlock()
	lc.once.Do(func() {
		if res.LocalPath != "" {
			lc.chart, lc.err = helm.LoadDir(l.repo.Root, res.LocalPath)
			return
		}
		data, err := l.cache.Get(res.Ref)
		if err != nil {
			lc.err = err
			return
		}
		lc.chart, lc.err = helm.LoadArchive(data)
		if lc.err == nil {
			if err := charts.Matches(lc.chart.Name(), lc.chart.Metadata.Version, res.Ref); err != nil {
				lc.chart, lc.err = nil, fmt.Errorf("the chart cache holds another chart for %s (%w); run `polc charts pull` again", res.Ref, err)
			}
		}
	})
	if lc.chart != nil {
		name = lc.chart.Name() + "@" + lc.chart.Metadata.Version
	}
	return lc.chart, name, lc.err
}

// objectIndex finds a rendered object of the repository by kind, namespace and name (the first
// in module order wins), for the sources, values and variables that objects name. An object that
// the selected modules do not render is looked up in the other modules (rest).
func objectIndex(repo *rule.Repo, rest *others) manifest.Lookup {
	index := indexObjects(repo.Modules, repo.Objects)
	return func(kind, ns, name string) *yaml.RNode {
		if n := index[kind+"/"+ns+"/"+name]; n != nil {
			return n
		}
		return rest.find(kind, ns, name)
	}
}

// indexObjects indexes the objects of mods by kind, namespace and name; the first wins.
func indexObjects(mods []*module.Module, objects map[string][]*manifest.Object) map[string]*yaml.RNode {
	index := map[string]*yaml.RNode{}
	for _, m := range mods {
		for _, o := range objects[m.Name()] {
			key := o.Ref.Kind + "/" + o.Ref.Namespace + "/" + o.Ref.Name
			if _, ok := index[key]; !ok {
				index[key] = o.Node
			}
		}
	}
	return index
}

// others renders, once and only when a lookup needs it, the modules a run does not select: a
// HelmRelease's source or a substituteFrom ConfigMap often lives in another module (checking one
// module, as the pre-commit hook does, must see it). Their objects serve lookups only.
type others struct {
	ctx   context.Context
	r     *manifest.Renderer
	repo  *rule.Repo
	once  sync.Once
	index map[string]*yaml.RNode
	// fluxKs are the Flux Kustomizations among those modules' objects.
	fluxKs []*manifest.Object
}

// find looks an object up among the modules the run does not select, rendering them the first
// time.
func (o *others) find(kind, ns, name string) *yaml.RNode {
	if o == nil || o.repo.Selected == nil {
		return nil
	}
	o.render()
	return o.index[kind+"/"+ns+"/"+name]
}

// kustomizations returns the Flux Kustomizations among the objects of the modules the run does not
// select, rendering them the first time.
func (o *others) kustomizations() []*manifest.Object {
	if o == nil || o.repo.Selected == nil {
		return nil
	}
	o.render()
	return o.fluxKs
}

// render renders the modules the run does not select, once.
func (o *others) render() {
	o.once.Do(func() {
		var mods []*module.Module
		for _, m := range o.repo.Deployable() {
			if !o.repo.Selected[m.Name()] {
				mods = append(mods, m)
			}
		}
		objects := make([][]*manifest.Object, len(mods))
		each(len(mods), func(i int) { objects[i], _, _ = o.r.Render(o.ctx, mods[i].Dir, mods[i].Name()) })
		byName := map[string][]*manifest.Object{}
		for i, m := range mods {
			byName[m.Name()] = objects[i]
		}
		o.index = indexObjects(mods, byName)
		for i := range mods {
			for _, obj := range objects[i] {
				if obj.Ref.Group() == flux.Group && obj.Ref.Kind == flux.Kind {
					o.fluxKs = append(o.fluxKs, obj)
				}
			}
		}
	})
}

// chartGap is a HelmRelease that polc does not template.
func chartGap(rel release, cause, reason string) *rule.Gap {
	return &rule.Gap{Kind: rule.GapHelmRelease, Module: rel.mod, Object: rel.hr, Field: chartField(rel.hr), Cause: cause, Reason: reason}
}

// chartError is the module/render finding of a HelmRelease whose chart does not load or template.
func chartError(rel release, chart string, err error) rule.Finding {
	return rule.Finding{Rule: rule.RenderRule, Module: rel.mod, Pos: rel.hr.FieldPos(chartField(rel.hr)),
		Message: fmt.Sprintf("HelmRelease %s (chart %s): %v", rel.hr.Ref, chart, err),
		Hint:    "Run `polc render " + rel.mod + "` to see what polc renders; fix the values or the chart reference."}
}

// cause turns a reason phrase into a short code: "version not pinned" -> "version-not-pinned".
func cause(reason string) string { return strings.ReplaceAll(reason, " ", "-") }

// chartField is the field of a HelmRelease that names its chart: spec.chart, spec.chartRef, or
// none when it has neither.
func chartField(o *manifest.Object) string {
	for _, f := range []string{"chart", "chartRef"} {
		if n, err := o.Node.Pipe(yaml.Lookup("spec", f)); err == nil && n != nil {
			return "spec." + f
		}
	}
	return ""
}
