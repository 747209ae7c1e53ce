package module_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"polc.dev/polc/internal/module"
)

// The JSON Schemas in schemas/ describe module.yaml and polc.yaml for editors. These tests keep
// them equal to the strict loader: the schemas mirror the Go types field by field, and on every
// metadata file of the repository (and on a table of small documents) the schema and the loader
// give the same verdict.
//
// The schemas also carry the formats that polc checks after loading, in rules rather than in the
// loader: DNS-1123 names (module/name, deps/unknown), semantic versions (module/version) and
// dates (exceptions/valid). They live in the $defs named in ruleChecked; a file the schema rejects
// only there is one the loader accepts and a rule reports.

// ruleChecked lists the $defs whose constraints polc checks in rules after loading.
var ruleChecked = []string{"dnsLabel", "semver", "date"}

// repoRoot is the root of this repository, two levels above the package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "repository root not found")
	return root
}

// schemaFor maps a metadata file name to its schema.
var schemaFor = map[string]string{module.MetadataFile: "module.schema.json", module.ConfigFile: "polc.schema.json"}

// compileSchemas compiles both schemas with format assertions on, as an editor validates them.
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for file, name := range schemaFor {
		sch, err := c.Compile(filepath.Join(repoRoot(t), "schemas", name))
		require.NoError(t, err, "compile schemas/%s", name)
		out[file] = sch
	}
	return out
}

// verdict is what one side says about a file.
type verdict string

const (
	accept verdict = "accept"
	reject verdict = "reject"
	// ruleLevel: the schema rejects it only for a format that a rule checks after loading.
	ruleLevel verdict = "rule-level"
)

// schemaVerdict validates a metadata file against its schema. JSON Schema sees JSON, so the file
// is first converted by toJSON.
func schemaVerdict(sch *jsonschema.Schema, data []byte) (verdict, string) {
	doc, err := toJSON(data)
	if err != nil {
		return reject, err.Error()
	}
	err = sch.Validate(doc)
	if err == nil {
		return accept, ""
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return reject, err.Error()
	}
	for _, leaf := range leaves(ve) {
		if !isRuleChecked(leaf) {
			return reject, err.Error()
		}
	}
	return ruleLevel, err.Error()
}

// leaves returns the innermost errors: the failing keywords themselves.
func leaves(ve *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return []*jsonschema.ValidationError{ve}
	}
	var out []*jsonschema.ValidationError
	for _, c := range ve.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func isRuleChecked(ve *jsonschema.ValidationError) bool {
	for _, def := range ruleChecked {
		if strings.HasSuffix(ve.SchemaURL, "#/$defs/"+def) || strings.Contains(ve.SchemaURL, "#/$defs/"+def+"/") {
			return true
		}
	}
	return false
}

// toJSON converts a YAML document to the JSON value an editor validates, with YAML 1.2 core
// schema semantics, as polc's loader and YAML language servers read YAML: off, yes and no are
// strings, unquoted dates stay strings. (A YAML 1.1 conversion such as sigs.k8s.io/yaml's
// YAMLToJSON turns `severity: off` into false and misjudges it.) What JSON cannot express is an
// error here, as it is in the loader: duplicate keys, anchors and aliases, non-scalar keys, and
// a second non-empty document.
func toJSON(data []byte) (any, error) {
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	var doc kyaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	for {
		var extra kyaml.Node
		err := dec.Decode(&extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(extra.Content) > 0 && !(extra.Content[0].Tag == "!!null" && extra.Content[0].Anchor == "") {
			return nil, errors.New("more than one YAML document")
		}
	}
	if len(doc.Content) == 0 {
		return nil, nil // an empty file is null, which the schemas reject
	}
	return nodeValue(doc.Content[0])
}

func nodeValue(n *kyaml.Node) (any, error) {
	if n.Anchor != "" || n.Kind == kyaml.AliasNode {
		return nil, errors.New("YAML anchors and aliases")
	}
	switch n.Kind {
	case kyaml.MappingNode:
		obj := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != kyaml.ScalarNode {
				return nil, errors.New("non-scalar mapping key")
			}
			if _, dup := obj[k.Value]; dup {
				return nil, errors.New("duplicate key " + k.Value)
			}
			val, err := nodeValue(v)
			if err != nil {
				return nil, err
			}
			obj[k.Value] = val
		}
		return obj, nil
	case kyaml.SequenceNode:
		arr := []any{}
		for _, item := range n.Content {
			val, err := nodeValue(item)
			if err != nil {
				return nil, err
			}
			arr = append(arr, val)
		}
		return arr, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", nil
	case "!!int", "!!float":
		// Only the type matters to these schemas; the value need not survive (0x1F, .inf).
		return json.Number("0"), nil
	}
	return n.Value, nil // !!str, !!timestamp and custom tags are text
}

