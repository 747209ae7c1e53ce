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
	"polc.dev/polc/internal/manifest"
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
	for _, m := range selected(repo) {
		work = append(work, kustomizationsIn(m.Name(), repo.Objects[m.Name()], nil, 1)...)
	}
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
			if res.gap != nil {
				gaps = append(gaps, *res.gap)
				continue
			}
			findings = append(findings, postBuild(r, repo, p, res.objs, find)...)
			repo.Objects[p.mod] = append(repo.Objects[p.mod], res.objs...)
			work = append(work, kustomizationsIn(p.mod, res.objs, append(slices.Clip(p.chain), p.ks.Ref.Namespace+"/"+p.ks.Ref.Name), p.depth+1)...)
		}
	}
	return findings, gaps
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
	if flux.ModuleAtPath(repo, raw) != nil {
		return followed{} // a module's deployment (from any source): polc renders the module itself
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
	at := ks.FieldPos("spec.path")
	for _, o := range objs {
		o.Origin = manifest.Origin{Kind: manifest.FromFluxKustomization, By: ks.Ref.Namespace + "/" + ks.Ref.Name}
		if o.Pos.Line == 0 && !repo.Exists(o.Pos.File) {
			o.Pos = at // located in no file: the generated kustomization
		}
	}
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
