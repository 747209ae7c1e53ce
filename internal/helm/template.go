// Package helm templates a Helm chart the way Flux's helm-controller installs it, in process
// and hermetically: the Helm SDK's install action in client-only dry-run mode (no cluster, no
// DNS, no lookup, no registry, no files written), helm-controller's CRD policy and
// post-renderers (spec.postRenderers kustomize patches and images, spec.commonMetadata, origin
// labels), and the namespace defaulting Helm's kube client applies. A render has a deadline and
// an output cap; panics become errors.
package helm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	release "helm.sh/helm/v4/pkg/release/v1"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// CRD policies of helm-controller's spec.install.crds.
const (
	CRDsSkip          = "Skip"
	CRDsCreate        = "Create"
	CRDsCreateReplace = "CreateReplace"
)

// Defaults of Options.
const (
	// DefaultKubeVersion is the Kubernetes version of Capabilities when Options has none.
	DefaultKubeVersion = "v1.35.0"
	// DefaultTimeout is the deadline of one render.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBytes caps the rendered output of one chart.
	DefaultMaxBytes = 64 << 20
)

// Options describe one HelmRelease install, resolved by the caller.
type Options struct {
	// ReleaseName is the release name (spec.releaseName, default [targetNamespace-]name);
	// names over 53 characters are shortened as helm-controller does.
	ReleaseName string
	// Namespace is the install namespace (spec.targetNamespace, default the HelmRelease's).
	Namespace string
	// HelmReleaseName and HelmReleaseNamespace name the HelmRelease, for helm-controller's
	// origin labels helm.toolkit.fluxcd.io/name and helm.toolkit.fluxcd.io/namespace.
	HelmReleaseName, HelmReleaseNamespace string
	// Values are the composed values (ComposeValues); they are not modified.
	Values map[string]any
	// KubeVersion is Capabilities.KubeVersion: "1.35" or "v1.35.0" (default DefaultKubeVersion).
	KubeVersion string
	// APIVersions are added to Capabilities.APIVersions, after Helm's defaults and the
	// group/versions of the chart's own CRDs (which helm-controller creates before installing).
	APIVersions []string
	// CRDs is spec.install.crds: Skip leaves the chart's crds/ out; Create (default) and
	// CreateReplace return them, labelled with the origin labels and not post-rendered.
	CRDs string
	// PostRenderers are the items of spec.postRenderers (kustomize patches and images),
	// applied in order, in memory.
	PostRenderers []*yaml.RNode
	// PostRenderStrategy is spec.postRenderStrategy: combined (default; hooks are
	// post-rendered with the templates), separate, or nohooks (hooks are not post-rendered
	// and get no origin labels).
	PostRenderStrategy string
	// CommonMetadata is spec.commonMetadata (labels and annotations for every templated
	// object; the origin labels win a key collision); nil when unset.
	CommonMetadata *yaml.RNode
	// DisableSchemaValidation is spec.install.disableSchemaValidation.
	DisableSchemaValidation bool
	// Tests includes the chart's test hooks (spec.test.enable); they are left out otherwise.
	Tests bool
	// Timeout is the deadline of the render (default DefaultTimeout). Templates cannot be
	// interrupted: past the deadline Template returns and the render ends on its own.
	Timeout time.Duration
	// MaxBytes caps the rendered output (default DefaultMaxBytes).
	MaxBytes int
}

// withDefaults returns o with its zero limits set to the defaults.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.KubeVersion == "" {
		o.KubeVersion = DefaultKubeVersion
	}
	if o.CRDs == "" {
		o.CRDs = CRDsCreate
	}
	if o.PostRenderStrategy == "" {
		o.PostRenderStrategy = string(action.PostRenderStrategyCombined)
	}
	return o
}

// Object is one templated object.
type Object struct {
	// Node is the object, after post-renderers, origin labels and namespace defaulting.
	Node *yaml.RNode
	// Template is the chart file it came from, with the chart path Helm gives it:
	// "mychart/templates/deployment.yaml", "mychart/charts/sub/crds/crd.yaml".
	Template string
	// Hook is true for a Helm hook (helm.sh/hook), which Helm creates at its hook event
	// rather than with the release.
	Hook bool
}