// loaderVerdict parses a metadata file with polc's loader.
func loaderVerdict(file string, data []byte) (verdict, string) {
	var err error
	if path.Base(file) == module.ConfigFile {
		_, err = module.ParseConfig(file, data)
	} else {
		_, err = module.ParseModule(file, data)
	}
	if err != nil {
		return reject, err.Error()
	}
	return accept, ""
}

// agree reports whether the two verdicts agree: a rule-level rejection by the schema is a file
// the loader accepts.
func agree(schema, loader verdict) bool {
	if schema == ruleLevel {
		return loader == accept
	}
	return schema == loader
}

// metadataFiles lists every module.yaml and polc.yaml of the repository, relative to root,
// skipping hidden directories and build output.
func metadataFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return filepath.SkipDir // an unreadable directory holds nothing to compare
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "bin" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if _, ok := schemaFor[d.Name()]; ok {
			out = append(out, rel)
		}
		return nil
	})
	require.NoError(t, err)
	sort.Strings(out)
	return out
}

// fixtureRoot returns the repository a metadata file belongs to, relative to the checkout: the
// nearest ancestor that holds a polc.yaml or a modules directory on the file's path, so that
// symlink confinement applies as it does when polc checks that repository.
func fixtureRoot(checkout, rel string) string {
	dir := path.Dir(rel)
	if path.Base(rel) == module.ConfigFile {
		return dir
	}
	for d := path.Dir(dir); ; d = path.Dir(d) {
		if _, err := os.Lstat(filepath.Join(checkout, filepath.FromSlash(d), module.ConfigFile)); err == nil {
			return d
		}
		if strings.HasPrefix(dir+"/", path.Join(d, "modules")+"/") && d != "." {
			return d
		}
		if d == "." {
			return d
		}
	}
}

func TestSchemasAgreeWithLoaderOnRepositoryFiles(t *testing.T) {
	checkout := repoRoot(t)
	schemas := compileSchemas(t)
	files := metadataFiles(t, checkout)
	require.NotEmpty(t, files)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			root := fixtureRoot(checkout, rel)
			inRepo, _ := filepath.Rel(filepath.FromSlash(root), filepath.FromSlash(rel))
			data, err := module.ReadFile(filepath.Join(checkout, filepath.FromSlash(root)), filepath.ToSlash(inRepo))
			var sv, lv verdict
			var smsg, lmsg string
			if err != nil {
				// The loader refuses to read it (a symlink out of the repository, a file over the
				// size cap); there is nothing for the schema to validate either.
				sv, lv, smsg, lmsg = reject, reject, err.Error(), err.Error()
			} else {
				sv, smsg = schemaVerdict(schemas[path.Base(rel)], data)
				lv, lmsg = loaderVerdict(rel, data)
			}
			require.True(t, agree(sv, lv), "schema says %s, loader says %s\nschema: %s\nloader: %s", sv, lv, smsg, lmsg)
			if sv != accept {
				t.Logf("schema: %s; loader: %s", sv, lv)
			}

			fixture := strings.TrimPrefix(rel, "tests/testdata/repos/")
			switch {
			case fixture != rel && strings.HasPrefix(fixture, "bad-module-metadata"):
				require.Equal(t, reject, sv, "a bad-module-metadata fixture must be rejected by the schema")
				require.Equal(t, reject, lv, "a bad-module-metadata fixture must be rejected by the loader")
			case strings.HasPrefix(rel, "modules/") || rel == module.ConfigFile:
				require.Equal(t, accept, sv, "the repository's own metadata must pass the schema: %s", smsg)
				require.Equal(t, accept, lv, "the repository's own metadata must load: %s", lmsg)
			}
		})
	}
}

