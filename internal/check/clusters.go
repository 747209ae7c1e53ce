package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// runClusters reads the cluster entry points that polc.yaml spec.clusters lists into
// repo.Clusters, with the run's renderer r, and runs the rules that check cluster objects
// (rule.Rule.ClusterObjects) on their Flux Kustomizations. Each Kustomization is checked as an object of the module it deploys, found
// by its name (<prefix>-<module>); Kustomizations of no module, of modules the run does not
// select (unless the run is by changed files and touched names the entry point), and every other
// object are not checked. Cluster entry points are not modules: no other rule sees them.
//
// A listed directory that does not exist is a configuration error; one that does not render or
// parse is reported as a finding of each cluster rule, which could not check it.
func runClusters(ctx context.Context, r *manifest.Renderer, repo *rule.Repo, rules []rule.Rule, touched map[string]bool) ([]rule.Finding, error) {
	var crules []rule.Rule
	for _, ru := range rules {
		if ru.ClusterObjects && ru.CheckObject != nil {
			crules = append(crules, ru)
		}
	}
	if len(crules) == 0 {
		return nil, nil
	}
	var out []rule.Finding
	changedEntry := map[*manifest.Object]bool{}
	for i, dir := range repo.Config.Spec.Clusters {
		field := fmt.Sprintf("spec.clusters[%d]", i)
		dir = path.Clean(dir)
		abs, err := module.Resolve(repo.Root, dir)
		if err != nil {
			return nil, &ConfigError{fmt.Errorf("%s: %s: cluster entry point: %w", repo.Config.Pos(field), field, err)}
		}
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			return nil, &ConfigError{fmt.Errorf("%s: %s: cluster entry point %q is not a directory", repo.Config.Pos(field), field, dir)}
		}
		objs, remotes, pos, err := readCluster(ctx, r, repo, dir, abs)
		out = append(out, RemoteFindings("", remotes)...)
		repo.Clusters = append(repo.Clusters, objs...)
		for _, o := range objs {
			if touched[dir] {
				changedEntry[o] = true
			}
		}
		if err != nil {
			for _, ru := range crules {
				out = append(out, rule.Finding{Rule: ru.ID, Severity: ru.Severity, Pos: pos,
					Message: fmt.Sprintf("cluster entry point %s cannot be read, so some of its Flux Kustomizations may go unchecked: %v", dir, err),
					Hint:    "Fix the cluster entry point so that `kustomize build " + dir + "` succeeds, or remove it from polc.yaml spec.clusters."})
			}
		}
	}
	for _, o := range repo.Clusters {
		if o.Ref.Group() != flux.Group || o.Ref.Kind != flux.Kind {
			continue
		}
		m := flux.ModuleOf(repo, o.Ref.Name)
		if m == nil || repo.Selected != nil && !repo.Selected[m.Name()] && !changedEntry[o] {
			continue
		}
		out = append(out, CheckObject(repo, m, o, crules)...)
	}
	return out, nil
}

// readCluster returns the objects of the cluster entry point dir (relative; abs is its resolved
// path): rendered as a kustomization when it has a kustomization.yaml, else parsed from its *.yaml
// files in name order. On error, pos says where the problem is.
func readCluster(ctx context.Context, r *manifest.Renderer, repo *rule.Repo, dir, abs string) ([]*manifest.Object, []manifest.Remote, module.Pos, error) {
	if repo.Exists(path.Join(dir, "kustomization.yaml")) {
		objs, remotes, err := r.Render(ctx, dir, "")
		if re, ok := err.(*manifest.RenderError); ok {
			return objs, remotes, re.Pos, err
		}
		return objs, remotes, module.Pos{File: path.Join(dir, "kustomization.yaml")}, err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, nil, module.Pos{File: dir}, fmt.Errorf("read %s: %w", dir, err)
	}
	var objs []*manifest.Object
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		rel := path.Join(dir, e.Name())
		f := r.Sources.Get(rel)
		var fe *module.FieldError
		if errors.As(f.Err, &fe) {
			return objs, nil, fe.Pos, errors.New(fe.Message)
		}
		if f.Err != nil {
			return objs, nil, module.Pos{File: rel}, f.Err
		}
		for _, d := range f.Docs {
			if err := manifest.NotObject(d.Node); err != nil {
				return objs, nil, d.Pos, err
			}
			objs = append(objs, &manifest.Object{Node: d.Node, Ref: manifest.RefOf(d.Node), Pos: d.Pos, Source: d.Node})
		}
	}
	return objs, nil, module.Pos{}, nil
}

// TouchedClusters returns the cluster entry points (polc.yaml spec.clusters, cleaned) that hold one
// of the changed files: a run by changed files checks every Flux Kustomization of those, whatever
// modules it selects, since the cluster rules read only module metadata.
func TouchedClusters(repo *rule.Repo, files []string) map[string]bool {
	out := map[string]bool{}
	for _, dir := range repo.Config.Spec.Clusters {
		dir = path.Clean(dir)
		for _, f := range files {
			if f = path.Clean(filepath.ToSlash(f)); strings.HasPrefix(f, dir+"/") {
				out[dir] = true
			}
		}
	}
	return out
}
