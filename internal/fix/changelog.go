package fix

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const changelogFile = "CHANGELOG.md"

// moduleFiles returns the action that creates module m's missing CHANGELOG.md, with a heading for
// the current spec.version. The other module/files findings (a missing kustomization, a wrong
// kustomization kind, namespaces of a component) need a decision, not a mechanical fix.
func (p *planner) moduleFiles(m *module.Module, f rule.Finding) (*action, string) {
	rel := path.Join(m.Dir, changelogFile)
	if !strings.HasPrefix(f.Message, rel+" is missing") {
		return nil, "not a mechanical fix: " + f.Hint
	}
	return &action{rule: "module/files", mod: m, rel: rel, id: "create", create: true, content: newChangelog(m)}, ""
}

// newChangelog returns a CHANGELOG.md whose newest (only) version heading is m's spec.version, or
// an Unreleased heading when spec.version is not a semantic version.
func newChangelog(m *module.Module) []byte {
	heading := "## [Unreleased]"
	if builtin.IsSemver(m.Spec.Version) {
		heading = "## [" + m.Spec.Version + "]"
	}
	return fmt.Appendf(nil, "# Changelog\n\nAll notable changes to module %s are documented in this file.\n\n%s\n\n- Version %s.\n",
		m.Name(), heading, m.Spec.Version)
}

// moduleVersion returns the action that sets spec.version in module m's module.yaml to the newest
// version of its CHANGELOG.md, when the changelog is ahead (or spec.version is not a semantic
// version). A spec.version ahead of the changelog needs release notes, which fix does not write.
func (p *planner) moduleVersion(m *module.Module) (*action, string) {
	rel := path.Join(m.Dir, changelogFile)
	data, err := p.repo.ReadFile(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "CHANGELOG.md is missing; polc fix creates it for module/files"
	} else if err != nil {
		return nil, err.Error()
	}
	v := m.Spec.Version
	newest, _ := builtin.NewestVersion(data)
	switch {
	case newest == "" && !builtin.IsSemver(v):
		return nil, fmt.Sprintf("%s names no semantic version to take; set spec.version by hand", rel)
	case newest == "":
		return nil, fmt.Sprintf("%s has no version heading; polc fix does not write release notes: add `## [%s]` with the changes", rel, v)
	case builtin.IsSemver(v) && builtin.CompareSemver(newest, v) <= 0:
		return nil, fmt.Sprintf("spec.version %s is newer than %s, the newest version in %s; polc fix does not write release notes: add `## [%s]` with the changes", v, newest, rel, v)
	}
	a := &action{rule: "module/version", mod: m, rel: m.File, id: "version",
		unchanged: fmt.Sprintf("%s already says %s", m.File, newest)}
	a.edit = func(f *file) (bool, error) {
		return f.edit(0, 0, func(t *text, doc *yaml.Node) (bool, error) {
			return t.set(doc, []string{"spec", "version"}, newest)
		})
	}
	return a, ""
}