// moduleDoc is a valid module.yaml with every field set; cases edit it.
const moduleDoc = `apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: storage-core
spec:
  type: infrastructure
  tier: core
  version: 0.7.0
  description: Distributed block and object storage
  owner: platform
  namespaces:
    - name: longhorn-system
      podSecurity: privileged
      reason: CSI node plugins need host access
  dependsOn: [security-core]
  softDependsOn: [observability-core]
  provides:
    apis: [longhorn.io]
  exceptions:
    - rule: security/pod-security
      resources: [{kind: DaemonSet, name: longhorn-manager, namespace: longhorn-system}]
      reason: manager mounts host paths and runs privileged
      expires: 2027-06-30
`

// configDoc is a valid polc.yaml with every field set; cases edit it.
const configDoc = `apiVersion: polc.dev/v1alpha1
kind: Config
spec:
  modulesDir: modules
  policiesDir: policies
  domain: polc.dev
  fluxPrefixes: {infrastructure: infra, application: apps}
  substitute: {cluster_domain: example.com}
  kyverno:
    target: ClusterPolicy
    action: Enforce
    tierActions: {extra: Audit}
  rules:
    security/image-digest: {severity: warning}
  clusters: [clusters/production]
`

func TestSchemasAgreeWithLoaderOnCases(t *testing.T) {
	schemas := compileSchemas(t)
	mod := func(old, new string) string { return strings.Replace(moduleDoc, old, new, 1) }
	cfg := func(old, new string) string { return strings.Replace(configDoc, old, new, 1) }
	tests := []struct {
		name string
		file string
		doc  string
		want verdict
	}{
		{name: "module: every field", file: module.MetadataFile, doc: moduleDoc, want: accept},
		{name: "module: required fields only", file: module.MetadataFile, want: accept,
			doc: "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata: {name: media}\nspec: {type: application, version: 1.0.0}\n"},
		{name: "module: optional fields null", file: module.MetadataFile, want: accept,
			doc: "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata: {name: media}\nspec:\n  type: application\n  version: 1.0.0\n  tier:\n  owner: ~\n  dependsOn:\n  provides:\n  exceptions: null\n"},
		{name: "module: empty file", file: module.MetadataFile, doc: "", want: reject},
		{name: "module: wrong apiVersion", file: module.MetadataFile, doc: mod("polc.dev/v1alpha1", "polc.dev/v1"), want: reject},
		{name: "module: wrong kind", file: module.MetadataFile, doc: mod("kind: Module", "kind: Config"), want: reject},
		{name: "module: unknown top-level field", file: module.MetadataFile, doc: moduleDoc + "status: {}\n", want: reject},
		{name: "module: unknown spec field", file: module.MetadataFile, doc: mod("  owner: platform", "  team: platform"), want: reject},
		{name: "module: missing metadata", file: module.MetadataFile, want: reject,
			doc: "apiVersion: polc.dev/v1alpha1\nkind: Module\nspec: {type: application, version: 1.0.0}\n"},
		{name: "module: missing version", file: module.MetadataFile, doc: mod("  version: 0.7.0\n", ""), want: reject},
		{name: "module: empty version", file: module.MetadataFile, doc: mod("version: 0.7.0", `version: ""`), want: reject},
		{name: "module: null type", file: module.MetadataFile, doc: mod("type: infrastructure", "type: ~"), want: reject},
		{name: "module: version is a number", file: module.MetadataFile, doc: mod("version: 0.7.0", "version: 0.7"), want: reject},
		{name: "module: version not semver", file: module.MetadataFile, doc: mod("version: 0.7.0", "version: v0.7.0"), want: ruleLevel},
		{name: "module: bad type", file: module.MetadataFile, doc: mod("type: infrastructure", "type: infra"), want: reject},
		{name: "module: empty tier", file: module.MetadataFile, doc: mod("tier: core", `tier: ""`), want: reject},
		{name: "module: bad tier", file: module.MetadataFile, doc: mod("tier: core", "tier: base"), want: reject},
		{name: "module: name not a DNS label", file: module.MetadataFile, doc: mod("name: storage-core", "name: Storage_Core"), want: ruleLevel},
		{name: "module: name too long", file: module.MetadataFile, doc: mod("name: storage-core", "name: "+strings.Repeat("a", 64)), want: ruleLevel},
		{name: "module: name is a list", file: module.MetadataFile, doc: mod("name: storage-core", "name: [a]"), want: reject},
		{name: "module: dependsOn is a string", file: module.MetadataFile, doc: mod("dependsOn: [security-core]", "dependsOn: security-core"), want: reject},
		{name: "module: dependsOn item null", file: module.MetadataFile, doc: mod("dependsOn: [security-core]", "dependsOn: [~]"), want: reject},
		{name: "module: dependsOn item not a DNS label", file: module.MetadataFile, doc: mod("dependsOn: [security-core]", "dependsOn: [Security]"), want: ruleLevel},
		{name: "module: namespace without name", file: module.MetadataFile, doc: mod("    - name: longhorn-system\n      podSecurity", "    - podSecurity"), want: reject},
		{name: "module: bad podSecurity", file: module.MetadataFile, doc: mod("podSecurity: privileged", "podSecurity: open"), want: reject},
		{name: "module: unknown namespace field", file: module.MetadataFile, doc: mod("      reason: CSI", "      why: CSI"), want: reject},
		{name: "module: provides is a list", file: module.MetadataFile, doc: mod("  provides:\n    apis: [longhorn.io]", "  provides: [longhorn.io]"), want: reject},
		{name: "module: api is a number", file: module.MetadataFile, doc: mod("apis: [longhorn.io]", "apis: [1]"), want: reject},
		{name: "module: exception without resources", file: module.MetadataFile, doc: mod("      resources: [{kind: DaemonSet, name: longhorn-manager, namespace: longhorn-system}]\n", ""), want: reject},
		{name: "module: exception with empty resources", file: module.MetadataFile, doc: mod("resources: [{kind: DaemonSet, name: longhorn-manager, namespace: longhorn-system}]", "resources: []"), want: reject},
		{name: "module: resource without kind", file: module.MetadataFile, doc: mod("{kind: DaemonSet, name:", "{name:"), want: reject},
		{name: "module: expires quoted", file: module.MetadataFile, doc: mod("expires: 2027-06-30", `expires: "2027-06-30"`), want: accept},
		{name: "module: expires not a date", file: module.MetadataFile, doc: mod("expires: 2027-06-30", "expires: next-year"), want: ruleLevel},
		{name: "module: expires impossible date", file: module.MetadataFile, doc: mod("expires: 2027-06-30", `expires: "2027-02-30"`), want: ruleLevel},
		{name: "module: duplicate key", file: module.MetadataFile, doc: mod("  owner: platform", "  owner: platform\n  owner: storage"), want: reject},
		{name: "module: anchors and aliases", file: module.MetadataFile, doc: mod("dependsOn: [security-core]\n  softDependsOn: [observability-core]", "dependsOn: &deps [security-core]\n  softDependsOn: *deps"), want: reject},
		{name: "module: a second document", file: module.MetadataFile, doc: moduleDoc + "---\n" + moduleDoc, want: reject},
		{name: "module: invalid YAML", file: module.MetadataFile, doc: mod("metadata:", "metadata: {"), want: reject},

		{name: "config: every field", file: module.ConfigFile, doc: configDoc, want: accept},
		{name: "config: apiVersion and kind only", file: module.ConfigFile, doc: "apiVersion: polc.dev/v1alpha1\nkind: Config\n", want: accept},
		{name: "config: null spec", file: module.ConfigFile, doc: "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n", want: accept},
		{name: "config: missing kind", file: module.ConfigFile, doc: "apiVersion: polc.dev/v1alpha1\n", want: reject},
		{name: "config: wrong kind", file: module.ConfigFile, doc: cfg("kind: Config", "kind: Module"), want: reject},
		{name: "config: unknown spec field", file: module.ConfigFile, doc: cfg("  domain: polc.dev", "  domains: polc.dev"), want: reject},
		{name: "config: modulesDir leaves the repository", file: module.ConfigFile, doc: cfg("modulesDir: modules", "modulesDir: ../modules"), want: reject},
		{name: "config: policiesDir absolute", file: module.ConfigFile, doc: cfg("policiesDir: policies", "policiesDir: /policies"), want: reject},
		{name: "config: nested modulesDir", file: module.ConfigFile, doc: cfg("modulesDir: modules", "modulesDir: ./catalog/modules"), want: accept},
		{name: "config: bad fluxPrefixes key", file: module.ConfigFile, doc: cfg("application: apps", "app: apps"), want: reject},
		{name: "config: fluxPrefixes value is a list", file: module.ConfigFile, doc: cfg("application: apps", "application: [apps]"), want: reject},
		{name: "config: substitute value is a number", file: module.ConfigFile, doc: cfg("cluster_domain: example.com", "cluster_port: 8080"), want: reject},
		{name: "config: substitute value null", file: module.ConfigFile, doc: cfg("cluster_domain: example.com", "cluster_domain: ~"), want: reject},
		{name: "config: bad target", file: module.ConfigFile, doc: cfg("target: ClusterPolicy", "target: Policy"), want: reject},
		{name: "config: bad action", file: module.ConfigFile, doc: cfg("action: Enforce", "action: enforce"), want: reject},
		{name: "config: bad tierActions key", file: module.ConfigFile, doc: cfg("tierActions: {extra: Audit}", "tierActions: {component: Audit}"), want: reject},
		{name: "config: bad tierActions value", file: module.ConfigFile, doc: cfg("tierActions: {extra: Audit}", "tierActions: {extra: Warn}"), want: reject},
		{name: "config: unknown kyverno field", file: module.ConfigFile, doc: cfg("    action: Enforce", "    mode: Enforce"), want: reject},
		{name: "config: rule without severity", file: module.ConfigFile, doc: cfg("{severity: warning}", "{}"), want: reject},
		{name: "config: rule set to null", file: module.ConfigFile, doc: cfg("{severity: warning}", "~"), want: reject},
		{name: "config: rule severity off", file: module.ConfigFile, doc: cfg("severity: warning", "severity: off"), want: accept},
		{name: "config: bad rule severity", file: module.ConfigFile, doc: cfg("severity: warning", "severity: fatal"), want: reject},
		{name: "config: unknown rule field", file: module.ConfigFile, doc: cfg("{severity: warning}", "{severity: warning, action: Audit}"), want: reject},
		{name: "config: empty file", file: module.ConfigFile, doc: "# nothing\n", want: reject},
		{name: "config: clusters is a string", file: module.ConfigFile, doc: cfg("clusters: [clusters/production]", "clusters: clusters/production"), want: reject},
		{name: "config: cluster leaves the repository", file: module.ConfigFile, doc: cfg("clusters: [clusters/production]", "clusters: [ok, ../clusters]"), want: reject},
		{name: "config: cluster absolute", file: module.ConfigFile, doc: cfg("clusters: [clusters/production]", "clusters: [/clusters]"), want: reject},
		{name: "config: cluster null", file: module.ConfigFile, doc: cfg("clusters: [clusters/production]", "clusters: [~]"), want: reject},
		{name: "config: clusters null", file: module.ConfigFile, doc: cfg("clusters: [clusters/production]", "clusters:"), want: accept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sv, smsg := schemaVerdict(schemas[tc.file], []byte(tc.doc))
			lv, lmsg := loaderVerdict(tc.file, []byte(tc.doc))
			require.Equal(t, tc.want, sv, "schema: %s", smsg)
			require.True(t, agree(sv, lv), "schema says %s, loader says %s\nschema: %s\nloader: %s", sv, lv, smsg, lmsg)
		})
	}
}

