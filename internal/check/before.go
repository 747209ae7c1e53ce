package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Change is a module whose rendered objects differ between a revision and the working tree (see
// rule.Change: Module, Before, Objects, Err).
type Change = rule.Change

// Changes returns the non-component modules of repo whose rendered objects differ between rev
// and the working tree, sorted by module name. It compares the modules that the files changed
// since rev touch (see BumpCandidates): each is rendered twice, in the working tree and in rev's
// tree read into memory (nothing is written or checked out), with the current polc.yaml's
// substitution values both times, and the objects are compared as data (see DiffObjects). A
// module that did not exist at rev is new, not changed; a module that does not render in the
// working tree is left out (module/render reports it); a module that does not render at rev, or
// a rev whose tree polc cannot read within DefaultSnapshotLimits, gives a Change with Err.
// Only the module's own kustomize build is compared: the charts of its HelmReleases are not
// templated, but the HelmRelease objects (chart version, values) are compared like any object.
func Changes(ctx context.Context, repo *rule.Repo, rev string) ([]Change, error) {
	files, err := ChangedFiles(repo.Root, rev)
	if err != nil {
		return nil, err
	}
	return compareRevision(ctx, repo, NewRenderer(repo), rev, BumpCandidates(repo, files))
}

// BumpCandidates returns the modules whose rendered objects the changed files (repository-
// relative) may change, in name order: each non-component module that holds a changed file or
// whose kustomization reaches it from elsewhere, and each non-component module that includes a
// changed component. Unlike AffectedModules it adds no dependents and treats polc.yaml as no
// change (both revisions render with the current polc.yaml). Modules the run does not report on
// are left out.
func BumpCandidates(repo *rule.Repo, files []string) []*module.Module {
	owners := map[string]bool{}
	var trees map[*module.Module][]string
	for _, f := range files {
		f = path.Clean(filepath.ToSlash(f))
		if m := moduleOf(repo, f); m != nil {
			if m.Spec.Type != module.Component {
				owners[m.Name()] = true
				continue
			}
			for _, user := range componentUsers(repo, m) {
				owners[user] = true
			}
			continue
		}
		if trees == nil {
			trees = moduleTrees(repo)
		}
		for m, dirs := range trees {
			if slices.ContainsFunc(dirs, func(d string) bool { return f == d || strings.HasPrefix(f, d+"/") }) {
				owners[m.Name()] = true
			}
		}
	}
	var out []*module.Module
	for _, m := range repo.Modules {
		if owners[m.Name()] && repo.ByName[m.Name()] == m && m.Spec.Type != module.Component && repo.IsSelected(m.Name()) {
			out = append(out, m)
		}
	}
	return out
}

// compareRevision compares the modules mods between rev and the working tree, which now renders
// (its source cache may be the run's). It starts no git process when mods is empty.
func compareRevision(ctx context.Context, repo *rule.Repo, now *manifest.Renderer, rev string, mods []*module.Module) ([]Change, error) {
	if len(mods) == 0 {
		return nil, nil
	}
	snap, err := openSnapshot(ctx, repo.Root, rev, DefaultSnapshotLimits)
	var re *RevError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &re):
		return nil, err
	case err != nil:
		// The revision cannot be read within the limits: every module says so.
		out := make([]Change, 0, len(mods))
		for _, m := range mods {
			out = append(out, Change{Module: m.Name(), Err: fmt.Sprintf("cannot read %s: %v", rev, err)})
		}
		return out, nil
	}
	defer snap.Close()
	then := NewRenderer(repo)
	then.Files, then.Sources = snap, manifest.NewSourcesOf(repo.Root, snap)
	var out []Change
	for _, m := range mods {
		c, changed := compareModule(ctx, repo, now, then, rev, m)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if changed {
			out = append(out, c)
		}
	}
	return out, nil
}

// compareModule renders module m with now (the working tree) and then (the revision) and
// returns how its objects differ; changed is false when they do not, when the module is new, or
// when it does not render in the working tree.
func compareModule(ctx context.Context, repo *rule.Repo, now, then *manifest.Renderer, rev string, m *module.Module) (c Change, changed bool) {
	c.Module = m.Name()
	meta := path.Join(m.Dir, module.MetadataFile)
	data, err := then.Files.ReadFile(meta)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, false // a new module: nothing to compare with
	case err != nil:
		c.Err = fmt.Sprintf("cannot read %s at %s: %v", meta, rev, err)
		return c, true
	}
	if old, err := module.ParseModule(meta, data); err == nil {
		c.Before = old.Spec.Version
	}
	after, err := renderSide(ctx, now, m)
	if err != nil {
		return c, false // module/render reports it
	}
	before, err := renderSide(ctx, then, m)
	if err != nil {
		c.Err = fmt.Sprintf("it does not render at %s: %v", rev, err)
		return c, true
	}
	c.Objects = DiffObjects(before, after)
	return c, len(c.Objects) > 0
}

// renderSide renders module m with r as check does: a module without kustomization.yaml renders
// nothing of its own. Objects rendered with unresolved variables are kept (both sides use the
// same values); a module that does not build is an error.
func renderSide(ctx context.Context, r *manifest.Renderer, m *module.Module) ([]*manifest.Object, error) {
	kfile := m.Dir + "/kustomization.yaml"
	if r.Files != nil {
		if mode, err := r.Files.Stat(kfile); err != nil || !mode.IsRegular() {
			return nil, nil
		}
	} else if _, err := module.Resolve(r.Root, kfile); err != nil {
		return nil, nil
	}
	objs, _, err := r.Render(ctx, m.Dir, m.Name())
	if err != nil && objs == nil {
		return nil, err
	}
	return objs, nil
}

// DiffObjects compares two renders of a module as data: objects are keyed by apiVersion, kind,
// namespace and name and compared by their canonical JSON, so formatting, comments, key order
// and object order do not count. It returns "added|removed|changed Kind/namespace/name" for each
// difference, sorted.
func DiffObjects(before, after []*manifest.Object) []string {
	type entry struct {
		ref  manifest.ObjectRef
		data []byte
	}
	index := func(objs []*manifest.Object) map[manifest.ObjectRef]entry {
		m := make(map[manifest.ObjectRef]entry, len(objs))
		for _, o := range objs {
			data, err := o.Node.MarshalJSON()
			if err != nil {
				data = []byte(o.Node.MustString())
			}
			m[o.Ref] = entry{o.Ref, data}
		}
		return m
	}
	old, cur := index(before), index(after)
	var out []string
	for ref, e := range cur {
		switch o, ok := old[ref]; {
		case !ok:
			out = append(out, "added "+ref.String())
		case !bytes.Equal(o.data, e.data):
			out = append(out, "changed "+ref.String())
		}
	}
	for ref := range old {
		if _, ok := cur[ref]; !ok {
			out = append(out, "removed "+ref.String())
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
