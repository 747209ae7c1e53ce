// Package config generates the release files of a module repository from its module metadata,
// the single source of its version automation. From the loaded modules it generates four files,
// which `polc release config` writes and `polc release config --check` and rule
// versions/release-config compare:
//
//   - release-please-config.json: one release-please package per non-component module directory,
//     whose component is the module ID (the module's Flux Kustomization name, <prefix>-<name>),
//     with release type simple and the module's module.yaml as an extra file whose
//     $.spec.version release-please bumps. Tags are then <module ID>-v<version>.
//   - .release-please-manifest.json: each such module directory with its spec.version.
//   - .commitlint-scopes.json: every module ID, components included, for commitlint's scope-enum.
//   - renovate/polc-modules.json: a Renovate preset labelling (module:<ID>) and scoping (<ID>) the
//     updates of each module's files, and of each chart and image that exactly one module uses.
//
// Components are not packages: they ship with the modules that include them and have no release
// of their own, so they get a commit scope but no release-please package or Renovate path rule.
//
// polc owns parts of the release-please files only. When they exist, every setting polc does not
// own is kept: top-level settings (plugins, changelog-sections, bump rules...), unknown keys of a
// module's package, other extra-files entries, and packages and manifest entries outside the
// modules directory (polc.yaml spec.modulesDir) that are not module directories. Packages and
// manifest entries inside it that are no longer modules (deleted, or components) are removed.
// The output is deterministic: JSON objects are written with their keys sorted (the existing
// file's order is not kept), two-space indentation and a final newline; numbers are kept as
// written. The commit scopes and the Renovate preset belong to polc entirely.
//
// Everything is computed from the repository alone: existing files are read through the
// repository's safe reader (never through a symlink that leaves it, at most MaxFileSize bytes,
// strict JSON nested at most MaxDepth deep), and a malformed file is an error naming the file
// and line, before anything is written.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// The files polc release config writes, relative to the repository root.
const (
	// ConfigFile is release-please's manifest configuration.
	ConfigFile = "release-please-config.json"
	// ManifestFile is release-please's manifest of released versions; while it exists,
	// release-please manages the modules' versions.
	ManifestFile = ".release-please-manifest.json"
	// ScopesFile is the JSON array of commit scopes that commitlint's scope-enum reads.
	ScopesFile = ".commitlint-scopes.json"
	// RenovateFile is the Renovate preset of the modules.
	RenovateFile = "renovate/polc-modules.json"
)

// FileNames lists the generated files in the order polc writes and reports them.
func FileNames() []string { return []string{ConfigFile, ManifestFile, ScopesFile, RenovateFile} }

// Settings of the generated release-please packages.
const (
	// ReleaseType is the release-please strategy of every module: a CHANGELOG.md and a version,
	// with module.yaml as an extra file.
	ReleaseType = "simple"
	// VersionJSONPath is where release-please's YAML updater writes the new version in module.yaml.
	VersionJSONPath = "$.spec.version"
	// ConfigSchema is the JSON schema of release-please-config.json.
	ConfigSchema = "https://raw.githubusercontent.com/googleapis/release-please/main/schemas/config.json"
	// RenovateSchema is the JSON schema of Renovate configuration and presets.
	RenovateSchema = "https://docs.renovatebot.com/renovate-schema.json"
)

// Module is one module as the release files see it.
type Module struct {
	// Name is the module's name.
	Name string
	// ID is the module ID: the release-please component, the tag prefix, the commit scope and
	// the Renovate label all use it.
	ID string
	// Dir is the module directory, slash-separated and relative to the repository root: the
	// release-please package path.
	Dir string
	// Version is spec.version.
	Version string
	// Component is true for component modules, which are not released on their own.
	Component bool
}

// Tag returns the git tag release-please creates for version v of the module: <ID>-v<v>.
func (m Module) Tag(v string) string { return m.ID + "-v" + v }

