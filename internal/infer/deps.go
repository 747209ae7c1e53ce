package infer

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/module"
)

// Dependency classes, in the order they are added: an earlier class decides whether a pair is a
// hard or a soft dependency.
const (
	classAnnotation = iota // the <domain>/depends-on annotation of the module's Namespace
	classFlux              // Flux Kustomization dependsOn
	classHelmDeps          // HelmRelease dependsOn
	classHelmChart         // HelmRelease sourceRef or chartRef
	classAPI               // an object of an API group another module provides
	classNamespace         // an object placed in another module's namespace
	classRef               // an annotation or class name naming an object another module renders
	classTier              // an extra module builds on its core module
)

// edge is a dependency init found, with its reason.
type edge struct {
	class    int
	from, to *Proposal
	why      string
	source   string
}

// dependencies infers spec.dependsOn and spec.softDependsOn. Every use that polc check's
// deps/undeclared rule would require is declared; a dependency that would close a cycle of hard
// dependencies is declared soft instead, so that the inferred graph has no cycle of its own
// making.
func (in *inferrer) dependencies() {
	var edges []edge
	edges = append(edges, in.annotationEdges()...)
	edges = append(edges, in.fluxEdges()...)
	edges = append(edges, in.helmEdges()...)
	edges = append(edges, in.useEdges()...)
	edges = append(edges, in.refEdges()...)
	edges = append(edges, in.tierEdges()...)
	sort.SliceStable(edges, func(i, j int) bool {
		a, b := edges[i], edges[j]
		if a.class != b.class {
			return a.class < b.class
		}
		if a.from.Name() != b.from.Name() {
			return a.from.Name() < b.from.Name()
		}
		return a.to.Name() < b.to.Name()
	})
	for _, p := range in.res.Proposals {
		if p.Existing {
			in.hard[p.Name()] = slices.Clone(p.Module.Spec.DependsOn)
		}
	}
	for _, e := range edges {
		m, to := e.from.Module, e.to.Name()
		if e.from == e.to || e.from.Existing || m.Spec.Type == module.Component || e.to.Module.Spec.Type == module.Component ||
			slices.Contains(m.Spec.DependsOn, to) || slices.Contains(m.Spec.SoftDependsOn, to) {
			continue
		}
		if e.class >= classHelmChart && e.class <= classRef && len(e.from.deployedBy) > 0 {
			// Flux deploys the module without ordering it after the other (its Kustomization's
			// dependsOn does not name it, or the Flux class would have made it hard): a
			// documented, unordered dependency, not an ordering the repository lacks.
			m.Spec.SoftDependsOn = append(m.Spec.SoftDependsOn, to)
			e.from.fact("spec.softDependsOn", to, e.why+"; soft, because the Flux Kustomization that deploys the module does not depend on it", e.source)
			continue
		}
		if back := in.hardPath(to, e.from.Name()); back != nil {
			m.Spec.SoftDependsOn = append(m.Spec.SoftDependsOn, to)
			e.from.fact("spec.softDependsOn", to, e.why+"; soft, because a hard dependency would close the cycle "+
				graph.FormatPath(append([]string{e.from.Name()}, back...)), e.source)
			continue
		}
		m.Spec.DependsOn = append(m.Spec.DependsOn, to)
		in.hard[e.from.Name()] = append(in.hard[e.from.Name()], to)
		e.from.fact("spec.dependsOn", to, e.why, e.source)
	}
	for _, p := range in.res.Proposals {
		if !p.Existing {
			slices.Sort(p.Module.Spec.DependsOn)
			slices.Sort(p.Module.Spec.SoftDependsOn)
		}
	}
}

// hardPath returns a path of hard dependencies from -> ... -> to, or nil.
func (in *inferrer) hardPath(from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n == to {
			var p []string
			for x := to; x != from; x = prev[x] {
				p = append([]string{x}, p...)
			}
			return append([]string{from}, p...)
		}
		for _, d := range in.hard[n] {
			if _, seen := prev[d]; !seen {
				prev[d] = n
				queue = append(queue, d)
			}
		}
	}
	return nil
}

