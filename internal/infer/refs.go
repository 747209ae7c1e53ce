package infer

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// maxRefNodes bounds how many nodes of one object refEdges walks.
const maxRefNodes = 20000

// classKeys map the fields that name a cluster-scoped class object to its kind: in objects
// (spec.storageClassName, spec.ingressClassName, spec.gatewayClassName) and in HelmRelease values
// (persistence.storageClass, ingress.className).
var classKeys = map[string]string{
	"storageClassName": "StorageClass",
	"storageClass":     "StorageClass",
	"ingressClassName": "IngressClass",
	"gatewayClassName": "GatewayClass",
}

// namespaceOf returns the namespace an object of p lands in: its own, else the target namespace
// of the Flux Kustomization that deploys p.
func (p *Proposal) namespaceOf(n *yaml.RNode) string {
	if ns := n.GetNamespace(); ns != "" {
		return ns
	}
	if g, _, ok := strings.Cut(n.GetApiVersion(), "/"); kinds.ClusterScoped(map[bool]string{true: g}[ok], n.GetKind()) {
		return ""
	}
	return p.targetNamespace()
}

// targetNamespace returns the spec.targetNamespace of the first Flux Kustomization that deploys
// p and sets one, or "".
func (p *Proposal) targetNamespace() string {
	for _, f := range p.deployedBy {
		if f.targetNamespace != "" && !strings.Contains(f.targetNamespace, "${") {
			return f.targetNamespace
		}
	}
	return ""
}

// ref is a reference from an object to an object another module may render.
type ref struct {
	kind, name, namespace string
	// via says which field or annotation holds it.
	via string
}

// refEdges: objects that name another module's objects: Traefik middlewares and cert-manager
// issuers in annotations, storage, ingress and gateway classes, and Gateways in parentRefs, in
// the objects and in HelmRelease values.
func (in *inferrer) refEdges() []edge {
	var out []edge
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Type == module.Component {
			continue
		}
		for _, it := range p.items() {
			if !it.rendered && len(p.objects) > 0 {
				continue
			}
			ns := p.namespaceOf(it.node)
			for _, r := range refsOf(it.node, ns) {
				for _, cand := range r.candidates() {
					q, at := in.holder(p, cand.kind, cand.name, cand.namespace)
					if q == nil {
						continue
					}
					where := cand.name
					if cand.namespace != "" {
						where = cand.namespace + "/" + cand.name
					}
					out = append(out, edge{class: classRef, from: p, to: q, source: posString(it.pos),
						why: fmt.Sprintf("%s %s names %s %s in %s, which module %s renders (%s)", it.node.GetKind(), it.node.GetName(), cand.kind, where, r.via, q.Name(), at)})
					break
				}
			}
		}
	}
	return out
}

// candidates returns the objects a reference may name: a Traefik middleware reference
// <namespace>-<name> is split at each '-'.
func (r ref) candidates() []ref {
	if r.kind != "Middleware" || r.namespace != "" {
		return []ref{r}
	}
	var out []ref
	for i := range len(r.name) {
		if r.name[i] == '-' && i > 0 && i < len(r.name)-1 {
			out = append(out, ref{kind: r.kind, namespace: r.name[:i], name: r.name[i+1:], via: r.via})
		}
	}
	return out
}

// refsOf returns the references of an object in namespace ns.
func refsOf(n *yaml.RNode, ns string) []ref {
	var out []ref
	for k, v := range n.GetAnnotations() {
		switch k {
		case "traefik.ingress.kubernetes.io/router.middlewares":
			for _, m := range strings.Split(v, ",") {
				m = strings.TrimSpace(m)
				if name, ok := strings.CutSuffix(m, "@kubernetescrd"); ok && name != "" {
					out = append(out, ref{kind: "Middleware", name: name, via: "annotation " + k})
				}
			}
		case "cert-manager.io/cluster-issuer":
			out = append(out, ref{kind: "ClusterIssuer", name: v, via: "annotation " + k})
		case "cert-manager.io/issuer":
			out = append(out, ref{kind: "Issuer", name: v, namespace: ns, via: "annotation " + k})
		case "kubernetes.io/ingress.class":
			out = append(out, ref{kind: "IngressClass", name: v, via: "annotation " + k})
		}
	}
	if n.GetKind() == "Certificate" || n.GetKind() == "ClusterIssuer" || n.GetKind() == "Issuer" {
		if name := str(n, "spec", "issuerRef", "name"); name != "" {
			kind := str(n, "spec", "issuerRef", "kind")
			if kind == "" {
				kind = "Issuer"
			}
			r := ref{kind: kind, name: name, via: "spec.issuerRef"}
			if kind == "Issuer" {
				r.namespace = ns
			}
			out = append(out, r)
		}
	}
	budget := maxRefNodes
	walkRefs(n.YNode(), ns, "", &out, &budget)
	out = dedupe(out)
	slices.SortFunc(out, func(a, b ref) int {
		return cmp.Or(cmp.Compare(a.via, b.via), cmp.Compare(a.kind, b.kind), cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
	})
	return out
}

// walkRefs collects class names and parentRefs anywhere in the object, within budget nodes.
func walkRefs(n *yaml.Node, ns, key string, out *[]ref, budget *int) {
	if *budget <= 0 || n == nil {
		return
	}
	*budget--
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			if kind, ok := classKeys[k]; ok && v.Kind == yaml.ScalarNode && v.Value != "" && !strings.Contains(v.Value, "${") {
				*out = append(*out, ref{kind: kind, name: v.Value, via: k})
				continue
			}
			if k == "parentRefs" && v.Kind == yaml.SequenceNode {
				for _, e := range v.Content {
					parentRef(yaml.NewRNode(e), ns, out)
				}
				continue
			}
			walkRefs(v, ns, k, out, budget)
		}
	case yaml.SequenceNode:
		for _, e := range n.Content {
			walkRefs(e, ns, key, out, budget)
		}
	}
}

// parentRef adds the Gateway a Gateway API parentRef names.
func parentRef(e *yaml.RNode, ns string, out *[]ref) {
	if e.YNode().Kind != yaml.MappingNode {
		return
	}
	kind := str(e, "kind")
	if kind == "" {
		kind = "Gateway"
	}
	name, refNS := str(e, "name"), str(e, "namespace")
	if refNS == "" {
		refNS = ns
	}
	if kind == "Gateway" && name != "" && !strings.Contains(name+refNS, "${") {
		*out = append(*out, ref{kind: kind, name: name, namespace: refNS, via: "parentRefs"})
	}
}

func dedupe(refs []ref) []ref {
	seen := map[ref]bool{}
	var out []ref
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