// Template templates ch as helm-controller installs it with o, and returns the objects: the
// chart's CRDs (unless o.CRDs is Skip), then the release's objects in Helm's install order,
// then its hooks in Helm's order. ch is not modified. Chart dependencies must be loaded
// (charts/); missing ones are an error naming them.
func Template(ctx context.Context, ch *chart.Chart, o Options) ([]Object, error) {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if ctx.Err() != nil {
		return nil, stopped(ctx, ch, o.Timeout)
	}
	type result struct {
		objs []Object
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: fmt.Errorf("template chart %s: panic: %v", ch.Name(), p)}
			}
			done <- r
		}()
		r.objs, r.err = render(ch, &o)
	}()
	select {
	case r := <-done:
		return r.objs, r.err
	case <-ctx.Done():
		return nil, stopped(ctx, ch, o.Timeout)
	}
}

// stopped is the error of a render that ctx ended.
func stopped(ctx context.Context, ch *chart.Chart, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("template chart %s: did not finish within %s", ch.Name(), timeout)
	}
	return fmt.Errorf("template chart %s: %w", ch.Name(), ctx.Err())
}

// render templates ch; it runs in Template's goroutine.
func render(orig *chart.Chart, o *Options) ([]Object, error) {
	if orig == nil || orig.Metadata == nil {
		return nil, errors.New("template chart: no chart")
	}
	objs, err := renderChart(cloneChart(orig), o)
	if err != nil {
		return nil, fmt.Errorf("template chart %s: %w", orig.Name(), err)
	}
	return objs, nil
}

// renderChart templates ch, a copy the render may modify.
func renderChart(ch *chart.Chart, o *Options) ([]Object, error) {
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	kube, err := parseKubeVersion(o.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kubernetes version %q: %w", o.KubeVersion, err)
	}
	if err := checkDependencies(ch, ""); err != nil {
		return nil, err
	}
	values := deepCopyMap(o.Values)
	allCRDs, _, err := parseCRDs(ch.CRDObjects())
	if err != nil {
		return nil, err
	}
	sc := newScopes(objectNodes(allCRDs))
	crds, crdBytes, err := installedCRDs(ch, o, values)
	if err != nil {
		return nil, err
	}
	if !o.DisableSchemaValidation {
		if err := checkSchema(ch, values); err != nil {
			return nil, err
		}
	}
	out := &output{max: o.MaxBytes}
	if err := out.grow(crdBytes); err != nil {
		return nil, err
	}
	out.objs = append(out.objs, crds...)
	rel, err := install(ch, o, kube, crdAPIVersions(crds), values, out)
	if err != nil {
		return nil, err
	}
	if err := out.release(rel, o); err != nil {
		return nil, err
	}
	for _, obj := range out.objs {
		if err := sc.defaultNamespace(obj.Node, o.Namespace); err != nil {
			return nil, err
		}
	}
	return out.objs, nil
}

