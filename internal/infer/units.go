package infer

import (
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
)

// maxIncludeDepth bounds how deep init follows kustomization resources to find the bases of a
// deployed overlay, so that a repository cannot make it walk without end.
const maxIncludeDepth = 32

// fluxKS is a Flux Kustomization found anywhere in the repository.
type fluxKS struct {
	name, namespace, path string
	// dir is spec.path as a repository directory that exists, or "" when it names none.
	dir string
	// own is true when the Kustomization reads the repository's own source (polc.yaml spec.source).
	own bool
	// targetNamespace is spec.targetNamespace.
	targetNamespace string
	doc             doc
}

// label names the Kustomization and where it is, for facts and notes.
func (f *fluxKS) label() string {
	return fmt.Sprintf("Flux Kustomization %s (%s)", f.name, posString(f.doc.pos))
}

// fluxKustomizations returns every Flux Kustomization of the scanned files, once.
func (in *inferrer) fluxKustomizations() []*fluxKS {
	if in.flux != nil {
		return in.flux
	}
	src := in.cfg.Spec.Source
	in.flux = []*fluxKS{}
	for _, d := range in.scan.docs {
		if !isKind(d.node, fluxKSGroup, "Kustomization") {
			continue
		}
		f := &fluxKS{name: d.node.GetName(), namespace: d.node.GetNamespace(), path: str(d.node, "spec", "path"),
			targetNamespace: str(d.node, "spec", "targetNamespace"), doc: d}
		ns := str(d.node, "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = f.namespace
		}
		f.own = str(d.node, "spec", "sourceRef", "kind") == src.Kind && str(d.node, "spec", "sourceRef", "name") == src.Name &&
			(ns == "" || ns == src.Namespace)
		f.dir = in.repoDir(f.path)
		if kind := str(d.node, "spec", "sourceRef", "kind"); kind == "ExternalArtifact" && f.path != "" {
			if dir := in.artifactDir(str(d.node, "spec", "sourceRef", "name"), ns, f.path); dir != "" {
				f.own, f.dir = true, dir
			}
		}
		in.flux = append(in.flux, f)
	}
	return in.flux
}

// artifactDir maps the path of a Kustomization that reads the ExternalArtifact name (in namespace
// ns) to the repository directory it comes from, when an ArtifactGenerator of the repository
// builds that artifact by copying from the repository's own source: copy from
// "@monorepo/apps/production/**" to "@artifact/production/" maps ./production to apps/production.
func (in *inferrer) artifactDir(name, ns, p string) string {
	src := in.cfg.Spec.Source
	want := path.Clean(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(p), "./"), "/"))
	for _, d := range in.scan.docs {
		if !isKind(d.node, "source.extensions.fluxcd.io", "ArtifactGenerator") || ns != "" && d.node.GetNamespace() != "" && d.node.GetNamespace() != ns {
			continue
		}
		own := map[string]bool{}
		for _, s := range list(d.node, "spec", "sources") {
			sns := str(s, "namespace")
			if sns == "" {
				sns = d.node.GetNamespace()
			}
			if str(s, "kind") == src.Kind && str(s, "name") == src.Name && (sns == "" || sns == src.Namespace) {
				own[str(s, "alias")] = true
			}
		}
		for _, a := range list(d.node, "spec", "artifacts") {
			if str(a, "name") != name {
				continue
			}
			for _, c := range list(a, "copy") {
				if dir := copiedDir(str(c, "from"), str(c, "to"), want, own); dir != "" {
					return in.repoDir(dir)
				}
			}
		}
	}
	return ""
}

// copiedDir returns the repository directory that artifact path want comes from through one copy
// operation of an ArtifactGenerator, or "".
func copiedDir(from, to, want string, own map[string]bool) string {
	alias, rest, ok := strings.Cut(strings.TrimPrefix(from, "@"), "/")
	if !ok || !strings.HasPrefix(from, "@") || !own[alias] {
		return ""
	}
	rest = strings.TrimSuffix(strings.TrimSuffix(rest, "**"), "/")
	if strings.ContainsAny(rest, "*?[") {
		return ""
	}
	dest, ok := strings.CutPrefix(to, "@artifact")
	if !ok {
		return ""
	}
	dest = path.Clean(strings.Trim(dest, "/"))
	if dest == "." || dest == "" {
		return path.Join(rest, want)
	}
	if want == dest || strings.HasPrefix(want, dest+"/") {
		return path.Join(rest, strings.TrimPrefix(strings.TrimPrefix(want, dest), "/"))
	}
	return ""
}