// Modules returns the modules of repo that the release files describe, sorted by directory:
// every module that owns its name (duplicates are rule module/name's business).
func Modules(repo *rule.Repo) []Module {
	var out []Module
	for _, m := range repo.Modules {
		if repo.ByName[m.Name()] != m {
			continue
		}
		out = append(out, Module{Name: m.Name(), ID: repo.Config.FluxName(m), Dir: m.Dir, Version: m.Spec.Version,
			Component: m.Spec.Type == module.Component})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out
}

// packages returns the modules that are release-please packages: every module but components.
func packages(mods []Module) []Module {
	return slices.DeleteFunc(slices.Clone(mods), func(m Module) bool { return m.Component })
}

// owner decides which release-please package paths polc owns: those inside the modules
// directory and the directories of modules (components outside it included).
type owner struct {
	modulesDir string
	dirs       map[string]bool
}

func newOwner(repo *rule.Repo, mods []Module) owner {
	o := owner{modulesDir: path.Clean(repo.Config.Spec.ModulesDir), dirs: map[string]bool{}}
	for _, m := range mods {
		o.dirs[m.Dir] = true
	}
	return o
}

// owns reports whether polc manages the package path p.
func (o owner) owns(p string) bool {
	if o.dirs[p] || o.modulesDir == "." || o.modulesDir == "" {
		return true
	}
	return p == o.modulesDir || strings.HasPrefix(p, o.modulesDir+"/")
}

// Generate returns the four release files of repo, in the order of FileNames. pkgs are the chart
// and image packages the rendered modules use (see RenderedPackages); nil leaves the Renovate
// preset with the per-path rules only. The existing release-please files are read from the
// repository and merged (see the package documentation); a malformed one is an error naming the
// file and line.
func Generate(repo *rule.Repo, pkgs []Usage) ([]genfiles.File, error) {
	mods := Modules(repo)
	own := newOwner(repo, mods)
	var files []genfiles.File
	for _, gen := range []struct {
		name  string
		build func(existing *document) (any, error)
	}{
		{ConfigFile, func(d *document) (any, error) { return buildConfig(mods, own, d) }},
		{ManifestFile, func(d *document) (any, error) { return buildManifest(mods, own, d) }},
		{ScopesFile, func(*document) (any, error) { return buildScopes(mods), nil }},
		{RenovateFile, func(*document) (any, error) { return buildRenovate(repo, mods, pkgs), nil }},
	} {
		var existing *document
		if gen.name == ConfigFile || gen.name == ManifestFile {
			doc, err := readJSON(repo, gen.name)
			if err != nil {
				return nil, err
			}
			existing = doc
		}
		v, err := gen.build(existing)
		if err != nil {
			return nil, err
		}
		data, err := encode(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", gen.name, err)
		}
		files = append(files, genfiles.File{Path: gen.name, Data: data})
	}
	return files, nil
}

// readFile reads a repository file; a file that does not exist is nil without error.
func readFile(repo *rule.Repo, name string) ([]byte, error) {
	data, err := repo.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &PosError{Pos: module.Pos{File: name}, Message: fmt.Sprintf("file is larger than the %d KiB limit of release files; polc does not read it", MaxFileSize>>10)}
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// buildConfig merges the packages of mods into the existing release-please configuration (nil
// when there is none).
func buildConfig(mods []Module, own owner, doc *document) (any, error) {
	cfg := map[string]any{
		"$schema":                  ConfigSchema,
		"separate-pull-requests":   true,
		"include-component-in-tag": true,
		"include-v-in-tag":         true,
		"tag-separator":            "-",
	}
	if doc != nil {
		obj, ok := doc.value.(map[string]any)
		if !ok {
			return nil, doc.errorAt("the file is not a JSON object")
		}
		cfg = obj
	}
	pkgs := map[string]any{}
	if v, ok := cfg["packages"]; ok {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, doc.errorAt("packages is not a JSON object", "packages")
		}
		pkgs = obj
	}
	want := map[string]bool{}
	for _, m := range packages(mods) {
		want[m.Dir] = true
	}
	for p := range pkgs {
		if own.owns(p) && !want[p] {
			delete(pkgs, p)
		}
	}
	for _, m := range packages(mods) {
		entry := map[string]any{}
		if v, ok := pkgs[m.Dir]; ok {
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, doc.errorAt(fmt.Sprintf("packages[%q] is not a JSON object", m.Dir), "packages", m.Dir)
			}
			entry = obj
		}
		entry["component"] = m.ID
		entry["release-type"] = ReleaseType
		extra, err := extraFiles(m, entry["extra-files"], doc)
		if err != nil {
			return nil, err
		}
		entry["extra-files"] = extra
		pkgs[m.Dir] = entry
	}
	cfg["packages"] = pkgs
	return cfg, nil
}

// versionFile is the extra-files entry that makes release-please bump spec.version in
// module.yaml; its path is relative to the package directory, as release-please resolves it.
func versionFile() map[string]any {
	return map[string]any{"type": "yaml", "path": module.MetadataFile, "jsonpath": VersionJSONPath}
}

// extraFiles returns the extra-files of a module's package: polc's module.yaml entry first, then
// every other entry that was there, in its order.
func extraFiles(m Module, existing any, doc *document) ([]any, error) {
	out := []any{versionFile()}
	if existing == nil {
		return out, nil
	}
	list, ok := existing.([]any)
	if !ok {
		return nil, doc.errorAt(fmt.Sprintf("packages[%q].extra-files is not a JSON array", m.Dir), "packages", m.Dir, "extra-files")
	}
	for _, e := range list {
		if !isVersionFile(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// isVersionFile reports whether an extra-files entry names module.yaml (polc replaces it).
func isVersionFile(e any) bool {
	switch v := e.(type) {
	case string:
		return path.Clean(v) == module.MetadataFile
	case map[string]any:
		p, _ := v["path"].(string)
		return path.Clean(p) == module.MetadataFile
	}
	return false
}

// buildManifest sets the version of every package of mods in the existing manifest (nil when
// there is none).
func buildManifest(mods []Module, own owner, doc *document) (any, error) {
	man := map[string]any{}
	if doc != nil {
		obj, ok := doc.value.(map[string]any)
		if !ok {
			return nil, doc.errorAt("the file is not a JSON object")
		}
		man = obj
	}
	want := map[string]bool{}
	for _, m := range packages(mods) {
		want[m.Dir] = true
		man[m.Dir] = m.Version
	}
	for p := range man {
		if own.owns(p) && !want[p] {
			delete(man, p)
		}
	}
	return man, nil
}

// buildScopes returns every module ID, components included, sorted and without duplicates.
func buildScopes(mods []Module) []any {
	ids := make([]string, 0, len(mods))
	for _, m := range mods {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}
