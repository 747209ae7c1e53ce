package builtin

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Module file names.
const (
	kustomizationFile = "kustomization.yaml"
	changelogFile     = "CHANGELOG.md"
)

// ModuleFiles requires the files every module carries and the kustomization kind that matches the
// module type.
var ModuleFiles = rule.Rule{
	ID:       "module/files",
	Title:    "The module has its kustomization.yaml and CHANGELOG.md, of the kind its type needs",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "Every module directory holds a kustomization.yaml, which is what Flux builds, and every module " +
		"except components holds a CHANGELOG.md whose newest version heading is the module's version. " +
		"A component module is a kustomize Component (kind: Component) that other modules include, so " +
		"it owns no namespaces; any other module's kustomization.yaml is a plain Kustomization (kind: " +
		"Kustomization, or no kind), because Flux cannot build a Component on its own.",
	Remediation: "Add the missing file, or set the kustomization's kind to Component for component modules and Kustomization for the others.",
	CheckModule: checkModuleFiles,
}

func checkModuleFiles(r *rule.Repo, m *module.Module) []rule.Finding {
	var out []rule.Finding
	atModule := func(field, msg string) {
		out = append(out, rule.ModuleFinding(m, field, msg))
	}
	component := m.Spec.Type == module.Component
	if component && len(m.Spec.Namespaces) > 0 {
		atModule("spec.namespaces", fmt.Sprintf("component module declares namespaces %v; expected none, because a component is included into other modules' namespaces", namespaceNames(m)))
	}
	if !component {
		if msg := missingFile(r, m, changelogFile); msg != "" {
			atModule("", msg)
		}
	}
	if msg := missingFile(r, m, kustomizationFile); msg != "" {
		atModule("", msg)
		return out
	}
	rel := path.Join(m.Dir, kustomizationFile)
	data, err := r.ReadFile(rel)
	if err != nil {
		atModule("", fmt.Sprintf("%s cannot be read: %v", rel, err))
		return out
	}
	f := manifest.ParseFile(rel, data)
	if f.Err != nil || len(f.Docs) == 0 {
		return out // module/render reports kustomizations that do not parse
	}
	doc := f.Docs[0]
	kind := ""
	if manifest.NotObject(doc.Node) == nil {
		kind = doc.Node.GetKind()
	}
	pos := doc.Pos
	if kn, err := doc.Node.Pipe(yaml.Get("kind")); err == nil && kn != nil {
		pos = module.Pos{File: rel, Line: kn.YNode().Line, Column: kn.YNode().Column}
	}
	switch {
	case component && kind != "Component":
		out = append(out, rule.Finding{Module: m.Name(), Pos: pos, Field: "kind",
			Message: fmt.Sprintf("kustomization kind is %q; expected \"Component\" (apiVersion kustomize.config.k8s.io/v1alpha1) for a component module", kind)})
	case !component && kind != "" && kind != "Kustomization":
		out = append(out, rule.Finding{Module: m.Name(), Pos: pos, Field: "kind",
			Message: fmt.Sprintf("kustomization kind is %q; expected \"Kustomization\" for a module of type %s", kind, m.Spec.Type)})
	}
	return out
}

// missingFile returns a message when the module file name cannot be found or resolved inside the
// repository, and "" when it is there.
func missingFile(r *rule.Repo, m *module.Module, name string) string {
	rel := path.Join(m.Dir, name)
	_, err := module.Resolve(r.Root, rel)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s is missing; expected a %s in every %s module directory", rel, name, m.Spec.Type)
	}
	return fmt.Sprintf("%s cannot be used: %v", rel, err)
}