// minorVersion matches a Kubernetes version without its patch number: 1.35, v1.35.
var minorVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+$`)

// parseKubeVersion parses a Kubernetes version as a cluster reports it: "1.35" and "v1.35"
// mean v1.35.0.
func parseKubeVersion(v string) (*common.KubeVersion, error) {
	if minorVersion.MatchString(v) {
		v = "v" + strings.TrimPrefix(v, "v") + ".0"
	}
	return common.ParseKubeVersion(v)
}

// checkOptions refuses values of o that helm-controller refuses.
func checkOptions(o *Options) error {
	switch o.CRDs {
	case CRDsSkip, CRDsCreate, CRDsCreateReplace:
	default:
		return fmt.Errorf("invalid CRD policy %q, valid values are %q, %q or %q", o.CRDs, CRDsSkip, CRDsCreate, CRDsCreateReplace)
	}
	switch action.PostRenderStrategy(o.PostRenderStrategy) {
	case action.PostRenderStrategyCombined, action.PostRenderStrategySeparate, action.PostRenderStrategyNoHooks:
	default:
		return fmt.Errorf("invalid post-render strategy %q, valid values are combined, separate or nohooks", o.PostRenderStrategy)
	}
	if o.Namespace == "" {
		return errors.New("no release namespace")
	}
	return nil
}

// installedCRDs returns the CRDs helm-controller creates before the install (none under
// Skip): after processing the chart's dependencies with the values, so the CRDs of disabled
// subcharts are left out, and with the origin labels.
func installedCRDs(ch *chart.Chart, o *Options, values map[string]any) ([]Object, int, error) {
	if o.CRDs == CRDsSkip || len(ch.CRDObjects()) == 0 {
		return nil, 0, nil
	}
	if err := chartutil.ProcessDependencies(ch, values); err != nil {
		return nil, 0, fmt.Errorf("failed to process chart dependencies: %w", err)
	}
	crds, size, err := parseCRDs(ch.CRDObjects())
	if err != nil {
		return nil, 0, err
	}
	for _, c := range crds {
		if err := setLabels(c.Node, originLabels(o.HelmReleaseNamespace, o.HelmReleaseName)); err != nil {
			return nil, 0, err
		}
	}
	return crds, size, nil
}

// checkSchema validates the values against the chart's schemas as the install does, on a copy
// of ch: the install processes the dependencies of ch itself.
func checkSchema(ch *chart.Chart, values map[string]any) error {
	c := cloneChart(ch)
	if err := chartutil.ProcessDependencies(c, values); err != nil {
		return fmt.Errorf("chart dependencies processing failed: %w", err)
	}
	coalesced, err := util.CoalesceValues(c, values)
	if err != nil {
		return err
	}
	if err := validateSchema(c, coalesced); err != nil {
		return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%w", err)
	}
	return nil
}

// install runs Helm's install action in client-only dry-run mode, as helm-controller
// configures it, and returns the release.
func install(ch *chart.Chart, o *Options, kube *common.KubeVersion, crdAPIs []string, values map[string]any, out *output) (*release.Release, error) {
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.DiscardHandler))
	cfg.CustomTemplateFuncs = guardFuncs(o.MaxBytes)
	in := action.NewInstall(cfg)
	pr, err := postRenderers(o, func(in *bytes.Buffer) error { return out.check(in.Len()) })
	if err != nil {
		return nil, err
	}
	if pr != nil {
		in.PostRenderer = pr
	}
	in.DryRunStrategy = action.DryRunClient
	in.ReleaseName = shortenName(o.ReleaseName)
	in.Namespace = o.Namespace
	in.KubeVersion = kube
	in.APIVersions = append(crdAPIs, o.APIVersions...)
	in.Devel = true
	in.SkipCRDs = true
	in.SkipSchemaValidation = true // checked by checkSchema, without fetching remote references
	in.EnableDNS = false
	in.PostRenderStrategy = action.PostRenderStrategy(o.PostRenderStrategy)
	r, err := in.RunWithContext(context.Background(), ch, values)
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return nil, errors.New("only the Chart API v2 is supported")
	}
	return rel, nil
}

// shortenName shortens a release name over 53 characters to 40 characters, a hyphen and 12
// hex digits of its SHA-256, as helm-controller does.
func shortenName(name string) string {
	const maxLength, hashLength = 53, 12
	if len(name) <= maxLength {
		return name
	}
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
	return name[:maxLength-(hashLength+1)] + "-" + sum[:hashLength]
}

// output collects the objects of a render within the size cap.
type output struct {
	objs  []Object
	bytes int
	max   int
	// seen holds the ids of the objects post-rendered together, to refuse duplicates as
	// kustomize does in helm-controller's post-renderers.
	seen map[string]bool
}

// check fails when n more bytes would exceed the cap.
func (o *output) check(n int) error {
	if o.bytes+n > o.max {
		return fmt.Errorf("rendered output is larger than the %d MiB limit", o.max>>20)
	}
	return nil
}

// grow counts n bytes of output.
func (o *output) grow(n int) error {
	if err := o.check(n); err != nil {
		return err
	}
	o.bytes += n
	return nil
}

// release adds the objects of rel: its manifest with Helm's release metadata, then its hooks
// (test hooks only with o.Tests), all with the origin labels except hooks under the nohooks
// post-render strategy, which skip helm-controller's post-renderers.
func (o *output) release(rel *release.Release, opts *Options) error {
	if err := o.check(len(rel.Manifest)); err != nil {
		return err
	}
	origin := originLabels(opts.HelmReleaseNamespace, opts.HelmReleaseName)
	meta := releaseMetadata(rel.Name, rel.Namespace)
	for _, d := range splitManifest(rel.Manifest) {
		if err := o.document(d.source, d.content, false, func(n *yaml.RNode) error {
			if err := meta(n); err != nil {
				return err
			}
			return setLabels(n, origin)
		}); err != nil {
			return err
		}
	}
	strategy := action.PostRenderStrategy(opts.PostRenderStrategy)
	if strategy != action.PostRenderStrategyCombined {
		o.seen = nil // hooks are post-rendered apart from the templates, or not at all
	}
	for _, h := range rel.Hooks {
		if !opts.Tests && slices.Contains(h.Events, release.HookTest) {
			continue
		}
		label := func(n *yaml.RNode) error { return setLabels(n, origin) }
		if strategy == action.PostRenderStrategyNoHooks {
			label = nil
		}
		if err := o.document(h.Path, h.Manifest, true, label); err != nil {
			return err
		}
	}
	return nil
}

// document adds the objects of one rendered document; meta, when set, is applied to them and
// marks them as post-rendered.
func (o *output) document(source, content string, hook bool, meta func(*yaml.RNode) error) error {
	if err := o.grow(len(content)); err != nil {
		return err
	}
	nodes, err := parseDocument(source, content)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if meta != nil {
			if err := o.unique(source, n); err != nil {
				return err
			}
			if err := meta(n); err != nil {
				return fmt.Errorf("%s: %w", source, err)
			}
		}
		o.objs = append(o.objs, Object{Node: n, Template: source, Hook: hook})
	}
	return nil
}

// unique refuses a second object with the id of one post-rendered before (group, version,
// kind, name and namespace, "" being "default"), as kustomize refuses to load it.
func (o *output) unique(source string, n *yaml.RNode) error {
	if o.seen == nil {
		o.seen = map[string]bool{}
	}
	ns := n.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	id := n.GetApiVersion() + "|" + n.GetKind() + "|" + ns + "|" + n.GetName()
	if o.seen[id] {
		return fmt.Errorf("%s: %s %s/%s is rendered twice (post-renderers refuse duplicate objects)", source, n.GetKind(), ns, n.GetName())
	}
	o.seen[id] = true
	return nil
}

// releaseMetadata returns the labels and annotations Helm sets on the objects of a release when
// it installs them (not on hooks).
func releaseMetadata(name, namespace string) func(*yaml.RNode) error {
	return func(n *yaml.RNode) error {
		if err := n.PipeE(yaml.SetLabel("app.kubernetes.io/managed-by", "Helm")); err != nil {
			return err
		}
		if err := n.PipeE(yaml.SetAnnotation("meta.helm.sh/release-name", name)); err != nil {
			return err
		}
		return n.PipeE(yaml.SetAnnotation("meta.helm.sh/release-namespace", namespace))
	}
}

// setLabels merges labels into n's metadata.labels, new keys in sorted order.
func setLabels(n *yaml.RNode, labels map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if err := n.PipeE(yaml.SetLabel(k, labels[k])); err != nil {
			return err
		}
	}
	return nil
}

// sourceDoc is one document of a release manifest and the template it came from.
type sourceDoc struct{ source, content string }

// splitManifest splits a release manifest, Helm's "---\n# Source: NAME\nCONTENT\n" blocks, into
// its documents.
func splitManifest(manifest string) []sourceDoc {
	const sep = "---\n# Source: "
	parts := strings.Split("\n"+manifest, "\n"+sep)
	docs := make([]sourceDoc, 0, len(parts))
	for _, p := range parts[1:] {
		name, content, _ := strings.Cut(p, "\n")
		docs = append(docs, sourceDoc{source: name, content: content})
	}
	return docs
}

// parseDocument parses one rendered document into objects: none for an empty document, the
// items of a List (Helm's kube client flattens them), or the object.
func parseDocument(source, content string) ([]*yaml.RNode, error) {
	n, err := yaml.Parse(content)
	if errors.Is(err, io.EOF) { // no node: empty, or comments only
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if n.IsNilOrEmpty() {
		return nil, nil
	}
	if n.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: document is not a Kubernetes object", source)
	}
	if strings.HasSuffix(n.GetKind(), "List") {
		if items := n.Field("items"); items != nil && items.Value.YNode().Kind == yaml.SequenceNode {
			return listItems(source, items.Value)
		}
	}
	if n.GetKind() == "" || n.GetApiVersion() == "" {
		return nil, fmt.Errorf("%s: document is not a Kubernetes object: apiVersion or kind is not set", source)
	}
	return []*yaml.RNode{n}, nil
}

// listItems returns the items of a List.
func listItems(source string, items *yaml.RNode) ([]*yaml.RNode, error) {
	els, err := items.Elements()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	for i, el := range els {
		if el.YNode().Kind != yaml.MappingNode || el.GetKind() == "" || el.GetApiVersion() == "" {
			return nil, fmt.Errorf("%s: items[%d] is not a Kubernetes object", source, i)
		}
	}
	return els, nil
}

// objectNodes returns the nodes of objs.
func objectNodes(objs []Object) []*yaml.RNode {
	nodes := make([]*yaml.RNode, len(objs))
	for i, o := range objs {
		nodes[i] = o.Node
	}
	return nodes
}