// repoDir returns a Flux spec.path as a repository directory that exists, or "".
func (in *inferrer) repoDir(p string) string {
	if p == "" || strings.Contains(p, "${") {
		return ""
	}
	dir := path.Clean(strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(p), "./"), "/"))
	if dir == ".." || strings.HasPrefix(dir, "../") {
		return ""
	}
	abs, err := module.Resolve(in.root, dir)
	if err != nil {
		return ""
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// deployment says how Flux deploys a directory: directly, as the path of Kustomizations, or as a
// directory with a kustomization inside the path of a Kustomization whose directory has none (Flux
// generates a kustomization there that includes it).
type deployment struct {
	direct    []*fluxKS
	generated []*fluxKS
}

// deployed maps every directory with a kustomization that a Flux Kustomization of the repository's
// own source deploys to how it is deployed. Cluster entry points (a directory holding the
// Kustomization that deploys it, like clusters/production with flux-system/gotk-sync.yaml) and
// what Flux deploys through them are left out: they are polc.yaml spec.clusters, not modules.
func (in *inferrer) deployed() map[string]*deployment {
	out := map[string]*deployment{}
	entries := in.entryPoints()
	get := func(d string) *deployment {
		if out[d] == nil {
			out[d] = &deployment{}
		}
		return out[d]
	}
	for _, f := range in.fluxKustomizations() {
		if !f.own || f.dir == "" || entries[f.dir] {
			continue
		}
		if _, ok := in.scan.kustomizations[f.dir]; ok {
			get(f.dir).direct = append(get(f.dir).direct, f)
			continue
		}
		// Flux generates a kustomization that includes the subdirectories holding one, without
		// descending into them (fluxcd/pkg kustomize generator).
		for _, d := range slices.Sorted(maps.Keys(in.scan.kustomizations)) {
			if d != f.dir && under(d, f.dir) && !in.nestedBelow(d, f.dir) {
				get(d).generated = append(get(d).generated, f)
			}
		}
	}
	return out
}

// entryPoints returns the cluster entry point directories: polc.yaml spec.clusters, every
// directory that holds the Flux Kustomization deploying it, and the parent of every flux-system
// directory that flux bootstrap wrote (its kustomization lists gotk-components.yaml or
// gotk-sync.yaml).
func (in *inferrer) entryPoints() map[string]bool {
	if in.entries != nil {
		return in.entries
	}
	out := map[string]bool{}
	in.entries = out
	for d := range in.scan.kustomizations {
		if k := in.scan.kustomization(in.sources, d); k != nil && path.Base(d) == "flux-system" && path.Dir(d) != "." {
			res := scalars(k, "resources")
			if slices.Contains(res, "gotk-components.yaml") || slices.Contains(res, "gotk-sync.yaml") {
				out[path.Dir(d)] = true
			}
		}
	}
	for _, c := range in.cfg.Spec.Clusters {
		out[path.Clean(c)] = true
	}
	for _, f := range in.fluxKustomizations() {
		if f.own && f.dir != "" && f.dir != "." && under(f.doc.file(), f.dir) {
			out[f.dir] = true
		}
	}
	return out
}

// nestedBelow reports whether a directory between top (excluded) and d (excluded) holds a
// kustomization.
func (in *inferrer) nestedBelow(d, top string) bool {
	for p := path.Dir(d); p != top && p != "." && p != "/"; p = path.Dir(p) {
		if _, ok := in.scan.kustomizations[p]; ok {
			return true
		}
	}
	return false
}

// includes returns the kustomization directories that the kustomization of d includes through
// resources, bases and components, transitively (d itself not included), with local references
// only.
func (in *inferrer) includes(d string) []string {
	seen := map[string]bool{d: true}
	var out []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		k := in.scan.kustomization(in.sources, dir)
		if k == nil || depth > maxIncludeDepth {
			return
		}
		for _, ref := range slices.Concat(scalars(k, "resources"), scalars(k, "bases"), scalars(k, "components")) {
			if manifest.IsRemote(ref) {
				continue
			}
			target := path.Join(dir, ref)
			if _, ok := in.scan.kustomizations[target]; !ok || seen[target] {
				continue
			}
			seen[target] = true
			out = append(out, target)
			walk(target, depth+1)
		}
	}
	walk(d, 0)
	slices.Sort(out)
	return out
}

// isComponent reports whether the kustomization of d is kind: Component.
func (in *inferrer) isComponent(d string) bool {
	k := in.scan.kustomization(in.sources, d)
	return k != nil && k.GetKind() == "Component"
}

// meaningfulName returns the name a directory stands for: its own, or its parent's for an app
// directory (kubernetes/apps/<namespace>/<app>/app is <app>).
func meaningfulName(d string) string {
	if path.Base(d) == "app" && path.Dir(d) != "." {
		return path.Base(path.Dir(d))
	}
	return path.Base(d)
}

