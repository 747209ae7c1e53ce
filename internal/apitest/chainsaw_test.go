package apitest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// withNodes gives every object of the test repository a node, as rendering does.
func withNodes(t *testing.T, plans []Plan) {
	for _, p := range plans {
		for _, s := range p.Steps {
			for _, o := range s.Objects {
				if o.Node != nil {
					continue
				}
				doc := "apiVersion: " + o.Ref.APIVersion + "\nkind: " + o.Ref.Kind + "\nmetadata:\n  name: " + o.Ref.Name + "\n"
				switch {
				case o.Ref.Kind == "Widget":
					doc += "  namespace: app\nspec: {size: 1}\n"
				case o.Ref.Kind == "CiliumNetworkPolicy":
					o.Ref.Namespace = "app"
					doc += "  namespace: app\n"
				case isCRD(o.Ref):
					kind := map[string]string{"widgets.example.com": "Widget", "gadgets.example.com": "Gadget"}[o.Ref.Name]
					doc += "spec:\n  group: example.com\n  names: {kind: " + kind + "}\n"
				}
				n, err := yaml.Parse(doc)
				require.NoError(t, err)
				o.Node = n
			}
		}
	}
}

// TestEmitChainsaw compares the chainsaw test of module app with its golden files; go test
// -update rewrites them.
func TestEmitChainsaw(t *testing.T) {
	plans, err := Plans(testRepo(), []string{"app"})
	require.NoError(t, err)
	withNodes(t, plans)
	dir := t.TempDir()
	require.NoError(t, EmitChainsaw(dir, plans))
	got := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	}))
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	assert.Equal(t, []string{
		"app/00-stub-crds.yaml", "app/01-net-assert.yaml", "app/01-net.yaml",
		"app/02-db-assert.yaml", "app/02-db-crds.yaml", "app/02-db.yaml",
		"app/03-app-assert.yaml", "app/03-app.yaml", "app/chainsaw-test.yaml",
	}, names)
	golden := filepath.Join("testdata", "chainsaw")
	for _, n := range names {
		path := filepath.Join(golden, filepath.FromSlash(n))
		if *update {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(got[n]), 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, string(want), got[n], n)
	}
}
