package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestSchemaAcrossParallelBuilds renders, in parallel and many times, modules that use kyaml's
// process-wide OpenAPI schema in each way: a strategic merge patch (the built-in schema merges
// containers by name), custom resources in a namespace (their scope is looked up in the
// schema), a kustomization that replaces the schema (openapi), and a module that uses none. Under
// -race it fails if builds race on the schema; without, it fails if the replaced schema outlives
// its build.
func TestSchemaAcrossParallelBuilds(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"patched/kustomization.yaml": "resources: [deploy.yaml]\npatches:\n  - path: patch.yaml\n",
		"patched/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n" +
			"        - name: app\n          image: app:1\n        - name: sidecar\n          image: sidecar:1\n",
		"patched/patch.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n" +
			"        - name: app\n          image: app:2\n",
		"crs/kustomization.yaml":    "namespace: widgets\nresources: [widget.yaml]\n",
		"crs/widget.yaml":           "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
		"custom/kustomization.yaml": "openapi:\n  path: schema.json\nresources: [deploy.yaml]\npatches:\n  - path: patch.yaml\n",
		"custom/schema.json":        `{"swagger": "2.0", "info": {"title": "custom", "version": "1"}, "paths": {}, "definitions": {}}`,
		"plain/kustomization.yaml":  "resources: [cm.yaml]\n",
		"plain/cm.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
	}
	files["custom/deploy.yaml"], files["custom/patch.yaml"] = files["patched/deploy.yaml"], files["patched/patch.yaml"]
	for name, data := range files {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(data), 0o644))
	}
	r := newRenderer(root)
	builtin := openapi.GetSchemaVersion()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		for _, dir := range []string{"patched", "crs", "custom", "plain"} {
			wg.Go(func() {
				objs, err := renderModule(r, dir)
				if err != nil {
					errs <- err
					return
				}
				if dir == "patched" {
					containers, err := objs[0].Node.Pipe(yaml.Lookup("spec", "template", "spec", "containers"))
					if err != nil || containers == nil || len(containers.Content()) != 2 {
						errs <- fmt.Errorf("the patch did not merge the containers by name: %s", objs[0].Node.MustString())
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.Equal(t, builtin, openapi.GetSchemaVersion(), "the custom schema outlived its build")
}
