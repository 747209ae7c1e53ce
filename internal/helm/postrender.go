package helm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/fluxcd/pkg/apis/kustomize"
	"helm.sh/helm/v4/pkg/postrenderer"
	"polc.dev/polc/internal/kschema"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// originGroup is the API group of helm-controller's origin labels.
const originGroup = "helm.toolkit.fluxcd.io"

// originLabels are the labels helm-controller sets on every object of a release.
func originLabels(namespace, name string) map[string]string {
	return map[string]string{originGroup + "/name": name, originGroup + "/namespace": namespace}
}

// postRenderers builds the user part of helm-controller's BuildPostRenderers chain: the
// kustomize items of spec.postRenderers in order, then spec.commonMetadata; nil when there are
// none. check runs first, on the rendered stream, and bounds its size. The last renderer of helm-controller's chain, the origin labels, only sets two labels
// in metadata.labels: Template sets them on the parsed objects instead (setOrigin), which gives
// the same objects without encoding and parsing the whole stream once more.
func postRenderers(o *Options, check func(*bytes.Buffer) error) (postrenderer.PostRenderer, error) {
	chain := combined{postRendererFunc(func(in *bytes.Buffer) (*bytes.Buffer, error) { return in, check(in) })}
	for i, n := range o.PostRenderers {
		k, err := decodeKustomize(n)
		if err != nil {
			return nil, fmt.Errorf("postRenderers[%d]: %w", i, err)
		}
		if k != nil {
			chain = append(chain, k)
		}
	}
	if o.CommonMetadata != nil {
		cm, err := decodeCommonMetadata(o.CommonMetadata)
		if err != nil {
			return nil, fmt.Errorf("commonMetadata: %w", err)
		}
		chain = append(chain, cm)
	}
	if len(chain) == 1 {
		return nil, nil
	}
	return chain, nil
}

// postRendererFunc adapts a function to Helm's PostRenderer.
type postRendererFunc func(*bytes.Buffer) (*bytes.Buffer, error)

// Run calls f.
func (f postRendererFunc) Run(in *bytes.Buffer) (*bytes.Buffer, error) { return f(in) }

// combined runs post-renderers in order, each on the output of the one before.
type combined []postrenderer.PostRenderer

// Run runs the chain.
func (c combined) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	var err error
	for _, r := range c {
		if in, err = r.Run(in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

var (
	_ postrenderer.PostRenderer = combined(nil)
	_ postrenderer.PostRenderer = (*kustomizeRenderer)(nil)
	_ postrenderer.PostRenderer = (*commonRenderer)(nil)
)

// kustomizeSpec is a post-renderer item's kustomize field (helm-controller api/v2 Kustomize).
type kustomizeSpec struct {
	Patches []kustomize.Patch `json:"patches,omitempty"`
	Images  []kustomize.Image `json:"images,omitempty"`
}

// decodeKustomize decodes one spec.postRenderers item; nil when it has no kustomize field.
func decodeKustomize(n *yaml.RNode) (*kustomizeRenderer, error) {
	var item struct {
		Kustomize *kustomizeSpec `json:"kustomize,omitempty"`
	}
	if err := decodeNode(n, &item); err != nil {
		return nil, err
	}
	if item.Kustomize == nil {
		return nil, nil
	}
	return &kustomizeRenderer{spec: *item.Kustomize}, nil
}

// decodeNode decodes a kyaml node into v through JSON, as the API server decodes a custom
// resource: unknown fields are dropped.
func decodeNode(n *yaml.RNode, v any) error {
	b, err := n.MarshalJSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// kustomizeRenderer is helm-controller's kustomize post-renderer: a kustomization over the
// rendered stream with the patches and images, built in memory.
type kustomizeRenderer struct {
	spec kustomizeSpec
}

// kustomizeMu serialises kustomize builds, as helm-controller does: krusty has had concurrent
// map access bugs (kubernetes-sigs/kustomize#3659).
var kustomizeMu sync.Mutex

// Run applies the patches and images to the rendered stream.
func (k *kustomizeRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	fs := filesys.MakeFsInMemory()
	cfg := kustypes.Kustomization{}
	cfg.APIVersion = kustypes.KustomizationVersion
	cfg.Kind = kustypes.KustomizationKind
	for _, im := range k.spec.Images {
		cfg.Images = append(cfg.Images, kustypes.Image{Name: im.Name, NewName: im.NewName, NewTag: im.NewTag, Digest: im.Digest})
	}
	const input = "helm-output.yaml"
	cfg.Resources = []string{input}
	for _, p := range k.spec.Patches {
		cfg.Patches = append(cfg.Patches, kustypes.Patch{Patch: p.Patch, Target: adaptSelector(p.Target)})
	}
	kfile, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := fs.WriteFile(input, in.Bytes()); err != nil {
		return nil, err
	}
	if err := fs.WriteFile("kustomization.yaml", kfile); err != nil {
		return nil, err
	}
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	release := kschema.Acquire(kschema.Builtin) // patches are strategic merge patches
	defer release()
	m, err := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	}).Run(fs, ".")
	if err != nil {
		return nil, fmt.Errorf("kustomize post-renderer: %w", err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return bytes.NewBuffer(out), nil
}

// adaptSelector converts Flux's patch target to kustomize's.
func adaptSelector(s *kustomize.Selector) *kustypes.Selector {
	if s == nil {
		return nil
	}
	out := &kustypes.Selector{LabelSelector: s.LabelSelector, AnnotationSelector: s.AnnotationSelector}
	out.Name, out.Namespace = s.Name, s.Namespace
	out.Gvk.Group, out.Gvk.Version, out.Gvk.Kind = s.Group, s.Version, s.Kind
	return out
}

// commonRenderer adds spec.commonMetadata's labels and annotations to every object.
type commonRenderer struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// decodeCommonMetadata decodes spec.commonMetadata.
func decodeCommonMetadata(n *yaml.RNode) (*commonRenderer, error) {
	var c commonRenderer
	if err := decodeNode(n, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Run sets the labels and annotations on every object's metadata (not on selectors or pod
// templates), as kustomize's label and annotation transformers configured for metadata only do.
func (c *commonRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	if c.Labels == nil && c.Annotations == nil {
		return in, nil
	}
	release := kschema.Acquire(kschema.None) // resource ids read the schema for a kind's scope
	defer release()
	f := resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory())
	m, err := f.NewResMapFromBytes(in.Bytes())
	if err != nil {
		return nil, err
	}
	for _, res := range m.Resources() {
		for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
			if err := res.PipeE(yaml.SetLabel(k, c.Labels[k])); err != nil {
				return nil, err
			}
		}
		for _, k := range slices.Sorted(maps.Keys(c.Annotations)) {
			if err := res.PipeE(yaml.SetAnnotation(k, c.Annotations[k])); err != nil {
				return nil, err
			}
		}
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return bytes.NewBuffer(out), nil
}
