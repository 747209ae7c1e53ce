package rego

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// The schemas that policies are type-checked with are published in schemas/ at the repository
// root and embedded from copies in this package. These tests keep the copies equal to schemas/,
// the data schema equal to what Data builds, and both schemas true of real repositories.

// publishedSchemas are the schemas this package embeds.
var publishedSchemas = []string{InputSchemaFile, DataSchemaFile}

// TestSchemaCopies keeps the embedded schemas equal to schemas/; -update copies schemas/ here.
func TestSchemaCopies(t *testing.T) {
	for _, name := range publishedSchemas {
		want, err := os.ReadFile(filepath.Join("..", "..", "schemas", name))
		require.NoError(t, err)
		if testutil.Updating() {
			// The embedded copy is the one compiled in: the next run compares the new one.
			require.NoError(t, os.WriteFile(filepath.Join("schemas", name), want, 0o644))
			continue
		}
		got, err := Schema(name)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "internal/rego/schemas/%s differs from schemas/%s; run go test ./internal/rego -run TestSchemaCopies -update", name, name)
	}
}

// compileSchema compiles an embedded schema for validating documents.
func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	b, err := Schema(name)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(name, doc))
	s, err := c.Compile(name)
	require.NoError(t, err, "schema %s", name)
	return s
}

// jsonValue returns v as the JSON decoder gives it, as the validator expects.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return out
}

// polcDocument is data.polc as the rules of module m see it.
func polcDocument(repo *rule.Repo, m string) map[string]any {
	d := Data(repo)
	d["module"] = d["modules"].(map[string]any)[m]
	return d
}

// richRepo is testRepo with a module that sets every field of module.yaml, so that every key and
// list of data.polc has a value.
func richRepo(t *testing.T) *rule.Repo {
	t.Helper()
	repo := testRepo(t)
	store, err := module.ParseModule("modules/infrastructure/storage-extra/module.yaml", []byte(`apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: storage-extra
spec:
  type: infrastructure
  tier: extra
  version: 2.0.0
  description: Block storage.
  owner: storage-team
  namespaces: [{name: storage, podSecurity: privileged, reason: CSI}]
  dependsOn: [net-core]
  softDependsOn: [media]
  provides: {apis: [longhorn.io]}
  exceptions:
    - rule: security/pod-security
      resources: [{kind: DaemonSet, name: csi, namespace: storage}]
      reason: CSI needs the host.
      expires: "2030-01-01"
`))
	require.NoError(t, err)
	return rule.NewRepo(repo.Root, repo.Config, append(repo.Modules, store))
}

// TestDataSchema checks data.polc against its schema both ways: every document Data builds is
// valid (so Data emits no key the closed schema lacks, with the types it says), and the paths of
// the schema are exactly the paths Data emits (so the schema promises nothing Data leaves out).
func TestDataSchema(t *testing.T) {
	s := compileSchema(t, DataSchemaFile)
	repo := richRepo(t)
	var raw map[string]any
	b, err := Schema(DataSchemaFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &raw))
	want := map[string]bool{}
	schemaPaths(raw, raw, "data.polc", want)
	got := map[string]bool{}
	for _, m := range repo.Modules {
		doc := jsonValue(t, polcDocument(repo, m.Name()))
		require.NoError(t, s.Validate(doc), "data.polc of module %s", m.Name())
		docPaths(doc, raw, raw, "data.polc", got)
	}
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)))
}

// resolve follows a schema's local $ref into root's definitions.
func resolve(s, root map[string]any) map[string]any {
	if ref, ok := s["$ref"].(string); ok {
		defs := root["definitions"].(map[string]any)
		return defs[filepath.Base(ref)].(map[string]any)
	}
	return s
}

// schemaPaths adds the paths that schema s describes below path: p.key for properties, p.* for
// the values of an object without properties, p[] for the items of an array.
func schemaPaths(s, root map[string]any, path string, out map[string]bool) {
	s = resolve(s, root)
	out[path] = true
	if props, ok := s["properties"].(map[string]any); ok {
		for k, p := range props {
			schemaPaths(p.(map[string]any), root, path+"."+k, out)
		}
	} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
		schemaPaths(ap, root, path+".*", out)
	}
	if items, ok := s["items"].(map[string]any); ok {
		schemaPaths(items, root, path+"[]", out)
	}
}

// docPaths adds the paths of document v below path, named as schemaPaths names them: the keys of
// an object whose schema s has no properties are *.
func docPaths(v any, s, root map[string]any, path string, out map[string]bool) {
	s = resolve(s, root)
	out[path] = true
	switch v := v.(type) {
	case map[string]any:
		props, closed := s["properties"].(map[string]any)
		for k, x := range v {
			if closed {
				p, _ := props[k].(map[string]any)
				docPaths(x, p, root, path+"."+k, out)
			} else {
				docPaths(x, s["additionalProperties"].(map[string]any), root, path+".*", out)
			}
		}
	case []any:
		for _, x := range v {
			docPaths(x, s["items"].(map[string]any), root, path+"[]", out)
		}
	}
}

// testRepos are the repositories that the schemas are checked on: every test repository and this
// repository's own catalog.
func testRepos(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("..", "..", "tests", "testdata", "repos", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	return append(dirs, filepath.Join("..", ".."))
}

// TestSchemasOnRepos validates, on real repositories, data.polc of every module against the data
// schema and every rendered object against the input schema.
func TestSchemasOnRepos(t *testing.T) {
	data, input := compileSchema(t, DataSchemaFile), compileSchema(t, InputSchemaFile)
	modules, objects := 0, 0
	for _, dir := range testRepos(t) {
		repo, _, err := check.Load(dir, nil)
		if err != nil {
			continue // a repository whose polc.yaml is the test
		}
		check.Render(context.Background(), repo)
		for _, m := range repo.Reported() {
			modules++
			require.NoError(t, data.Validate(jsonValue(t, polcDocument(repo, m.Name()))), "%s: data.polc of module %s", dir, m.Name())
			for _, o := range repo.Objects[m.Name()] {
				objects++
				b, err := o.Node.MarshalJSON()
				require.NoError(t, err)
				obj, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
				require.NoError(t, err)
				require.NoError(t, input.Validate(obj), "%s: input %s of module %s", dir, o.Ref, m.Name())
			}
		}
	}
	require.Greater(t, modules, 20, "too few modules checked")
	require.Greater(t, objects, 50, "too few objects checked")
	t.Logf("%d modules, %d objects", modules, objects)
}

// TestOwnSchemaAnnotations checks that a policy's own METADATA schemas are ignored, so that
// polc's apply in every file of a package, whichever file declares the package's METADATA.
func TestOwnSchemaAnnotations(t *testing.T) {
	meta := `# METADATA
# title: Team rules
# schemas:
#   - input: schema.kubernetes
#   - data.polc: {}
package polc.team

deny contains "x" if input.kind == "Secret"
`
	dir := testutil.WriteRepo(t, map[string]string{"a.rego": meta})
	p, err := Load(dir, dir)
	require.NoError(t, err)
	require.Equal(t, "Team rules", p.Rules()[0].Title)

	dir = testutil.WriteRepo(t, map[string]string{"a.rego": meta, "b.rego": "package polc.team\n\nwarn contains \"y\" if data.polc.module.owners == \"\"\n"})
	_, err = Load(dir, dir)
	require.ErrorContains(t, err, `b.rego:3:22: rego_type_error: undefined ref: data.polc.module.owners: "owners" is not one of`)
}