// qualifier returns the path element that makes name unique for directory d: the element above
// the one name comes from.
func qualifier(d, name string) string {
	m := d
	if path.Base(d) == "app" && path.Dir(d) != "." {
		m = path.Dir(d)
	}
	if path.Base(m) != name {
		return path.Base(m)
	}
	if p := path.Dir(m); p != "." {
		return path.Base(p)
	}
	return ""
}

// toLabel turns a name into a DNS-1123 label: lowercase, other characters as '-', at most 63.
func toLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	return out
}

// stripPrefix removes a polc.yaml fluxPrefixes prefix (infra-, apps-) from a Flux Kustomization
// name.
func (in *inferrer) stripPrefix(name string) (string, string) {
	for _, t := range []module.Type{module.Infrastructure, module.Application, module.Component} {
		if pre := in.cfg.FluxPrefix(t); pre != "" {
			if rest, ok := strings.CutPrefix(name, pre+"-"); ok && rest != "" {
				return rest, pre + "-"
			}
		}
	}
	return name, ""
}

// naming is the proposed name of a directory and why.
type naming struct {
	name, why, source string
	// byFlux is true when a Flux Kustomization that deploys the directory gave the name.
	byFlux bool
}

// nameFor names directory d: after the Flux Kustomizations that deploy it directly (their first
// name in order, without a fluxPrefixes prefix), else after the directory.
func (in *inferrer) nameFor(d string, dep *deployment) (naming, []string) {
	var notes []string
	if dep != nil && len(dep.direct) > 0 {
		byName := map[string]*fluxKS{}
		for _, f := range dep.direct {
			n, _ := in.stripPrefix(f.name)
			if n = toLabel(n); n != "" && byName[n] == nil {
				byName[n] = f
			}
		}
		names := slices.Sorted(maps.Keys(byName))
		if len(names) > 0 {
			f := byName[names[0]]
			why := "the name of " + f.label() + ", which deploys it"
			if _, pre := in.stripPrefix(f.name); pre != "" {
				why += fmt.Sprintf(", without the polc.yaml fluxPrefixes prefix %s", pre)
			}
			if len(names) > 1 {
				notes = append(notes, fmt.Sprintf("Flux Kustomizations of other names deploy it too (%s); named after the first", strings.Join(names[1:], ", ")))
			}
			return naming{name: names[0], why: why, source: posString(f.doc.pos), byFlux: true}, notes
		}
	}
	raw := meaningfulName(d)
	why := "the directory name"
	if raw != path.Base(d) {
		why = "the name of the directory above the app directory"
	}
	name := toLabel(raw)
	if name != raw && name != "" {
		notes = append(notes, fmt.Sprintf("directory name %q is not a DNS-1123 label; the module is named %s", raw, name))
	}
	return naming{name: name, why: why, source: in.scan.kustomizations[d]}, notes
}

// unique gives every proposal a name no other has. Existing module.yaml names are kept; among
// clashing proposals, one named by a Flux Kustomization keeps the name when it is the only one,
// and the others are qualified with the directory above (production-apps), then numbered.
func (in *inferrer) unique(props []*Proposal, names map[*Proposal]naming) {
	taken := map[string]bool{}
	groups := map[string][]*Proposal{}
	for _, p := range props {
		if p.Existing {
			taken[p.Name()] = true
			continue
		}
		groups[names[p].name] = append(groups[names[p].name], p)
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		g := groups[name]
		keep := -1
		if len(g) == 1 && !taken[name] {
			keep = 0
		} else if !taken[name] {
			var flux []int
			for i, p := range g {
				if names[p].byFlux {
					flux = append(flux, i)
				}
			}
			if len(flux) == 1 && len(flux) < len(g) {
				keep = flux[0]
			}
		}
		for i, p := range g {
			if i == keep {
				taken[name] = true
				continue
			}
			q := name
			if pre := toLabel(qualifier(p.Dir, name)); pre != "" {
				q = toLabel(pre + "-" + name)
			}
			for n := 2; taken[q] || q == name && len(g) > 1; n++ {
				// Shorten the name before the suffix: toLabel would cut the suffix of a long name.
				sfx := fmt.Sprintf("-%d", n)
				q = strings.TrimRight(name[:min(len(name), 63-len(sfx))], "-") + sfx
			}
			taken[q] = true
			var others []string
			for _, o := range g {
				if o != p {
					others = append(others, o.Dir)
				}
			}
			if len(others) == 0 {
				others = append(others, "an existing module.yaml")
			}
			p.Module.Metadata.Name = q
			p.note("named %s, not %s: the name %s is also proposed for %s, and module names are unique; change metadata.name if you prefer another", q, name, name, strings.Join(others, ", "))
			n := names[p]
			n.why += fmt.Sprintf(", qualified with %q to be unique", strings.TrimSuffix(q, "-"+name))
			names[p] = n
		}
	}
}
