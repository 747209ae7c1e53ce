package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Drift compares the release files that exist in repo with the parts of them that module
// metadata alone decides, and returns a PosError for each difference: the release-please package
// of every non-component module (component, release type, the module.yaml extra file) and no
// package of a former module, the manifest version of each, the commit scopes, and the Renovate
// rule of each module directory. Chart and image rules need rendered objects and are left to
// `polc release config --check`, so the result does not depend on which modules a run rendered.
// When none of the files exists, there is no drift; when some do, each missing one is drift.
// A file that cannot be read or parsed is one PosError at the problem.
func Drift(repo *rule.Repo) []*PosError {
	docs := map[string]*document{}
	var out, missing []*PosError
	present := false
	for _, name := range FileNames() {
		data, err := readFile(repo, name)
		switch {
		case err != nil:
			out = append(out, asPosError(name, err))
			present = true
		case data == nil:
			missing = append(missing, &PosError{Pos: module.Pos{File: name},
				Message: fmt.Sprintf("%s is missing while other release files exist; run `polc release config`", name)})
		default:
			present = true
			doc, err := parseJSON(name, data)
			if err != nil {
				out = append(out, asPosError(name, err))
				continue
			}
			docs[name] = doc
		}
	}
	if !present {
		return nil
	}
	out = append(out, missing...)
	mods := Modules(repo)
	own := newOwner(repo, mods)
	if d := docs[ConfigFile]; d != nil {
		out = append(out, configDrift(d, mods, own)...)
	}
	if d := docs[ManifestFile]; d != nil {
		out = append(out, manifestDrift(d, mods, own)...)
	}
	if d := docs[ScopesFile]; d != nil {
		out = append(out, scopesDrift(d, mods)...)
	}
	if d := docs[RenovateFile]; d != nil {
		out = append(out, renovateDrift(d, mods)...)
	}
	return out
}

// asPosError returns err as a PosError of file name.
func asPosError(name string, err error) *PosError {
	var pe *PosError
	if errors.As(err, &pe) {
		return pe
	}
	return &PosError{Pos: module.Pos{File: name}, Message: err.Error()}
}

// scalar returns the value of a string node, and whether n is one.
func scalar(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", false
	}
	return n.Value, true
}

// describe renders a node for messages: a quoted string, or its JSON kind.
func describe(n *yaml.Node) string {
	if s, ok := scalar(n); ok {
		return strconv.Quote(s)
	}
	switch {
	case n == nil:
		return "missing"
	case n.Kind == yaml.MappingNode:
		return "an object"
	case n.Kind == yaml.SequenceNode:
		return "an array"
	}
	return n.Value
}

// expectString reports when the string at path differs from want.
func expectString(d *document, field, want string, path ...string) []*PosError {
	n, _ := d.lookup(path...)
	if got, ok := scalar(n); ok && got == want {
		return nil
	}
	return []*PosError{d.errorAt(fmt.Sprintf("%s is %s; expected %q", field, describe(n), want), path...)}
}

// members returns the keys of an object node, in order.
func members(n *yaml.Node) []string {
	var out []string
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	return out
}

// objectAt returns the object node at path, or a PosError when it is missing or not an object.
func objectAt(d *document, field string, path ...string) (*yaml.Node, *PosError) {
	n, _ := d.lookup(path...)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, d.errorAt(fmt.Sprintf("%s is %s; expected a JSON object", field, describe(n)), path...)
	}
	return n, nil
}

// configDrift compares release-please-config.json with the packages of mods.
func configDrift(d *document, mods []Module, own owner) []*PosError {
	pk, err := objectAt(d, "packages", "packages")
	if err != nil {
		return []*PosError{err}
	}
	var out []*PosError
	want := map[string]bool{}
	for _, m := range packages(mods) {
		want[m.Dir] = true
		field := fmt.Sprintf("packages[%q]", m.Dir)
		if n, _ := child(pk, m.Dir); n == nil {
			out = append(out, d.errorAt(fmt.Sprintf("%s is missing: module %s has no release-please package; run `polc release config`", field, m.Name), "packages"))
			continue
		}
		if _, err := objectAt(d, field, "packages", m.Dir); err != nil {
			out = append(out, err)
			continue
		}
		out = append(out, expectString(d, field+".component", m.ID, "packages", m.Dir, "component")...)
		out = append(out, expectString(d, field+".release-type", ReleaseType, "packages", m.Dir, "release-type")...)
		if !hasVersionFile(d, m.Dir) {
			out = append(out, d.errorAt(fmt.Sprintf(`%s.extra-files does not bump module.yaml; expected {"type": "yaml", "path": %q, "jsonpath": %q}`,
				field, module.MetadataFile, VersionJSONPath), "packages", m.Dir))
		}
	}
	for _, p := range members(pk) {
		if own.owns(p) && !want[p] {
			out = append(out, d.errorAt(fmt.Sprintf("packages[%q] is not a module that is released: the module was removed or is a component (components ship with the modules that include them)", p), "packages", p))
		}
	}
	return out
}

