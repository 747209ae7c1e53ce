package fix

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Pod Security admission labels of a Namespace.
const psaEnforceLabel = "pod-security.kubernetes.io/enforce"

// namespaceAnnotation returns the action that writes module m's hard dependencies into the
// depends-on annotation of the Namespace o, in its source document.
func (p *planner) namespaceAnnotation(m *module.Module, o *manifest.Object) (*action, string) {
	deps := slices.Clone(m.Spec.DependsOn)
	slices.Sort(deps)
	want := strings.Join(slices.Compact(deps), ",")
	return p.namespaceField(m, o, "deps/namespace-annotation", yaml.AnnotationsField, p.repo.Config.DependsOnAnnotation(), want)
}

// namespacePSA returns the action that sets the Pod Security label that finding f names on the
// Namespace o to the level its owner declares: enforce when it is missing or differs, warn or
// audit when they are looser or not a level.
func (p *planner) namespacePSA(m *module.Module, o *manifest.Object, f rule.Finding) (*action, string) {
	key := psaEnforceLabel
	if k, ok := strings.CutPrefix(f.Field, "metadata.labels["); ok {
		key = strings.TrimSuffix(k, "]")
	}
	owner := p.repo.Owner(o.Ref.Name)
	if owner == nil {
		return nil, fmt.Sprintf("no module declares namespace %s", o.Ref.Name)
	}
	level := module.Restricted
	for _, n := range owner.Spec.Namespaces {
		if n.Name == o.Ref.Name {
			level = n.Level()
		}
	}
	return p.namespaceField(m, o, "security/namespace-psa", yaml.LabelsField, key, string(level))
}

// namespaceField returns the action of rule id that sets metadata.<field>[key] to value in the
// source document of the Namespace o of module m.
func (p *planner) namespaceField(m *module.Module, o *manifest.Object, id, field, key, value string) (*action, string) {
	switch {
	case o.Origin.KindOrDefault() == manifest.FromHelm:
		return nil, fmt.Sprintf("the Namespace is rendered from chart %s by HelmRelease %s; set it in the chart's values or the HelmRelease's spec.commonMetadata by hand", o.Origin.Chart, o.Origin.By)
	case o.Origin.KindOrDefault() == manifest.FromKustomize &&
		(o.Source == nil || o.Pos.Line == 0 || o.Source.GetKind() != "Namespace" || p.store.inModule(m, o.Pos.File) != ""):
		// Written outside the module (a base, a shared component) or generated: patch it in
		// the module's own kustomization.
		return p.namespacePatch(m, o, id, field, key, value)
	case o.Source == nil || o.Pos.Line == 0 || o.Source.GetKind() != "Namespace":
		return nil, "polc does not know which document the Namespace is written in; edit it by hand"
	}
	at := o.Pos
	what := "annotation"
	if field == yaml.LabelsField {
		what = "label"
	}
	a := &action{rule: id, mod: m, rel: at.File, id: fmt.Sprintf("%d:%d:%s", at.Line, at.Column, key),
		unchanged: fmt.Sprintf("%s already sets the %s %s to %q, but the rendered Namespace has another value: a kustomize transformer, patch or Flux commonMetadata changes it; fix that by hand", at, what, key, value)}
	a.edit = func(f *file) (bool, error) {
		return f.edit(at.Line, at.Column, func(t *text, doc *yaml.Node) (bool, error) {
			return t.set(doc, []string{yaml.MetadataField, field, key}, value)
		})
	}
	return a, ""
}

// namespacePatch returns the action of rule id that adds to module m's kustomization a patch
// setting metadata.<field>[key] to value on the Namespace o, whose document lies outside the
// module (a base, a shared component) or is generated. The patch targets Namespaces by kind only
// when the module renders one, so that a name a later transformer sets still matches.
func (p *planner) namespacePatch(m *module.Module, o *manifest.Object, id, field, key, value string) (*action, string) {
	rel := p.kustomizationFile(m)
	if rel == "" {
		return nil, fmt.Sprintf("the Namespace is written in %s, outside module %s, and the module has no kustomization file to patch it in", o.Pos.File, m.Name())
	}
	target := map[string]string{"kind": "Namespace"}
	n := 0
	for _, c := range p.repo.Objects[m.Name()] {
		if c.Ref.Kind == "Namespace" && c.Ref.Group() == "" && c.Origin.KindOrDefault() == manifest.FromKustomize {
			n++
		}
	}
	if n > 1 {
		target["name"] = o.Ref.Name
	}
	// Label and annotation keys (prefix/name) need no quotes; values are quoted.
	patch := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  %s:\n    %s: %s\n",
		o.Ref.Name, field, key, yamlScalar(value))
	item := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
	tn := &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
	for _, k := range []string{"kind", "name"} {
		if v, ok := target[k]; ok {
			tn.Content = append(tn.Content, stringNode(k), stringNode(v))
		}
	}
	item.Content = append(item.Content, stringNode("target"), tn,
		stringNode("patch"), &yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Style: yaml.LiteralStyle, Value: patch})
	a := &action{rule: id, mod: m, rel: rel, id: "namespace-patch:" + o.Ref.Name + ":" + key,
		unchanged: fmt.Sprintf("%s already patches the Namespace %s, but the rendered Namespace has another value; fix it by hand", rel, o.Ref.Name)}
	a.edit = func(f *file) (bool, error) {
		return f.edit(0, 0, func(t *text, doc *yaml.Node) (bool, error) {
			// The same patch already there (and overridden later in the build): adding it again
			// would grow the kustomization on every run; the action says why instead.
			if _, l := lookup(doc, "patches"); l != nil && l.Kind == yaml.SequenceNode && slices.ContainsFunc(l.Content, func(it *yaml.Node) bool {
				_, v := lookup(it, "patch")
				return v != nil && v.Value == patch
			}) {
				return false, nil
			}
			return appendListItem(t, doc, "patches", item)
		})
	}
	return a, ""
}

// yamlScalar quotes s as a YAML double-quoted scalar.
func yamlScalar(s string) string { return strconv.Quote(s) }

// appendListItem adds item to the list under key of the kustomization doc, creating the list
// when the kustomization has none.
func appendListItem(t *text, doc *yaml.Node, key string, item *yaml.Node) (bool, error) {
	if doc.Kind != yaml.MappingNode {
		return false, fmt.Errorf("%s: the kustomization is not a mapping", t.where(doc))
	}
	k, list := lookup(doc, key)
	switch {
	case k == nil:
		lines, err := itemLines(item, t.seqStep())
		if err != nil {
			return false, err
		}
		return true, t.insertLines(doc, append([]string{key + ":"}, lines...))
	case list.Kind == yaml.AliasNode || list.Anchor != "":
		return false, t.errShared(list, key)
	case isNull(list):
		return true, t.replaceValue(k, list, &yaml.Node{Kind: yaml.SequenceNode, Tag: yaml.NodeTagSeq, Content: []*yaml.Node{item}})
	case list.Kind != yaml.SequenceNode:
		return false, fmt.Errorf("%s: %s is not a list", t.where(list), key)
	case list.Style&yaml.FlowStyle != 0:
		block := copyNode(list)
		block.Style = 0
		block.Content = append(block.Content, item)
		return true, t.replaceValue(k, list, block)
	}
	return true, t.appendItem(list, item)
}