// TestSchemasMirrorTypes walks the Go types the loader decodes into next to their schemas: the
// same field names, the same required fields, additionalProperties false, and the enums of the
// types' Allowed lists. Adding a field to types.go without the schema fails here.
func TestSchemasMirrorTypes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		schema string
		typ    reflect.Type
	}{
		{name: "module", schema: "module.schema.json", typ: reflect.TypeFor[module.Module]()},
		{name: "config", schema: "polc.schema.json", typ: reflect.TypeFor[module.Config]()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(repoRoot(t), "schemas", tc.schema))
			require.NoError(t, err)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			require.NoError(t, err)
			m := mirror{t: t, root: doc.(map[string]any)}
			m.check(tc.typ, m.root, "")
		})
	}
}

// mirror compares a Go type with a schema node of the same document.
type mirror struct {
	t    *testing.T
	root map[string]any
}

// resolve follows a local $ref.
func (m mirror) resolve(node map[string]any) map[string]any {
	for {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		target := any(m.root)
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			target = target.(map[string]any)[part]
		}
		require.NotNil(m.t, target, "dangling $ref %s", ref)
		merged := map[string]any{}
		for k, v := range target.(map[string]any) {
			merged[k] = v
		}
		for k, v := range node {
			if k != "$ref" {
				merged[k] = v
			}
		}
		node = merged
	}
}

