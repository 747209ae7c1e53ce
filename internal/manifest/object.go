package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// ObjectRef identifies a Kubernetes object.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String renders the reference as Kind/namespace/name.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Group returns the API group of the reference ("" for the core group).
func (r ObjectRef) Group() string {
	g, _, found := strings.Cut(r.APIVersion, "/")
	if !found {
		return ""
	}
	return g
}

// Object is one rendered object of a module, as polc checks it.
type Object struct {
	// Node is the rendered object after substitution, without kustomize's internal annotations.
	Node *yaml.RNode
	// Module is the name of the module that renders it.
	Module string
	// Ref identifies the object.
	Ref ObjectRef
	// Pos is where the object is written: its source document, or for a generated ConfigMap or
	// Secret the configMapGenerator or secretGenerator entry; Line is 0 when neither is known.
	Pos Pos
	// Source is the object's source document, or its generator entry (where fields of the object
	// fall back to the entry), for field positions; nil when unknown.
	Source *yaml.RNode
	// Origin says how polc rendered the object.
	Origin Origin
}

// OriginKind says how an object was rendered.
type OriginKind string

// Origin kinds.
const (
	// FromKustomize is an object of a module's own kustomize build (the zero Origin).
	FromKustomize OriginKind = "kustomize"
	// FromFluxKustomization is an object under the spec.path of a Flux Kustomization.
	FromFluxKustomization OriginKind = "flux-kustomization"
	// FromHelm is an object of a HelmRelease's chart.
	FromHelm OriginKind = "helm"
)

// Origin says how an object was rendered: by the module's kustomize build, or through the Flux
// Kustomization or HelmRelease named By (namespace/name), with the chart (name@version) and the
// chart's template file for Helm.
type Origin struct {
	Kind     OriginKind `json:"kind"`
	By       string     `json:"by,omitempty"`
	Chart    string     `json:"chart,omitempty"`
	Template string     `json:"template,omitempty"`
}

// KindOrDefault returns the origin kind, FromKustomize when unset.
func (o Origin) KindOrDefault() OriginKind {
	if o.Kind == "" {
		return FromKustomize
	}
	return o.Kind
}

// NotObject says why n cannot be a Kubernetes object, or returns nil: the document must be a
// mapping, and so must its metadata, labels and annotations when present. kyaml's accessors
// (GetKind, GetName, GetLabels...) index any node as if it were a mapping and panic on a
// sequence of odd length, so a document read from a repository or from polc fn input must pass
// this check before they see it.
func NotObject(n *yaml.RNode) error {
	if n == nil || n.YNode() == nil || n.YNode().Kind != yaml.MappingNode {
		return fmt.Errorf("not a Kubernetes object: the document is not a mapping")
	}
	meta := n.Field(yaml.MetadataField)
	if meta == nil {
		return nil
	}
	if meta.Value.YNode().Kind != yaml.MappingNode {
		return fmt.Errorf("not a Kubernetes object: metadata is not a mapping")
	}
	for _, f := range []string{yaml.LabelsField, yaml.AnnotationsField} {
		if v := meta.Value.Field(f); v != nil && v.Value.YNode().Kind != yaml.MappingNode && !yaml.IsYNodeEmptyMap(v.Value.YNode()) && v.Value.YNode().Tag != yaml.NodeTagNull {
			return fmt.Errorf("not a Kubernetes object: metadata.%s is not a mapping", f)
		}
	}
	return nil
}

// RefOf reads the identity of an object node; a node that is not an object (NotObject) has an
// empty identity.
func RefOf(n *yaml.RNode) ObjectRef {
	if NotObject(n) != nil {
		return ObjectRef{}
	}
	return ObjectRef{APIVersion: n.GetApiVersion(), Kind: n.GetKind(), Namespace: n.GetNamespace(), Name: n.GetName()}
}

// FieldPos returns the position of a field path (spec.template.spec.containers[0].image, or
// metadata.labels[app.kubernetes.io/name] for keys with dots) in the
// object's source document, or of the nearest parent that is written there, or of the object.
func (o *Object) FieldPos(path string) Pos {
	if o.Source == nil || path == "" {
		return o.Pos
	}
	best := o.Source.YNode()
	n := best
	for _, part := range splitPath(path) {
		n = child(n, part)
		if n == nil {
			break
		}
		best = n
	}
	return Pos{File: o.Pos.File, Line: best.Line, Column: best.Column}
}

// splitPath splits a.b[0].c[x.y/z] into a, b, [0], c, [x.y/z]: a bracket holds a sequence index
// or a map key that contains dots.
func splitPath(p string) []string {
	var parts []string
	for p != "" {
		switch {
		case p[0] == '.':
			p = p[1:]
		case p[0] == '[':
			j := strings.IndexByte(p, ']')
			if j < 0 {
				return append(parts, p)
			}
			parts = append(parts, p[:j+1])
			p = p[j+1:]
		default:
			j := strings.IndexAny(p, ".[")
			if j < 0 {
				return append(parts, p)
			}
			parts = append(parts, p[:j])
			p = p[j:]
		}
	}
	return parts
}

// child returns the value node for a mapping key or a [i] sequence index.
func child(n *yaml.Node, part string) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if strings.HasPrefix(part, "[") {
		part = part[1 : len(part)-1]
		if i, err := strconv.Atoi(part); err == nil {
			if n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return nil
			}
			return n.Content[i]
		}
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == part {
			return n.Content[i+1]
		}
	}
	return nil
}

// String returns the scalar value at path below n, or "" when it is missing, null or not a
// scalar.
func String(n *yaml.RNode, path ...string) string {
	if n == nil {
		return ""
	}
	v, err := n.Pipe(yaml.Lookup(path...))
	if err != nil || v == nil || v.YNode().Kind != yaml.ScalarNode || v.YNode().Tag == yaml.NodeTagNull {
		return ""
	}
	return v.YNode().Value
}
