package fix

import (
	"fmt"
	"path"
	"slices"

	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// helmGroup is the API group of Flux HelmReleases.
const helmGroup = "helm.toolkit.fluxcd.io"

// pair is one label to set.
type pair struct{ key, value string }

// moduleLabels are the labels labels/module wants on the objects of module m.
func (p *planner) moduleLabels(m *module.Module) []pair {
	return []pair{{p.repo.Config.ModuleLabel(), m.Name()}, {p.repo.Config.ModuleTypeLabel(), string(m.Spec.Type)}}
}

// labels returns the action that gives object o of module m its module labels where o comes from:
// a labels transformer in the module's kustomization, or spec.commonMetadata.labels of the Flux
// Kustomization or HelmRelease that renders it.
func (p *planner) labels(m *module.Module, o *manifest.Object) (*action, string) {
	want := p.moduleLabels(m)
	switch o.Origin.KindOrDefault() {
	case manifest.FromFluxKustomization:
		return p.commonMetadata(m, o, flux.Group, flux.Kind, "Flux Kustomization", want)
	case manifest.FromHelm:
		return p.commonMetadata(m, o, helmGroup, "HelmRelease", "HelmRelease", want)
	}
	rel := p.kustomizationFile(m)
	if rel == "" {
		return nil, fmt.Sprintf("module %s has no kustomization file to add a labels transformer to", m.Name())
	}
	a := &action{rule: "labels/module", mod: m, rel: rel, id: "labels",
		unchanged: fmt.Sprintf("the labels transformer in %s already sets the module labels, but the object does not get them: a later transformer or patch changes them; fix that by hand", rel)}
	a.edit = func(f *file) (bool, error) {
		changed := false
		for _, l := range want {
			c, err := f.edit(0, 0, func(t *text, doc *yaml.Node) (bool, error) { return labelsTransformer(t, doc, l, want) })
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	}
	return a, ""
}

// kustomizationFile returns the kustomization file of module m that exists, or "".
func (p *planner) kustomizationFile(m *module.Module) string {
	for _, n := range manifest.KustomizationFiles {
		if rel := path.Join(m.Dir, n); p.repo.Exists(rel) {
			return rel
		}
	}
	return ""
}

// commonMetadata returns the action that sets the labels want in spec.commonMetadata.labels of
// the object (kind, in group) that rendered o, found among module m's objects by o.Origin.By.
func (p *planner) commonMetadata(m *module.Module, o *manifest.Object, group, kind, what string, want []pair) (*action, string) {
	var src *manifest.Object
	for _, c := range p.repo.Objects[m.Name()] {
		if c.Ref.Group() == group && c.Ref.Kind == kind && c.Ref.Namespace+"/"+c.Ref.Name == o.Origin.By {
			if src != nil && src.Pos != c.Pos {
				return nil, fmt.Sprintf("the %s %s that renders the object is written in two places (%s, %s); set spec.commonMetadata.labels by hand", what, o.Origin.By, src.Pos, c.Pos)
			}
			src = c
		}
	}
	switch {
	case src == nil:
		return nil, fmt.Sprintf("the %s %s that renders the object is not among the module's objects", what, o.Origin.By)
	case src.Source == nil || src.Pos.Line == 0 || src.Source.GetKind() != kind:
		return nil, fmt.Sprintf("polc does not know which file holds the %s %s that renders the object; set its spec.commonMetadata.labels by hand", what, o.Origin.By)
	}
	at := src.Pos
	a := &action{rule: "labels/module", mod: m, rel: at.File, id: fmt.Sprintf("commonMetadata:%d:%d", at.Line, at.Column),
		unchanged: fmt.Sprintf("%s already sets the module labels in spec.commonMetadata.labels of %s %s, but the object does not get them; fix it by hand", at, what, o.Origin.By)}
	a.edit = func(f *file) (bool, error) {
		changed := false
		for _, l := range want {
			c, err := f.edit(at.Line, at.Column, func(t *text, doc *yaml.Node) (bool, error) {
				return t.set(doc, []string{"spec", "commonMetadata", "labels", l.key}, l.value)
			})
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	}
	return a, ""
}

// labelsTransformer makes the kustomization doc set label l (one of all, the module labels): in
// the labels entry that polc owns (one whose pairs hold a module label), or in a new entry with
// all of them and includeSelectors: false, so that no workload's selector changes.
func labelsTransformer(t *text, doc *yaml.Node, l pair, all []pair) (bool, error) {
	if doc.Kind != yaml.MappingNode {
		return false, fmt.Errorf("%s: the kustomization is not a mapping", t.where(doc))
	}
	if _, cl := lookup(doc, "commonLabels"); cl != nil && cl.Kind == yaml.MappingNode {
		if _, v := lookup(cl, l.key); v != nil && v.Value != l.value {
			return false, fmt.Errorf("%s: commonLabels sets %s to %q; commonLabels also sets selectors, and changing it would change the selectors of existing workloads; change it by hand (or move it to a labels entry with includeSelectors: false)", t.where(v), l.key, v.Value)
		}
	}
	k, list := lookup(doc, "labels")
	switch {
	case k == nil:
		lines, err := itemLines(newLabelsEntry(all), t.seqStep())
		if err != nil {
			return false, err
		}
		return true, t.insertLines(doc, append([]string{"labels:"}, lines...))
	case list.Kind == yaml.AliasNode || list.Anchor != "":
		return false, t.errShared(list, "labels")
	case isNull(list):
		return true, t.replaceValue(k, list, &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: []*yaml.Node{newLabelsEntry(all)}})
	case list.Kind != yaml.SequenceNode:
		return false, fmt.Errorf("%s: labels is not a list", t.where(list))
	}
	i := ownedEntry(list, all)
	if i >= 0 {
		entry := list.Content[i]
		_, pairs := lookup(entry, "pairs")
		if _, v := lookup(pairs, l.key); v != nil && v.Value == l.value {
			return false, nil // set already
		}
		if _, sel := lookup(entry, "includeSelectors"); sel != nil && !yamlFalse(sel.Value) {
			return false, fmt.Errorf("%s: the labels entry with the module labels has includeSelectors: %s; setting %s there would change the selectors of existing workloads; change it by hand", t.where(entry), sel.Value, l.key)
		}
	}
	switch {
	case list.Style&yaml.FlowStyle != 0:
		block := copyNode(list)
		block.Style = 0
		if i >= 0 {
			if err := setPair(block.Content[i], l); err != nil {
				return false, err
			}
		} else {
			block.Content = append(block.Content, newLabelsEntry(all))
		}
		return true, t.replaceValue(k, list, block)
	case i < 0:
		return true, t.appendItem(list, newLabelsEntry(all))
	}
	return t.set(list.Content[i], []string{"pairs", l.key}, l.value)
}

// yamlFalse reports whether a scalar is false as kustomize reads it (YAML 1.1: false, no, off, n
// in any of their spellings); anything else selects.
func yamlFalse(v string) bool {
	return slices.Contains([]string{"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"}, v)
}

// ownedEntry returns the index of the labels entry that polc owns: the first whose pairs hold one
// of the module labels; -1 when there is none.
func ownedEntry(list *yaml.Node, all []pair) int {
	for i, e := range list.Content {
		if e.Kind != yaml.MappingNode {
			continue
		}
		_, pairs := lookup(e, "pairs")
		if pairs == nil || pairs.Kind != yaml.MappingNode {
			continue
		}
		for _, l := range all {
			if k, _ := lookup(pairs, l.key); k != nil {
				return i
			}
		}
	}
	return -1
}

// setPair sets label l in the pairs of a labels entry node.
func setPair(entry *yaml.Node, l pair) error {
	return yaml.NewRNode(entry).SetMapField(yaml.NewStringRNode(l.value), "pairs", l.key)
}

// newLabelsEntry returns a kustomize labels entry with the labels all, which leaves selectors
// alone.
func newLabelsEntry(all []pair) *yaml.Node {
	pairs := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
	for _, l := range all {
		pairs.Content = append(pairs.Content, stringNode(l.key), stringNode(l.value))
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap, Content: []*yaml.Node{
		stringNode("pairs"), pairs,
		stringNode("includeSelectors"), {Kind: yaml.ScalarNode, Tag: yaml.NodeTagBool, Value: "false"},
	}}
}
