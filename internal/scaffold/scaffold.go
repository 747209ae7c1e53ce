// Package scaffold creates new modules that pass `polc check` as created.
package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Options describe the module to create.
type Options struct {
	// Root is the repository root; Config its configuration.
	Root   string
	Config *module.Config
	Name   string
	Type   module.Type
	// Tier is required for infrastructure modules, and must match the name's -core/-extra suffix.
	Tier module.Tier
	// Existing are the modules of the repository, for the -extra module's core dependency.
	Existing map[string]*module.Module
}

// subdirs maps a module type to its directory under the modules directory.
var subdirs = map[module.Type]string{module.Infrastructure: "infrastructure", module.Application: "apps", module.Component: "components"}

// The generated files, marshalled (never concatenated) so that no value from the command line
// or polc.yaml can add YAML of its own. Field order is output order.
type (
	moduleFile struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   nameOnly   `yaml:"metadata"`
		Spec       moduleSpec `yaml:"spec"`
	}
	nameOnly struct {
		Name string `yaml:"name"`
	}
	moduleSpec struct {
		Type        string     `yaml:"type"`
		Tier        string     `yaml:"tier,omitempty"`
		Version     string     `yaml:"version"`
		Description string     `yaml:"description"`
		Namespaces  []nameOnly `yaml:"namespaces,omitempty"`
		DependsOn   []string   `yaml:"dependsOn,omitempty"`
	}
	kustomizationFile struct {
		APIVersion string        `yaml:"apiVersion"`
		Kind       string        `yaml:"kind"`
		Labels     []labelsEntry `yaml:"labels,omitempty"`
		Resources  []string      `yaml:"resources,omitempty"`
	}
	labelsEntry struct {
		Pairs            map[string]string `yaml:"pairs"`
		IncludeSelectors bool              `yaml:"includeSelectors"`
		IncludeTemplates bool              `yaml:"includeTemplates"`
	}
	namespaceFile struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   namespaceMetadata `yaml:"metadata"`
	}
	namespaceMetadata struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
)

// marshal encodes v as YAML with indented sequences, after an optional comment.
func marshal(comment string, v any) (string, error) {
	y, err := yaml.MarshalWithOptions(v, &yaml.EncoderOptions{SeqIndent: yaml.WideSequenceStyle})
	if err != nil {
		return "", fmt.Errorf("marshal: %w", err)
	}
	return comment + string(y), nil
}

// Files returns the files of the new module, repository-relative, after validating the options.
func Files(o Options) (map[string]string, error) {
	if err := genfiles.CheckLabel(o.Name); err != nil {
		return nil, fmt.Errorf("module name %w", err)
	}
	sub, ok := subdirs[o.Type]
	if !ok {
		return nil, fmt.Errorf("invalid --type %q; allowed values: %s", o.Type, strings.Join(module.Type("").Allowed(), ", "))
	}
	var deps []string
	switch {
	case o.Type == module.Infrastructure:
		if o.Tier == "" {
			o.Tier = module.Tier(o.Name[strings.LastIndex(o.Name, "-")+1:])
		}
		if o.Tier != module.Core && o.Tier != module.Extra || !strings.HasSuffix(o.Name, "-"+string(o.Tier)) {
			return nil, fmt.Errorf("infrastructure module names end in -core or -extra, matching --tier; got %q", o.Name)
		}
		if o.Tier == module.Extra {
			core := strings.TrimSuffix(o.Name, "-extra") + "-core"
			if o.Existing[core] == nil {
				return nil, fmt.Errorf("%s needs its core module %s: create that first", o.Name, core)
			}
			deps = []string{core}
		}
	case o.Tier != "":
		return nil, fmt.Errorf("--tier applies to infrastructure modules only")
	}
	if o.Existing[o.Name] != nil {
		return nil, fmt.Errorf("module %s already exists in %s", o.Name, o.Existing[o.Name].Dir)
	}
	dir := path.Join(o.Config.Spec.ModulesDir, sub, o.Name)
	if err := genfiles.CheckPath(dir); err != nil {
		return nil, fmt.Errorf("module directory: %w", err)
	}
	files := map[string]string{}
	add := func(name, comment string, v any) error {
		data, err := marshal(comment, v)
		if err != nil {
			return fmt.Errorf("generate %s: %w", name, err)
		}
		files[path.Join(dir, name)] = data
		return nil
	}
	depth := strings.Repeat("../", strings.Count(dir, "/")+1)
	mod := moduleFile{APIVersion: module.APIVersion, Kind: "Module", Metadata: nameOnly{o.Name},
		Spec: moduleSpec{Type: string(o.Type), Tier: string(o.Tier), Version: "0.1.0", Description: "TODO describe " + o.Name}}
	// The modeline points at the schema that polc new writes when the repository has none.
	schema := "# yaml-language-server: $schema=" + depth + SchemaPath(module.MetadataFile) + "\n"
	if o.Type == module.Component {
		if err := add(module.MetadataFile, schema, mod); err != nil {
			return nil, err
		}
		if err := add("kustomization.yaml", "", kustomizationFile{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component"}); err != nil {
			return nil, err
		}
		return files, nil
	}
	mod.Spec.Namespaces = []nameOnly{{o.Name}}
	mod.Spec.DependsOn = deps
	k := kustomizationFile{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization",
		Labels: []labelsEntry{{Pairs: map[string]string{o.Config.ModuleLabel(): o.Name, o.Config.ModuleTypeLabel(): string(o.Type)},
			IncludeTemplates: true}},
		Resources: []string{"namespace.yaml"}}
	ns := namespaceFile{APIVersion: "v1", Kind: "Namespace", Metadata: namespaceMetadata{Name: o.Name,
		Labels:      map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
		Annotations: map[string]string{o.Config.DependsOnAnnotation(): strings.Join(deps, ",")}}}
	for _, f := range []struct {
		name, comment string
		v             any
	}{{module.MetadataFile, schema, mod}, {"kustomization.yaml", "", k}, {"namespace.yaml", "", ns}} {
		if err := add(f.name, f.comment, f.v); err != nil {
			return nil, err
		}
	}
	files[path.Join(dir, "CHANGELOG.md")] = "# Changelog\n\n## 0.1.0\n\n- First version.\n"
	return files, nil
}

// Write creates the files, refusing to overwrite anything: when the module directory or any file
// exists, nothing is written. It writes through genfiles.Create: every file or none, and never
// through a symlink.
func Write(root string, files map[string]string) ([]string, error) {
	names := slices.Sorted(maps.Keys(files))
	if len(names) > 0 {
		// All files share one directory, which must not exist.
		dir := path.Dir(names[0])
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(dir))); err == nil {
			return nil, fmt.Errorf("%s already exists: polc new never overwrites", dir)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
	}
	var out []genfiles.File
	for _, f := range names {
		out = append(out, genfiles.File{Path: f, Data: []byte(files[f])})
	}
	created, _, err := genfiles.Create(root, out, genfiles.RefuseExisting)
	if err != nil {
		return nil, err
	}
	return created, nil
}
