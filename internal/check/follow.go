package check

import (
	"context"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Bounds of following Flux Kustomizations, so that a repository cannot make a run follow without
// end: how deep Kustomizations may nest, and how many one run follows.
const (
	maxFollowDepth = 16
	maxFollowed    = 2000
)

// pending is a Flux Kustomization to follow: an object of module mod, found at depth (1 for one
// in the module's own build), through the chain of Kustomizations (namespace/name) that led to it.
type pending struct {
	mod   string
	ks    *manifest.Object
	chain []string
	depth int
}

// followed is the result of rendering one pending Kustomization.
type followed struct {
	objs     []*manifest.Object
	findings []rule.Finding
	gap      *rule.Gap
	// deploys is the module whose directory the Kustomization deploys, if any.
	deploys string
}

// follow renders what the Flux Kustomizations among the selected modules' objects deploy from this
// repository, as kustomize-controller would, and adds those objects to the module that holds the
// Kustomization; the objects may hold Flux Kustomizations in turn, which are followed round by
// round, until none is left, a chain repeats (a cycle) or the bounds are reached. Kustomizations
// that deploy a module's directory are that module's deployment, not new content: polc renders
// the module itself. Kustomizations that read another source or a path outside the repository
// are returned as gaps; render problems as module/render findings.
func follow(ctx context.Context, r *manifest.Renderer, repo *rule.Repo, rest *others) ([]rule.Finding, []rule.Gap) {
	var work []pending
	built := map[string]int{} // how many objects of each module its own build gave
	for _, m := range selected(repo) {
		built[m.Name()] = len(repo.Objects[m.Name()])
		work = append(work, kustomizationsIn(m.Name(), repo.Objects[m.Name()], nil, 1)...)
	}
	deployers := map[string][]*manifest.Object{}
	var findings []rule.Finding
	var gaps []rule.Gap
	seen := map[string]bool{}
	count := 0
	for len(work) > 0 && ctx.Err() == nil {
		var round []pending
		for _, p := range work {
			key := fmt.Sprintf("%s\x00%s\x00%s", p.mod, p.ks.Ref, p.ks.Pos)
			switch {
			case slices.Contains(p.chain, p.ks.Ref.Namespace+"/"+p.ks.Ref.Name):
				gaps = append(gaps, fluxGap(p, "cycle", fmt.Sprintf("%s is not followed again: it is deployed by its own chain of Flux Kustomizations (%s)", p.ks.Ref, strings.Join(append(p.chain, p.ks.Ref.Namespace+"/"+p.ks.Ref.Name), " -> "))))
				continue
			case seen[key]:
				continue // the same document listed twice in a module (a component included twice)
			case p.depth > maxFollowDepth, count >= maxFollowed:
				gaps = append(gaps, fluxGap(p, "limit", fmt.Sprintf("%s is not followed: polc follows Flux Kustomizations %d deep and %d per run", p.ks.Ref, maxFollowDepth, maxFollowed)))
				continue
			}
			seen[key] = true
			count++
			round = append(round, p)
		}
		results := make([]followed, len(round))
		each(len(round), func(i int) { results[i] = followOne(ctx, r, repo, round[i]) })
		// Sources for substituteFrom: every object rendered before this round (a ConfigMap that
		// a sibling Kustomization of the same round renders is found from the next round on).
		find := objectIndex(repo, rest)
		work = nil
		for i, res := range results {
			p := round[i]
			findings = append(findings, res.findings...)
			if res.deploys != "" {
				deployers[res.deploys] = append(deployers[res.deploys], p.ks)
				continue
			}
			if res.gap != nil {
				gaps = append(gaps, *res.gap)
				continue
			}
			findings = append(findings, postBuild(r, repo, p, res.objs, find)...)
			repo.Objects[p.mod] = append(repo.Objects[p.mod], res.objs...)
			work = append(work, kustomizationsIn(p.mod, res.objs, append(slices.Clip(p.chain), p.ks.Ref.Namespace+"/"+p.ks.Ref.Name), p.depth+1)...)
		}
	}
	if ctx.Err() == nil {
		findings = append(findings, redeploy(ctx, r, repo, rest, built, deployers)...)
	}
	return findings, gaps
}

// redeploy renders again, as Flux builds it, each selected module that exactly one Flux
// Kustomization deploys when that Kustomization changes the build: its targetNamespace (the
// <ns>/<app>/app layout gives app directories no namespace of their own), name prefix or suffix,
// patches, images, components, post-build substitution or common metadata; or when the module's
// own build failed (a variable only the Kustomization's postBuild sets) or had no kustomization
// (Flux generates one). A module built that way counts as rendered. The module's own
// objects (the first built[m] of repo.Objects[m]) are replaced; what its Kustomizations deploy
// stays. In a run of some modules only, the deploying Kustomizations of the others are looked for
// when a selected module renders namespaced objects without a namespace, as rendering them all
// costs about as much as a full run.
func redeploy(ctx context.Context, r *manifest.Renderer, repo *rule.Repo, rest *others, built map[string]int, deployers map[string][]*manifest.Object) []rule.Finding {
	if repo.Selected != nil && slices.ContainsFunc(selected(repo), func(m *module.Module) bool { return lacksNamespace(repo.Objects[m.Name()][:built[m.Name()]]) }) {
		for _, ks := range rest.kustomizations() {
			if m := flux.ModuleAtPath(repo, manifest.String(ks.Node, "spec", "path")); m != nil && repo.IsSelected(m.Name()) {
				deployers[m.Name()] = append(deployers[m.Name()], ks)
			}
		}
	}
	var mods []*module.Module
	var by []*manifest.Object
	for _, m := range selected(repo) {
		ks := deployers[m.Name()]
		slices.SortFunc(ks, func(a, b *manifest.Object) int { return strings.Compare(a.Ref.String(), b.Ref.String()) })
		ks = slices.CompactFunc(ks, func(a, b *manifest.Object) bool { return a.Ref == b.Ref })
		// A module whose own build failed is built again only when the Kustomization brings the
		// variables (postBuild) or the kustomization (a directory without one) it may have lacked.
		if len(ks) != 1 || m.Spec.Type == module.Component {
			continue
		}
		failed := !repo.Rendered[m.Name()]
		rescue := failed && (manifest.HasPostBuild(ks[0].Node) || !repo.Exists(m.Dir+"/kustomization.yaml"))
		if !failed && changesBuild(ks[0]) || rescue {
			mods, by = append(mods, m), append(by, ks[0])
		}
	}
	results := make([]followed, len(mods))
	each(len(mods), func(i int) {
		// Remote entries are dropped as in the module's own build, which reported them.
		objs, _, err := r.RenderFlux(ctx, by[i].Node, mods[i].Dir, mods[i].Name())
		switch p := (pending{mod: mods[i].Name(), ks: by[i]}); {
		case err == nil:
			locate(repo, objs, by[i])
			results[i] = followed{objs: objs}
		case repo.Rendered[p.mod]:
			results[i] = followed{findings: []rule.Finding{followError(p, manifest.String(by[i].Node, "spec", "path"), err)}}
		default: // the module's own build failed too, and its finding says why
		}
	})
	find := objectIndex(repo, rest)
	var findings []rule.Finding
	for i, m := range mods {
		res := results[i]
		findings = append(findings, res.findings...)
		if res.objs == nil {
			continue
		}
		var post []rule.Finding
		if !manifest.HasPostBuild(by[i].Node) {
			// Without postBuild, the module is substituted as its own build is, with polc.yaml's
			// values (they stand in for the cluster-wide variables polc does not see).
			if _, err := r.SubstituteObjects(res.objs, r.Vars, by[i].FieldPos("spec.path"), "set them in polc.yaml spec.substitute"); err != nil {
				post = append(post, followError(pending{mod: m.Name(), ks: by[i]}, "", err))
			}
		}
		post = append(post, postBuild(r, repo, pending{mod: m.Name(), ks: by[i]}, res.objs, find)...)
		findings = append(findings, post...)
		n := built[m.Name()]
		repo.Objects[m.Name()] = append(res.objs, repo.Objects[m.Name()][n:]...)
		if len(post) == 0 {
			repo.Rendered[m.Name()] = true // built as Flux builds it (its own build may have failed)
		}
	}
	return findings
}

// locate places the objects that the build of Flux Kustomization ks located in no repository file
// (the kustomization Flux generates) at the Kustomization's spec.path.
func locate(repo *rule.Repo, objs []*manifest.Object, ks *manifest.Object) {
	at := ks.FieldPos("spec.path")
	for _, o := range objs {
		if o.Pos.Line == 0 && !repo.Exists(o.Pos.File) {
			o.Pos = at
		}
	}
}

// changesBuild reports whether a Flux Kustomization's spec changes what kustomize builds from its
// path, or what Flux applies of it.
func changesBuild(ks *manifest.Object) bool {
	spec := ks.Node.Field("spec")
	return spec != nil && slices.ContainsFunc([]string{"targetNamespace", "namePrefix", "nameSuffix", "patches", "images", "components", "postBuild", "commonMetadata"},
		func(f string) bool { return spec.Value.Field(f) != nil })
}

// lacksNamespace reports whether one of objs is a namespaced object without a namespace.
func lacksNamespace(objs []*manifest.Object) bool {
	return slices.ContainsFunc(objs, func(o *manifest.Object) bool {
		return o.Ref.Namespace == "" && !kinds.ClusterScopedKind(o.Ref.Kind)
	})
}

// kustomizationsIn returns the Flux Kustomizations among objs, to follow.
func kustomizationsIn(mod string, objs []*manifest.Object, chain []string, depth int) []pending {
	var out []pending
	for _, o := range objs {
		if o.Ref.Group() == flux.Group && o.Ref.Kind == flux.Kind {
			out = append(out, pending{mod: mod, ks: o, chain: chain, depth: depth})
		}
	}
	return out
}

// followOne renders one Flux Kustomization's path, or says why it is not followed.
func followOne(ctx context.Context, r *manifest.Renderer, repo *rule.Repo, p pending) followed {
	ks := p.ks
	raw := manifest.String(ks.Node, "spec", "path")
	if m := flux.ModuleAtPath(repo, raw); m != nil {
		// A module's deployment (from any source): polc renders the module itself, as this
		// Kustomization builds it when it changes the build (redeploy).
		return followed{deploys: m.Name()}
	}
	src := repo.Config.Spec.Source
	kind := manifest.String(ks.Node, "spec", "sourceRef", "kind")
	name := manifest.String(ks.Node, "spec", "sourceRef", "name")
	ns := manifest.String(ks.Node, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = ks.Ref.Namespace
	}
	if kind != src.Kind || name != src.Name || ns != src.Namespace {
		return followed{gap: ptr(fluxGap(p, "other-source", fmt.Sprintf("%s is not followed: it reads %s/%s/%s, not this repository's source %s (polc.yaml spec.source), so what it deploys is checked only in the cluster", ks.Ref, kind, ns, name, src)))}
	}
	dir := path.Clean(strings.TrimPrefix(raw, "/"))
	if dir == ".." || strings.HasPrefix(dir, "../") {
		return followed{gap: ptr(fluxGap(p, "outside-repository", fmt.Sprintf("%s is not followed: spec.path %q leaves the repository", ks.Ref, raw)))}
	}
	objs, remotes, err := r.RenderFlux(ctx, ks.Node, dir, p.mod)
	out := followed{findings: RemoteFindings(p.mod, remotes)}
	if err != nil {
		out.findings = append(out.findings, followError(p, raw, err))
		return out
	}
	for _, o := range objs {
		o.Origin = manifest.Origin{Kind: manifest.FromFluxKustomization, By: ks.Ref.Namespace + "/" + ks.Ref.Name}
	}
	locate(repo, objs, ks)
	out.objs = objs
	return out
}

// postBuild applies to the objects of a followed Kustomization what kustomize-controller applies
// after the build: post-build substitution when spec.postBuild is set, then commonMetadata and the
// labels that name the Kustomization.
func postBuild(r *manifest.Renderer, repo *rule.Repo, p pending, objs []*manifest.Object, find manifest.Lookup) []rule.Finding {
	ks := p.ks
	var out []rule.Finding
	vars, missing, invalid, substitute := manifest.FluxVariables(ks.Node, repo.Config.Spec.Substitute, find)
	if len(invalid) > 0 {
		out = append(out, followError(p, "", fmt.Errorf("post-build variable names that Flux refuses (letters, digits and underscores, not starting with a digit): %s", strings.Join(invalid, ", "))))
	}
	if substitute {
		hint := "set them in the Flux Kustomization's spec.postBuild or in polc.yaml spec.substitute"
		if len(missing) > 0 {
			hint = "spec.postBuild.substituteFrom names " + strings.Join(missing, ", ") + ", not found in the repository; set the values in polc.yaml spec.substitute"
		}
		if _, err := r.SubstituteObjects(objs, vars, ks.FieldPos("spec.postBuild"), hint); err != nil {
			out = append(out, followError(p, "", err))
		}
	}
	if err := manifest.FluxMetadata(objs, ks.Node); err != nil {
		out = append(out, followError(p, "", err))
	}
	return out
}

// followError is the module/render finding of a Flux Kustomization that does not render.
func followError(p pending, raw string, err error) rule.Finding {
	pos := p.ks.FieldPos("spec.path")
	if re, ok := err.(*manifest.RenderError); ok && re.Pos.File != "" {
		pos = re.Pos
	}
	what := "Flux Kustomization " + p.ks.Ref.String()
	if raw != "" {
		what += fmt.Sprintf(" (spec.path %q)", raw)
	}
	return rule.Finding{Rule: rule.RenderRule, Module: p.mod, Pos: pos, Message: what + ": " + err.Error(),
		Hint: "Run `polc render " + p.mod + "` to see what polc renders and where each object comes from; fix the path or the kustomization, or set the variables in polc.yaml spec.substitute."}
}

// fluxGap is a Flux Kustomization that polc does not follow.
func fluxGap(p pending, cause, reason string) rule.Gap {
	return rule.Gap{Kind: rule.GapFluxKustomization, Module: p.mod, Object: p.ks, Field: "spec.path", Cause: cause, Reason: reason}
}

// each calls fn(i) for i in [0, n) on GOMAXPROCS workers.
func each(n int, fn func(i int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				fn(i)
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func ptr[T any](v T) *T { return &v }
