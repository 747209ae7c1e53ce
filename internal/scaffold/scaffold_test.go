package scaffold

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/genfiles"
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
