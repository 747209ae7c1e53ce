package config

import (
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/charts"
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Renovate datasources of the packages polc knows.
const (
	// DatasourceHelm is a chart of an HTTP(S) Helm repository (package name: the chart).
	DatasourceHelm = "helm"
	// DatasourceDocker is an OCI artifact: a container image, a chart of an OCI Helm repository or
	// an OCIRepository (package name: the reference without scheme, tag or digest).
	DatasourceDocker = "docker"
)

// Package is a dependency as Renovate names it.
type Package struct {
	Datasource string
	Name       string
}

// Usage is a package that a module's rendered objects use.
type Usage struct {
	Package
	// Module is the name of the module.
	Module string
}

// RenderedPackages returns the charts and images that the rendered objects of repo's
// non-component modules use, sorted and without duplicates: the charts of HelmReleases (from
// HelmRepositories and OCIRepositories, resolved as polc check resolves them; charts of the
// repository itself are not packages), the URLs of OCIRepositories, and the images of pod
// templates. Only what repo.Objects holds is seen: render first (check.Render).
func RenderedPackages(repo *rule.Repo) []Usage {
	lookup := objectIndex(repo)
	src := repo.Config.Spec.Source
	self := charts.SourceRef{Kind: src.Kind, Namespace: src.Namespace, Name: src.Name}
	seen := map[Usage]bool{}
	var out []Usage
	add := func(mod string, p Package) {
		u := Usage{Package: p, Module: mod}
		if p.Name != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, m := range repo.Deployable() {
		for _, o := range repo.Objects[m.Name()] {
			for _, p := range objectPackages(o, lookup, self) {
				add(m.Name(), p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessUsage(out[i], out[j]) })
	return out
}

func lessUsage(a, b Usage) bool {
	if a.Datasource != b.Datasource {
		return a.Datasource < b.Datasource
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Module < b.Module
}

// objectPackages returns the packages one rendered object uses.
func objectPackages(o *manifest.Object, lookup charts.Lookup, self charts.SourceRef) []Package {
	switch {
	case o.Ref.Kind == "HelmRelease" && o.Ref.Group() == "helm.toolkit.fluxcd.io":
		res, reason, _ := charts.Resolve(o.Node, lookup, self)
		if reason != "" || res.LocalPath != "" {
			return nil
		}
		return []Package{chartPackage(res.Ref)}
	case o.Ref.Kind == "OCIRepository" && o.Ref.Group() == "source.toolkit.fluxcd.io":
		if url := manifest.String(o.Node, "spec", "url"); strings.HasPrefix(url, "oci://") {
			return []Package{{Datasource: DatasourceDocker, Name: strings.TrimRight(strings.TrimPrefix(url, "oci://"), "/")}}
		}
		return nil
	}
	return imagePackages(o)
}

// chartPackage names a remote chart as Renovate's flux manager does: a chart of an HTTP(S)
// repository by its name (datasource helm), an OCI chart by its registry path (datasource docker).
func chartPackage(ref charts.Ref) Package {
	if ref.Type == charts.TypeHelm {
		return Package{Datasource: DatasourceHelm, Name: ref.Chart}
	}
	name := strings.TrimRight(strings.TrimPrefix(ref.URL, "oci://"), "/")
	if ref.Chart != "" {
		name += "/" + ref.Chart
	}
	return Package{Datasource: DatasourceDocker, Name: name}
}

// imagePackages returns the images of the containers of o's pod template, when o is a Pod or a
// pod controller (the kinds table says where each keeps its template).
func imagePackages(o *manifest.Object) []Package {
	k, ok := kinds.Lookup(o.Ref.Kind)
	if !ok || !k.Pod || !k.Served(o.Ref.Group()) {
		return nil
	}
	spec, err := o.Node.Pipe(yaml.Lookup(append(slices.Clone(k.Template), "spec")...))
	if err != nil || spec == nil {
		return nil
	}
	var out []Package
	for _, list := range []string{"containers", "initContainers", "ephemeralContainers"} {
		seq, err := spec.Pipe(yaml.Lookup(list))
		if err != nil || seq == nil || seq.YNode().Kind != yaml.SequenceNode {
			continue
		}
		for _, c := range seq.YNode().Content {
			if name := imageName(manifest.String(yaml.NewRNode(c), "image")); name != "" {
				out = append(out, Package{Datasource: DatasourceDocker, Name: name})
			}
		}
	}
	return out
}

// imageName returns an image reference without its digest and tag, as written (Renovate's
// package name of the image); "" for an empty or unsubstituted reference.
func imageName(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	if strings.Contains(image, "${") || strings.ContainsAny(image, " \t\n") {
		return ""
	}
	return image
}

// objectIndex looks the rendered objects of every module up by kind, namespace and name; when
// several modules render the same object, the first module by name wins.
func objectIndex(repo *rule.Repo) charts.Lookup {
	idx := map[[3]string]*yaml.RNode{}
	for _, m := range repo.Modules {
		for _, o := range repo.Objects[m.Name()] {
			k := [3]string{o.Ref.Kind, o.Ref.Namespace, o.Ref.Name}
			if _, ok := idx[k]; !ok {
				idx[k] = o.Node
			}
		}
	}
	return func(kind, namespace, name string) *yaml.RNode { return idx[[3]string{kind, namespace, name}] }
}

// Label returns the Renovate label of a module's updates.
func Label(id string) string { return "module:" + id }

// FilesGlob returns the matchFileNames glob of a module directory: every file below it.
func FilesGlob(dir string) string {
	if dir == "." || dir == "" {
		return "**"
	}
	return dir + "/**"
}

// buildRenovate returns the Renovate preset: which files the flux and kubernetes managers read,
// one rule per package module's directory, and one rule per package that exactly one module uses.
func buildRenovate(repo *rule.Repo, mods []Module, pkgs []Usage) any {
	patterns := filePatterns(repo, mods)
	rules := []any{}
	byName := map[string]Module{}
	for _, m := range packages(mods) {
		byName[m.Name] = m
		rules = append(rules, map[string]any{
			"matchFileNames":      []any{FilesGlob(m.Dir)},
			"labels":              []any{Label(m.ID)},
			"semanticCommitScope": m.ID,
		})
	}
	for _, u := range singleUsers(pkgs) {
		m, ok := byName[u.Module]
		if !ok {
			continue
		}
		rules = append(rules, map[string]any{
			"matchDatasources":    []any{u.Datasource},
			"matchPackageNames":   []any{u.Name},
			"labels":              []any{Label(m.ID)},
			"semanticCommitScope": m.ID,
		})
	}
	return map[string]any{
		"$schema":      RenovateSchema,
		"description":  "Generated by polc release config from the module metadata; do not edit. Labels and scopes each module's updates with its module ID.",
		"flux":         map[string]any{"managerFilePatterns": patterns},
		"kubernetes":   map[string]any{"managerFilePatterns": patterns},
		"packageRules": rules,
	}
}

// singleUsers returns the usages of the packages that exactly one module uses, sorted.
func singleUsers(pkgs []Usage) []Usage {
	users := map[Package]map[string]bool{}
	for _, u := range pkgs {
		if users[u.Package] == nil {
			users[u.Package] = map[string]bool{}
		}
		users[u.Package][u.Module] = true
	}
	var out []Usage
	seen := map[Package]bool{}
	for _, u := range pkgs {
		if len(users[u.Package]) == 1 && !seen[u.Package] {
			seen[u.Package] = true
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessUsage(out[i], out[j]) })
	return out
}

// filePatterns returns the managerFilePatterns of the module YAML files: the modules directory,
// and the directory of each module outside it, as Renovate regular expressions.
func filePatterns(repo *rule.Repo, mods []Module) []any {
	roots := map[string]bool{}
	modulesDir := path.Clean(repo.Config.Spec.ModulesDir)
	if modulesDir != "" && modulesDir != "." {
		roots[modulesDir] = true
	}
	for _, m := range mods {
		if modulesDir == "." || modulesDir == "" {
			roots["."] = true
			break
		}
		if m.Dir != modulesDir && !strings.HasPrefix(m.Dir, modulesDir+"/") {
			roots[m.Dir] = true
		}
	}
	out := []any{}
	for _, r := range slices.Sorted(maps.Keys(roots)) {
		if r == "." {
			out = append(out, `/\.ya?ml$/`)
			continue
		}
		out = append(out, "/^"+regexp.QuoteMeta(r)+`/.+\.ya?ml$/`)
	}
	return out
}
