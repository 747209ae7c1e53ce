package scaffold

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestFilesMarshal: the scaffolded YAML is marshalled, so a hostile polc.yaml domain stays a
// label key and adds nothing else.
func TestFilesMarshal(t *testing.T) {
	cfg := module.DefaultConfig()
	cfg.Spec.Domain = "evil.dev/x: y\nnamePrefix: evil"
	files, err := Files(Options{Config: cfg, Name: "blog", Type: module.Application})
	require.NoError(t, err)
	var k map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(files["modules/apps/blog/kustomization.yaml"]), &k))
	require.ElementsMatch(t, []string{"apiVersion", "kind", "labels", "resources"}, keys(k))
	pairs := k["labels"].([]any)[0].(map[string]any)["pairs"].(map[string]any)
	require.Equal(t, map[string]any{cfg.ModuleLabel(): "blog", cfg.ModuleTypeLabel(): "application"}, pairs)

	var ns map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(files["modules/apps/blog/namespace.yaml"]), &ns))
	require.Equal(t, map[string]any{cfg.DependsOnAnnotation(): ""}, ns["metadata"].(map[string]any)["annotations"])

	m, err := module.ParseModule("module.yaml", []byte(files["modules/apps/blog/module.yaml"]))
	require.NoError(t, err)
	require.Equal(t, "blog", m.Name())
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFilesRefusesNames(t *testing.T) {
	for _, name := range []string{"../x", "a\nb", "A", "a/b", ""} {
		_, err := Files(Options{Config: module.DefaultConfig(), Name: name, Type: module.Application})
		require.ErrorIs(t, err, genfiles.ErrBadName, name)
	}
}

// TestWriteNeverOverwrites: Write refuses an existing module directory and a symlinked modules
// directory, and writes nothing then.
func TestWriteNeverOverwrites(t *testing.T) {
	files, err := Files(Options{Config: module.DefaultConfig(), Name: "blog", Type: module.Application})
	require.NoError(t, err)

	root := testutil.WriteRepo(t, map[string]string{"modules/apps/.keep": ""})
	written, err := Write(root, files)
	require.NoError(t, err)
	require.Len(t, written, 4)
	_, err = Write(root, files)
	require.ErrorContains(t, err, "already exists: polc new never overwrites")

	outside := t.TempDir()
	root = testutil.WriteRepo(t, map[string]string{"modules/.keep": ""})
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "modules", "apps")))
	_, err = Write(root, files)
	require.ErrorIs(t, err, genfiles.ErrSymlink)
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries)
}

// TestEmbeddedSchemasAreCurrent: the schemas that polc new and polc init write into a repository
// are the ones in schemas/. When this fails, copy schemas/*.json to internal/scaffold/schemas/.
func TestEmbeddedSchemasAreCurrent(t *testing.T) {
	for _, file := range []string{module.MetadataFile, module.ConfigFile} {
		f := Schema(file)
		want, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(f.Path)))
		require.NoError(t, err)
		require.Equal(t, string(want), string(f.Data), "internal/scaffold/%s differs from %s: copy it", f.Path, f.Path)
	}
}

// TestModelinePointsAtSchema: the $schema modeline of a scaffolded module.yaml, resolved from the
// module's directory, names the file that polc new writes, whatever the modules directory.
func TestModelinePointsAtSchema(t *testing.T) {
	for _, tc := range []struct {
		modulesDir string
		typ        module.Type
		name       string
	}{
		{"modules", module.Application, "blog"},
		{"modules", module.Infrastructure, "dns-core"},
		{"modules", module.Component, "audit"},
		{"kubernetes/apps", module.Application, "blog"},
	} {
		cfg := module.DefaultConfig()
		cfg.Spec.ModulesDir = tc.modulesDir
		files, err := Files(Options{Config: cfg, Name: tc.name, Type: tc.typ, Existing: map[string]*module.Module{}})
		require.NoError(t, err)
		for p, data := range files {
			if path.Base(p) != module.MetadataFile {
				continue
			}
			first, _, _ := strings.Cut(data, "\n")
			ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
			require.True(t, ok, "%s: no modeline: %q", p, first)
			require.Equal(t, SchemaPath(module.MetadataFile), path.Join(path.Dir(p), ref), "%s: $schema=%s", p, ref)
		}
	}
}

// TestStarterConfig: the starter polc.yaml loads with the strict loader, sets every field to its
// default, is valid against schemas/polc.schema.json, and its modeline names the schema that
// polc init writes next to it.
func TestStarterConfig(t *testing.T) {
	data := StarterConfig()
	root := testutil.WriteRepo(t, map[string]string{module.ConfigFile: string(data)})
	cfg, err := module.LoadConfig(root)
	require.NoError(t, err)
	timeout, err := cfg.RenderTimeout()
	require.NoError(t, err)
	require.Equal(t, manifest.DefaultTimeout, timeout)
	def := module.DefaultConfig()
	def.Spec.Render = cfg.Spec.Render
	require.Equal(t, def.Spec, cfg.Spec, "the starter polc.yaml sets a value that is not the default")

	first, _, _ := strings.Cut(string(data), "\n")
	require.Equal(t, "# yaml-language-server: $schema="+SchemaPath(module.ConfigFile), first)

	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "..", filepath.FromSlash(SchemaPath(module.ConfigFile))))
	require.NoError(t, err)
	var doc any
	require.NoError(t, yaml.Unmarshal(data, &doc))
	j, err := json.Marshal(doc)
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(inst))
}

// TestInitFilesNeverOverwrite: CreateMissing writes the starter files into an empty repository and
// leaves every existing one alone, a symlinked schemas directory included.
func TestInitFilesNeverOverwrite(t *testing.T) {
	root := t.TempDir()
	created, skipped, err := CreateMissing(root, InitFiles())
	require.NoError(t, err)
	require.Equal(t, []string{"polc.yaml", "schemas/polc.schema.json", "schemas/module.schema.json"}, created)
	require.Empty(t, skipped)

	root = testutil.WriteRepo(t, map[string]string{"polc.yaml": "mine\n"})
	created, skipped, err = CreateMissing(root, InitFiles())
	require.NoError(t, err)
	require.Equal(t, []string{"schemas/polc.schema.json", "schemas/module.schema.json"}, created)
	require.Equal(t, []string{"polc.yaml"}, skipped)
	got, err := os.ReadFile(filepath.Join(root, "polc.yaml"))
	require.NoError(t, err)
	require.Equal(t, "mine\n", string(got))

	outside := t.TempDir()
	root = t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(root, SchemaDir)))
	_, _, err = CreateMissing(root, InitFiles())
	require.ErrorIs(t, err, genfiles.ErrSymlink)
	require.NoFileExists(t, filepath.Join(root, "polc.yaml"))
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries)
}