// annotationEdges: the <domain>/depends-on annotation on a Namespace that a module owns lists
// its hard dependencies (polc's own convention, in a repository that follows part of it).
func (in *inferrer) annotationEdges() []edge {
	byName := map[string]*Proposal{}
	for _, p := range in.res.Proposals {
		byName[p.Name()] = p
	}
	key := in.cfg.DependsOnAnnotation()
	var out []edge
	for _, p := range in.res.Proposals {
		if p.Existing {
			continue
		}
		for _, o := range p.objects {
			if !isKind(o.Node, "", "Namespace") || in.nsOwner[o.Ref.Name] != p {
				continue
			}
			value, ok := o.Node.GetAnnotations()[key]
			if !ok {
				continue
			}
			for _, d := range strings.Split(value, ",") {
				d = strings.TrimSpace(d)
				switch q := byName[d]; {
				case d == "":
				case q == nil:
					p.note("Namespace %s at %s names %q in its %s annotation, which is no module; not declared", o.Ref.Name, posString(o.Pos), d, key)
				default:
					out = append(out, edge{class: classAnnotation, from: p, to: q, source: posString(o.Pos),
						why: fmt.Sprintf("the %s annotation of Namespace %s", key, o.Ref.Name)})
				}
			}
		}
	}
	return out
}

// modulesAt maps a Flux Kustomization's spec.path to the proposed modules it deploys: the module
// whose directory holds the path, or the modules an overlay at the path includes. A path that
// does not exist in the repository (a path inside an ExternalArtifact or another source) is
// matched against the kustomization directories that end with it, when exactly one does.
func (in *inferrer) modulesAt(p string) []*Proposal {
	if p == "" || strings.Contains(p, "${") {
		return nil
	}
	dir := path.Clean(strings.TrimPrefix(strings.TrimSpace(p), "./"))
	if strings.HasPrefix(dir, "../") || dir == ".." {
		return nil
	}
	if st, err := os.Stat(filepath.Join(in.root, filepath.FromSlash(dir))); err != nil || !st.IsDir() {
		var matches []string
		for d := range in.scan.kustomizations {
			if d == dir || strings.HasSuffix(d, "/"+dir) {
				matches = append(matches, d)
			}
		}
		if len(matches) != 1 {
			return nil
		}
		dir = matches[0]
	}
	for _, q := range in.res.Proposals {
		if under(dir, q.Dir) {
			return []*Proposal{q}
		}
	}
	var out []*Proposal
	for _, o := range slices.Sorted(maps.Keys(in.overlayOf)) {
		if under(dir, o) {
			for _, b := range in.bases(o, map[string]bool{}) {
				if q := in.byDir[b]; q != nil && !slices.Contains(out, q) {
					out = append(out, q)
				}
			}
		}
	}
	return out
}

// fluxEdges: a Flux Kustomization that deploys module A and depends on one that deploys module B
// makes A depend on B.
func (in *inferrer) fluxEdges() []edge {
	all := in.fluxKustomizations()
	var out []edge
	for _, f := range all {
		from := in.modulesAt(f.path)
		if len(from) == 0 {
			continue
		}
		for _, dep := range list(f.doc.node, "spec", "dependsOn") {
			name, ns := str(dep, "name"), str(dep, "namespace")
			var targets []*fluxKS
			for _, t := range all {
				if t.name == name && (ns == "" || t.namespace == "" || t.namespace == ns) {
					targets = append(targets, t)
				}
			}
			if local := slices.DeleteFunc(slices.Clone(targets), func(t *fluxKS) bool { return path.Dir(t.doc.file()) != path.Dir(f.doc.file()) }); len(local) > 0 {
				targets = local // the Kustomization of the same name beside it, in the same cluster
			}
			for _, t := range targets {
				for _, to := range in.modulesAt(t.path) {
					for _, fm := range from {
						out = append(out, edge{class: classFlux, from: fm, to: to, source: posString(f.doc.pos),
							why: fmt.Sprintf("Flux Kustomization %s (path %s) depends on Flux Kustomization %s (path %s, %s)", f.name, f.path, t.name, t.path, posString(t.doc.pos))})
					}
				}
			}
		}
	}
	return out
}

