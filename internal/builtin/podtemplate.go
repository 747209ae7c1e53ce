package builtin

import (
	"fmt"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/manifest"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// podTemplate is the pod of a Pod, or the pod template of a pod controller, with the field paths
// that findings name.
type podTemplate struct {
	// Meta is the pod's metadata node; nil when the template has none.
	Meta *yaml.RNode
	// Spec is the pod spec node; nil when the template has none.
	Spec *yaml.RNode
	// Path is the field path of the pod template (spec.template); its spec is Path + ".spec".
	// For a Pod it is empty: the object itself is the pod.
	Path string
}

// SpecPath is the field path of the pod spec: spec, spec.template.spec, ...
func (t *podTemplate) SpecPath() string { return join(t.Path, "spec") }

// templateOf returns the pod template of o, or nil when o is not a Pod or a pod controller of an
// API group that serves the kind (a custom resource that happens to be called Job carries no
// template), or has no template. The kinds table (internal/kinds) says where each kind keeps it.
func templateOf(o *manifest.Object) *podTemplate {
	k, ok := kinds.Lookup(o.Ref.Kind)
	if !ok || !k.Pod || !k.Served(o.Ref.Group()) {
		return nil
	}
	node := o.Node
	if len(k.Template) > 0 {
		n, err := o.Node.Pipe(yaml.Lookup(k.Template...))
		if err != nil || n == nil || n.YNode().Kind != yaml.MappingNode {
			return nil
		}
		node = n
	}
	t := &podTemplate{Path: strings.Join(k.Template, ".")}
	t.Meta, _ = node.Pipe(yaml.Lookup("metadata"))
	t.Spec, _ = node.Pipe(yaml.Lookup("spec"))
	if t.Spec != nil && t.Spec.YNode().Kind != yaml.MappingNode {
		t.Spec = nil
	}
	return t
}

// container is one container of a pod template.
type container struct {
	// Node is the container's mapping node.
	Node *yaml.RNode
	// Name is the container's name ("" when unnamed).
	Name string
	// List is containers, initContainers or ephemeralContainers.
	List string
	// Path is the container's field path: spec.template.spec.containers[0].
	Path string
}

// Describe names the container for messages: container "app", init container "setup".
func (c container) Describe() string {
	switch c.List {
	case "initContainers":
		return fmt.Sprintf("init container %q", c.Name)
	case "ephemeralContainers":
		return fmt.Sprintf("ephemeral container %q", c.Name)
	}
	return fmt.Sprintf("container %q", c.Name)
}

// Field returns the field path of a field of the container: image -> ...containers[0].image.
func (c container) Field(f string) string { return join(c.Path, f) }

// Containers returns the containers of the given lists (containers, initContainers,
// ephemeralContainers), in that order; entries that are not mappings are skipped.
func (t *podTemplate) Containers(lists ...string) []container {
	if t.Spec == nil {
		return nil
	}
	var out []container
	for _, list := range lists {
		seq, err := t.Spec.Pipe(yaml.Lookup(list))
		if err != nil || seq == nil || seq.YNode().Kind != yaml.SequenceNode {
			continue
		}
		for i, n := range seq.YNode().Content {
			if n.Kind != yaml.MappingNode {
				continue
			}
			c := container{Node: yaml.NewRNode(n), List: list, Path: fmt.Sprintf("%s.%s[%d]", t.SpecPath(), list, i)}
			c.Name = manifest.String(c.Node, "name")
			out = append(out, c)
		}
	}
	return out
}

// allContainerLists are the three container lists of a pod spec.
var allContainerLists = []string{"containers", "initContainers", "ephemeralContainers"}

// join joins field path parts, skipping empty ones.
func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}
