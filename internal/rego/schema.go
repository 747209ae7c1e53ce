package rego

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Policies are type-checked against JSON Schemas of what they read, so that a misspelled path
// (data.polc.modul.type, data.polc.module.kind, input.metadata.nmae) is a compile error with
// file:line:col instead of a value that is always undefined and a rule that never fires. The
// schemas apply through one package-scope METADATA annotation per package (see annotate), as if
// every package declared them, because OPA applies schemas of data documents only through
// annotations.
//
// The schemas are published in the repository's schemas/ directory, and embedded from copies in
// schemas/ next to this file that a test keeps equal to them:
//
//   - rego-input.schema.json: input, one rendered Kubernetes object. Only apiVersion, kind and
//     metadata are described; metadata is closed, every other top-level field is open.
//   - rego-data.schema.json: data.polc, closed at every level. The policy's own packages under
//     polc (polc.<name>) are added to it, as documents of any type, before it is used.
//
// OPA's type checker reads a schema's properties but not additionalProperties: an object with
// properties is closed, and one without is open. So input's top-level fields are checked one by
// one (input.apiVersion, input.kind, input.metadata) rather than as one closed object, and the
// entries of data.polc.modules, an object without fixed properties, are not checked.

//go:embed schemas/rego-input.schema.json schemas/rego-data.schema.json
var schemaFiles embed.FS

// Schema file names, the same in schemas/ and in the embedded copy.
const (
	InputSchemaFile = "rego-input.schema.json"
	DataSchemaFile  = "rego-data.schema.json"
)

// Schema returns the embedded JSON Schema named file (InputSchemaFile or DataSchemaFile).
func Schema(file string) ([]byte, error) {
	return schemaFiles.ReadFile("schemas/" + file)
}

// Where polc's schemas live in the schema set (schema.polc_input.<field>, schema.polc_data), and
// the document the data schema describes. Policies cannot refer to the schemas: polc ignores
// their schema annotations.
var (
	inputSchemaRef = ast.MustParseRef("schema.polc_input")
	dataSchemaRef  = ast.MustParseRef("schema.polc_data")
	polcRef        = ast.MustParseRef("data.polc")
)

// typeSchemas returns the schema set that mods are type-checked with and the schema annotations
// that apply it: each top-level field of input described by the input schema, and data.polc with
// every package of mods under polc added as a document of any type.
func typeSchemas(mods map[string]*ast.Module) (*ast.SchemaSet, []*ast.SchemaAnnotation, error) {
	in, err := loadSchema(InputSchemaFile)
	if err != nil {
		return nil, nil, err
	}
	data, err := loadSchema(DataSchemaFile)
	if err != nil {
		return nil, nil, err
	}
	ss := ast.NewSchemaSet()
	var annots []*ast.SchemaAnnotation
	fields, _ := in["properties"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		ref := inputSchemaRef.Append(ast.StringTerm(k))
		ss.Put(ref, fields[k])
		annots = append(annots, &ast.SchemaAnnotation{Path: ast.InputRootRef.Append(ast.StringTerm(k)), Schema: ref})
	}
	props, ok := data["properties"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("schema %s has no properties", DataSchemaFile)
	}
	for _, name := range polcPackages(mods) {
		if _, ok := props[name]; !ok {
			props[name] = map[string]any{"description": "A package of the policy."}
		}
	}
	ss.Put(dataSchemaRef, data)
	annots = append(annots, &ast.SchemaAnnotation{Path: polcRef, Schema: dataSchemaRef})
	return ss, annots, nil
}

// loadSchema decodes an embedded schema.
func loadSchema(file string) (map[string]any, error) {
	b, err := Schema(file)
	if err != nil {
		return nil, err
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("schema %s: %w", file, err)
	}
	return s, nil
}

// polcPackages returns the names that the rules of mods define directly under data.polc: polc.lb
// and polc.lb.sub give lb, a rule x of package polc gives x.
func polcPackages(mods map[string]*ast.Module) []string {
	names := map[string]bool{}
	for _, m := range mods {
		for _, r := range m.Rules {
			path := m.Package.Path.Extend(r.Head.Ref().GroundPrefix())
			if len(path) > len(polcRef) && path.HasPrefix(polcRef) {
				if s, ok := path[len(polcRef)].Value.(ast.String); ok {
					names[string(s)] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(names))
}

// annotate makes mods type-check against polc's schemas: it drops the schemas of the policy's own
// METADATA annotations (a schema reference could only name polc's, and inline schemas are not
// needed) and gives each package one package-scope annotation with annots, extending the one the
// package already declares. OPA allows one package-scope annotation per package, in any of its
// files.
func annotate(mods map[string]*ast.Module, annots []*ast.SchemaAnnotation) {
	names := slices.Sorted(maps.Keys(mods))
	declared := map[string]*ast.Annotations{}
	for _, name := range names {
		m := mods[name]
		for _, a := range m.Annotations {
			a.Schemas = nil
			if a.Scope == "package" {
				declared[m.Package.Path.String()] = a
			}
		}
	}
	for _, name := range names {
		m := mods[name]
		path := m.Package.Path.String()
		a, ok := declared[path]
		if !ok {
			a = (&ast.Annotations{Scope: "package", Location: m.Package.Location}).Copy(m.Package)
			m.Annotations = append(m.Annotations, a)
			declared[path] = a
		}
		a.Schemas = annots
	}
}

// refHint adds to a type error on a misspelled path the keys the schema allows there.
func refHint(e *ast.Error) string {
	d, ok := e.Details.(*ast.RefErrInvalidDetail)
	if !ok || len(d.OneOf) == 0 || d.Pos >= len(d.Ref) {
		return e.Message
	}
	keys := make([]string, 0, len(d.OneOf))
	for _, v := range d.OneOf {
		if s, ok := v.(ast.String); ok {
			keys = append(keys, string(s))
		} else {
			keys = append(keys, v.String())
		}
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s: %s is not one of %s", e.Message, d.Ref[d.Pos], strings.Join(keys, ", "))
}