// hasVersionFile reports whether the package at dir lists polc's module.yaml extra file.
func hasVersionFile(d *document, dir string) bool {
	n, _ := d.lookup("packages", dir, "extra-files")
	if n == nil || n.Kind != yaml.SequenceNode {
		return false
	}
	for i := range n.Content {
		typ, _ := scalar(nodeAt(d, "packages", dir, "extra-files", strconv.Itoa(i), "type"))
		p, _ := scalar(nodeAt(d, "packages", dir, "extra-files", strconv.Itoa(i), "path"))
		jp, _ := scalar(nodeAt(d, "packages", dir, "extra-files", strconv.Itoa(i), "jsonpath"))
		if typ == "yaml" && p == module.MetadataFile && jp == VersionJSONPath {
			return true
		}
	}
	return false
}

func nodeAt(d *document, path ...string) *yaml.Node {
	n, _ := d.lookup(path...)
	return n
}

// manifestDrift compares .release-please-manifest.json with the versions of mods.
func manifestDrift(d *document, mods []Module, own owner) []*PosError {
	root, err := objectAt(d, "the manifest")
	if err != nil {
		return []*PosError{err}
	}
	var out []*PosError
	want := map[string]bool{}
	for _, m := range packages(mods) {
		want[m.Dir] = true
		if n, _ := child(root, m.Dir); n == nil {
			out = append(out, d.errorAt(fmt.Sprintf("%q is missing: expected version %s of module %s", m.Dir, m.Version, m.Name)))
			continue
		}
		out = append(out, expectString(d, strconv.Quote(m.Dir), m.Version, m.Dir)...)
	}
	for _, p := range members(root) {
		if own.owns(p) && !want[p] {
			out = append(out, d.errorAt(fmt.Sprintf("%q is not a module that is released: the module was removed or is a component", p), p))
		}
	}
	return out
}

// scopesDrift compares .commitlint-scopes.json with the module IDs.
func scopesDrift(d *document, mods []Module) []*PosError {
	n, _ := d.lookup()
	if n == nil || n.Kind != yaml.SequenceNode {
		return []*PosError{d.errorAt("the scopes are " + describe(n) + "; expected a JSON array of module IDs")}
	}
	have := map[string]bool{}
	var out []*PosError
	ids := map[string]bool{}
	for _, m := range mods {
		ids[m.ID] = true
	}
	for i, e := range n.Content {
		s, ok := scalar(e)
		switch {
		case !ok:
			out = append(out, d.errorAt(fmt.Sprintf("scope [%d] is %s; expected a module ID", i, describe(e)), strconv.Itoa(i)))
		case !ids[s]:
			out = append(out, d.errorAt(fmt.Sprintf("scope %q is not a module ID", s), strconv.Itoa(i)))
		}
		have[s] = true
	}
	for _, id := range buildScopes(mods) {
		if !have[id.(string)] {
			out = append(out, d.errorAt(fmt.Sprintf("scope %q is missing", id)))
		}
	}
	return out
}

// renovateDrift compares the per-directory rules of renovate/polc-modules.json with mods.
func renovateDrift(d *document, mods []Module) []*PosError {
	rules, _ := d.lookup("packageRules")
	if rules == nil || rules.Kind != yaml.SequenceNode {
		return []*PosError{d.errorAt("packageRules is "+describe(rules)+"; expected a JSON array", "packageRules")}
	}
	byGlob := map[string]int{}
	for i := range rules.Content {
		idx := strconv.Itoa(i)
		names := nodeAt(d, "packageRules", idx, "matchFileNames")
		if names == nil || names.Kind != yaml.SequenceNode || len(names.Content) != 1 {
			continue
		}
		if g, ok := scalar(names.Content[0]); ok {
			byGlob[g] = i
		}
	}
	var out []*PosError
	want := map[string]bool{}
	for _, m := range packages(mods) {
		glob := FilesGlob(m.Dir)
		want[glob] = true
		i, ok := byGlob[glob]
		if !ok {
			out = append(out, d.errorAt(fmt.Sprintf("packageRules has no rule for %s (module %s); run `polc release config`", glob, m.Name), "packageRules"))
			continue
		}
		idx := strconv.Itoa(i)
		field := fmt.Sprintf("packageRules[%d]", i)
		labels := nodeAt(d, "packageRules", idx, "labels")
		if l := stringList(labels); !slices.Equal(l, []string{Label(m.ID)}) {
			out = append(out, d.errorAt(fmt.Sprintf("%s.labels of %s is %s; expected [%q]", field, glob, describeList(labels, l), Label(m.ID)), "packageRules", idx, "labels"))
		}
		out = append(out, expectString(d, field+".semanticCommitScope of "+glob, m.ID, "packageRules", idx, "semanticCommitScope")...)
	}
	for g, i := range byGlob {
		if !want[g] {
			out = append(out, d.errorAt(fmt.Sprintf("packageRules[%d] matches %s, which is not a released module's directory", i, g), "packageRules", strconv.Itoa(i)))
		}
	}
	slices.SortStableFunc(out, func(a, b *PosError) int { return a.Pos.Line - b.Pos.Line })
	return out
}

// stringList returns the strings of an array node of strings, or nil.
func stringList(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	out := []string{}
	for _, e := range n.Content {
		s, ok := scalar(e)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

func describeList(n *yaml.Node, l []string) string {
	if l == nil {
		return describe(n)
	}
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