// helmEdges: a HelmRelease that depends on another module's HelmRelease, or whose chart source
// is rendered by another module or lives in another module's namespace.
func (in *inferrer) helmEdges() []edge {
	var out []edge
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Type == module.Component {
			continue
		}
		for _, it := range p.items() {
			if !isKind(it.node, helmGroup, "HelmRelease") {
				continue
			}
			hr, hrNS := it.node.GetName(), p.namespaceOf(it.node)
			for _, dep := range list(it.node, "spec", "dependsOn") {
				name, ns := str(dep, "name"), str(dep, "namespace")
				if ns == "" {
					ns = hrNS
				}
				if holder, at := in.holder(p, "HelmRelease", name, ns); holder != nil {
					out = append(out, edge{class: classHelmDeps, from: p, to: holder, source: posString(it.pos),
						why: fmt.Sprintf("HelmRelease %s depends on HelmRelease %s (%s)", hr, name, at)})
				}
			}
			for _, ref := range []string{"spec.chart.spec.sourceRef", "spec.chartRef"} {
				fields := strings.Split(ref, ".")
				kind, name, ns := str(it.node, append(fields, "kind")...), str(it.node, append(fields, "name")...), str(it.node, append(fields, "namespace")...)
				if name == "" {
					continue
				}
				if ns == "" {
					ns = hrNS
				}
				if holder, at := in.holder(p, kind, name, ns); holder != nil {
					out = append(out, edge{class: classHelmChart, from: p, to: holder, source: posString(it.pos),
						why: fmt.Sprintf("HelmRelease %s takes its chart from %s %s (%s)", hr, kind, name, at)})
				} else if owner := in.nsOwner[ns]; ns != "" && owner != nil && owner != p {
					out = append(out, edge{class: classHelmChart, from: p, to: owner, source: posString(it.pos),
						why: fmt.Sprintf("HelmRelease %s takes its chart from %s %s/%s, in namespace %s, which module %s owns", hr, kind, ns, name, ns, owner.Name())})
				}
			}
		}
	}
	return out
}

// holder returns the module other than p that holds an object of kind, name and namespace (an
// empty namespace matches any), and where; nil when p holds one itself, or when none or several
// modules do. Rendered objects are searched first, as polc check does, then the other files.
func (in *inferrer) holder(p *Proposal, kind, name, ns string) (*Proposal, string) {
	for _, rendered := range []bool{true, false} {
		var found []*Proposal
		at := ""
		for _, q := range in.res.Proposals {
			for _, it := range q.items() {
				if it.rendered != rendered || it.node.GetKind() != kind || it.node.GetName() != name {
					continue
				}
				if objNS := q.namespaceOf(it.node); rendered && objNS != ns || !rendered && ns != "" && objNS != "" && objNS != ns {
					continue
				}
				if !slices.Contains(found, q) {
					found = append(found, q)
					at = posString(it.pos)
				}
			}
		}
		switch {
		case slices.Contains(found, p):
			return nil, ""
		case len(found) == 1:
			return found[0], at
		case len(found) > 1:
			return nil, ""
		}
	}
	return nil, ""
}

// useEdges: rendered objects of an API group another module provides, or placed in a namespace
// another module owns (what polc check's deps/undeclared rule requires).
func (in *inferrer) useEdges() []edge {
	var out []edge
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Type == module.Component {
			continue
		}
		for _, o := range p.objects {
			if g := o.Ref.Group(); g != "" {
				if q := in.provider[g]; q != nil && q != p {
					out = append(out, edge{class: classAPI, from: p, to: q, source: posString(o.Pos),
						why: fmt.Sprintf("%s %s uses API group %s, which module %s provides", o.Ref.Kind, o.Ref.Name, g, q.Name())})
				}
			}
			ns := p.namespaceOf(o.Node)
			if ns == "" || kinds.ClusterScoped(o.Ref.Group(), o.Ref.Kind) || in.cfg.SharedAllows(ns, o.Ref.Kind) {
				continue
			}
			if q := in.nsOwner[ns]; q != nil && q != p {
				out = append(out, edge{class: classNamespace, from: p, to: q, source: posString(o.Pos),
					why: fmt.Sprintf("%s %s is placed in namespace %s, which module %s owns", o.Ref.Kind, o.Ref.Name, ns, q.Name())})
				p.use(ns, o.Ref.Kind, q.Name(), posString(o.Pos))
			}
		}
	}
	return out
}