type allowed interface{ Allowed() []string }

var allowedType = reflect.TypeFor[allowed]()

func (m mirror) check(typ reflect.Type, node map[string]any, at string) {
	t := m.t
	node = m.resolve(node)
	if typ.Implements(allowedType) {
		want := reflect.Zero(typ).Interface().(allowed).Allowed()
		var got []string
		for _, v := range node["enum"].([]any) {
			if s, ok := v.(string); ok {
				got = append(got, s)
			}
		}
		require.Equal(t, want, got, "%s: enum", at)
		return
	}
	switch typ.Kind() {
	case reflect.String:
		if c, ok := node["const"].(string); ok {
			require.NotEmpty(t, c, "%s: const", at)
			return
		}
		require.Contains(t, types(node), "string", "%s: type", at)
	case reflect.Bool:
		require.Contains(t, types(node), "boolean", "%s: type", at)
	case reflect.Slice:
		require.Contains(t, types(node), "array", "%s: type", at)
		m.check(typ.Elem(), node["items"].(map[string]any), at+"[]")
	case reflect.Map:
		require.Contains(t, types(node), "object", "%s: type", at)
		if typ.Key().Implements(allowedType) {
			want := reflect.Zero(typ.Key()).Interface().(allowed).Allowed()
			names := m.resolve(node["propertyNames"].(map[string]any))
			var got []string
			for _, v := range names["enum"].([]any) {
				got = append(got, v.(string))
			}
			require.Equal(t, want, got, "%s: propertyNames", at)
		}
		m.check(typ.Elem(), node["additionalProperties"].(map[string]any), at+".*")
	case reflect.Struct:
		require.Contains(t, types(node), "object", "%s: type", at)
		require.Equal(t, false, node["additionalProperties"], "%s: additionalProperties", at)
		props, _ := node["properties"].(map[string]any)
		var fields, required []string
		for i := range typ.NumField() {
			name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields = append(fields, name)
			if strings.Contains(opts, "required") {
				required = append(required, name)
			}
			sub, ok := props[name].(map[string]any)
			require.True(t, ok, "%s: no schema for field %q", at, name)
			m.check(typ.Field(i).Type, sub, strings.TrimPrefix(at+"."+name, "."))
		}
		var got []string
		for name := range props {
			got = append(got, name)
		}
		sort.Strings(fields)
		sort.Strings(got)
		require.Equal(t, fields, got, "%s: properties", at)
		var gotRequired []string
		if r, ok := node["required"].([]any); ok {
			for _, v := range r {
				gotRequired = append(gotRequired, v.(string))
			}
		}
		sort.Strings(required)
		sort.Strings(gotRequired)
		require.Equal(t, required, gotRequired, "%s: required", at)
	default:
		t.Fatalf("%s: no mirror check for %s", at, typ)
	}
}

// types returns a schema node's type keyword as a list.
func types(node map[string]any) []string {
	switch v := node["type"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}
