// Package scaffold creates new modules that pass `polc check` as created.
package scaffold

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"polc.dev/polc/internal/module"
)

// dns1123 is a DNS-1123 label, the form module names take.
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

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

// Files returns the files of the new module, repository-relative, after validating the options.
func Files(o Options) (map[string]string, error) {
	if !dns1123.MatchString(o.Name) || len(o.Name) > 63 {
		return nil, fmt.Errorf("module name %q is not a DNS-1123 label (lower-case letters, digits and '-')", o.Name)
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
	files := map[string]string{}
	depth := strings.Repeat("../", strings.Count(dir, "/")+1)
	var spec strings.Builder
	fmt.Fprintf(&spec, "# yaml-language-server: $schema=%sschemas/module.schema.json\napiVersion: %s\nkind: Module\nmetadata:\n  name: %s\nspec:\n  type: %s\n", depth, module.APIVersion, o.Name, o.Type)
	if o.Tier != "" {
		fmt.Fprintf(&spec, "  tier: %s\n", o.Tier)
	}
	fmt.Fprintf(&spec, "  version: 0.1.0\n  description: TODO describe %s\n", o.Name)
	if o.Type == module.Component {
		files[path.Join(dir, "module.yaml")] = spec.String()
		files[path.Join(dir, "kustomization.yaml")] = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
		return files, nil
	}
	fmt.Fprintf(&spec, "  namespaces:\n    - name: %s\n", o.Name)
	if len(deps) > 0 {
		fmt.Fprintf(&spec, "  dependsOn: [%s]\n", strings.Join(deps, ", "))
	}
	files[path.Join(dir, "module.yaml")] = spec.String()
	files[path.Join(dir, "kustomization.yaml")] = fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs:
      %s: %s
      %s: %s
    includeSelectors: false
    includeTemplates: true
resources:
  - namespace.yaml
`, o.Config.ModuleLabel(), o.Name, o.Config.ModuleTypeLabel(), o.Type)
	files[path.Join(dir, "namespace.yaml")] = fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels:
    pod-security.kubernetes.io/enforce: restricted
  annotations:
    %s: %q
`, o.Name, o.Config.DependsOnAnnotation(), strings.Join(deps, ","))
	files[path.Join(dir, "CHANGELOG.md")] = "# Changelog\n\n## 0.1.0\n\n- First version.\n"
	return files, nil
}

// Write creates the files, refusing to overwrite anything: when the module directory or any file
// exists, nothing is written.
func Write(root string, files map[string]string) ([]string, error) {
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if _, err := os.Lstat(filepath.Join(root, filepath.Dir(f))); err == nil {
			return nil, fmt.Errorf("%s already exists: polc new never overwrites", filepath.Dir(f))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		break // all files share one directory
	}
	for _, f := range names {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(f), err)
		}
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", f, err)
		}
		_, err = fh.WriteString(files[f])
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", f, err)
		}
	}
	return names, nil
}