// use records that p writes an object of kind into namespace ns, which module owner owns: a
// spec.uses entry, with its fact.
func (p *Proposal) use(ns, kind, owner, source string) {
	spec := &p.Module.Spec
	i := slices.IndexFunc(spec.Uses, func(u module.Use) bool { return u.Namespace == ns })
	if i < 0 {
		spec.Uses = append(spec.Uses, module.Use{Namespace: ns,
			Reason: fmt.Sprintf("writes into namespace %s, which module %s owns (inferred by polc init from %s); replace this with why", ns, owner, source)})
		i = len(spec.Uses) - 1
	}
	u := &spec.Uses[i]
	if slices.Contains(u.Kinds, kind) {
		return
	}
	u.Kinds = append(u.Kinds, kind)
	slices.Sort(u.Kinds)
	p.fact("spec.uses", ns+" "+kind, fmt.Sprintf("a %s is placed in namespace %s, which module %s owns", kind, ns, owner), source)
}

// tierEdges: an <area>-extra infrastructure module depends on its <area>-core sibling.
func (in *inferrer) tierEdges() []edge {
	var out []edge
	for _, p := range in.res.Proposals {
		area, ok := strings.CutSuffix(p.Name(), "-extra")
		if !ok || p.Module.Spec.Type != module.Infrastructure {
			continue
		}
		for _, q := range in.res.Proposals {
			if q.Name() == area+"-core" {
				out = append(out, edge{class: classTier, from: p, to: q, source: q.Dir,
					why: "an extra module builds on the core module of its area"})
			}
		}
	}
	return out
}

// types makes every module that an infrastructure module depends on infrastructure too
// (infrastructure never depends on applications), then sets the tiers, and turns a core
// module's hard dependency on an extra module into a soft one.
func (in *inferrer) types() {
	byName := map[string]*Proposal{}
	for _, p := range in.res.Proposals {
		byName[p.Name()] = p
	}
	for changed := true; changed; {
		changed = false
		for _, p := range in.res.Proposals {
			if p.Module.Spec.Type != module.Infrastructure {
				continue
			}
			for _, d := range slices.Concat(p.Module.Spec.DependsOn, p.Module.Spec.SoftDependsOn) {
				q := byName[d]
				if q == nil || q.Existing || q.Module.Spec.Type != module.Application {
					continue
				}
				q.Module.Spec.Type = module.Infrastructure
				for i := range q.Facts {
					if q.Facts[i].Field == "spec.type" {
						q.Facts[i] = Fact{Field: "spec.type", Value: string(module.Infrastructure),
							Why: fmt.Sprintf("infrastructure module %s depends on it, and infrastructure never depends on applications", p.Name()), Source: p.File()}
					}
				}
				changed = true
			}
		}
	}
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Type != module.Infrastructure {
			continue
		}
		switch {
		case strings.HasSuffix(p.Name(), "-core"):
			p.Module.Spec.Tier = module.Core
			p.fact("spec.tier", "core", "the name ends in -core", p.Dir)
		case strings.HasSuffix(p.Name(), "-extra"):
			p.Module.Spec.Tier = module.Extra
			p.fact("spec.tier", "extra", "the name ends in -extra", p.Dir)
		default:
			p.Module.Spec.Tier = module.Core
			p.fact("spec.tier", "core", "the name ends in neither -core nor -extra; core by default", p.Dir)
			p.note("rename the module to %s-core (or -extra, then set spec.tier: extra): polc check reports module/tier until the name ends with the tier", p.Name())
		}
	}
	for _, p := range in.res.Proposals {
		if p.Existing || p.Module.Spec.Tier != module.Core {
			continue
		}
		spec := &p.Module.Spec
		for _, d := range slices.Clone(spec.DependsOn) {
			if q := byName[d]; q == nil || q.Module.Spec.Tier != module.Extra {
				continue
			}
			spec.DependsOn = slices.DeleteFunc(spec.DependsOn, func(s string) bool { return s == d })
			spec.SoftDependsOn = append(spec.SoftDependsOn, d)
			slices.Sort(spec.SoftDependsOn)
			for i := range p.Facts {
				if p.Facts[i].Field == "spec.dependsOn" && p.Facts[i].Value == d {
					p.Facts[i].Field = "spec.softDependsOn"
					p.Facts[i].Why += "; soft, because a core module may not hard-depend on an extra one"
				}
			}
		}
	}
}
