package manifest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// positionsRepo is a module whose objects kustomize does not copy from a document as written: a
// Deployment and a namespace named with Flux variables, and generator output in the module's
// kustomization, in a nested base, and in a base's base with a name prefix.
func positionsRepo(t *testing.T) string {
	return testutil.WriteRepo(t, map[string]string{
		"modules/apps/web/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: web
resources:
  - deployment.yaml
  - base
configMapGenerator:
  - name: web-settings
    literals:
      - mode=production
secretGenerator:
  - name: web-token
    type: Opaque
    literals:
      - token=x
`,
		"modules/apps/web/deployment.yaml": `# the application
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app_name}
  namespace: ${app_namespace:=web}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.27
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
`,
		"modules/apps/web/base/kustomization.yaml": `resources:
  - inner
configMapGenerator:
  - name: base-env
    envs:
      - settings.env
`,
		"modules/apps/web/base/settings.env":      "A=1\n",
		"modules/apps/web/base/inner/worker.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker-extra\n",
		"modules/apps/web/base/inner/kustomization.yaml": `namePrefix: inner-
resources: [worker.yaml]
secretGenerator:
  - literals: [b=2]
    name: inner-${suffix:=creds}
`,
	})
}

func TestRenderPositionsOfSubstitutedAndGeneratedObjects(t *testing.T) {
	root := positionsRepo(t)
	r := &Renderer{Root: root, Vars: map[string]string{"app_name": "web"}, Sources: NewSources(root)}
	objs, _, err := r.Render(context.Background(), "modules/apps/web", "web")
	require.NoError(t, err)
	tests := []struct {
		name, ref, field, pos, fieldPos string
	}{
		{name: "name and namespace from variables", ref: "Deployment/web", field: "spec.template.spec.containers[0].image",
			pos: "modules/apps/web/deployment.yaml:2:1", fieldPos: "modules/apps/web/deployment.yaml:12:18"},
		{name: "configMapGenerator of the module", ref: "ConfigMap/web-settings", field: "data[mode]",
			pos: "modules/apps/web/kustomization.yaml:8:5", fieldPos: "modules/apps/web/kustomization.yaml:8:5"},
		{name: "secretGenerator type", ref: "Secret/web-token", field: "type",
			pos: "modules/apps/web/kustomization.yaml:12:5", fieldPos: "modules/apps/web/kustomization.yaml:13:11"},
		{name: "configMapGenerator in a nested base", ref: "ConfigMap/base-env", field: "data[A]",
			pos: "modules/apps/web/base/kustomization.yaml:4:5", fieldPos: "modules/apps/web/base/kustomization.yaml:4:5"},
		{name: "secretGenerator two bases down, prefixed, named with a variable", ref: "Secret/inner-inner-creds", field: "metadata.name",
			pos: "modules/apps/web/base/inner/kustomization.yaml:4:5", fieldPos: "modules/apps/web/base/inner/kustomization.yaml:4:5"},
		{name: "resource renamed by namePrefix: the longest written name inside the rendered one", ref: "Deployment/inner-worker-extra", field: "metadata.name",
			pos: "modules/apps/web/base/inner/worker.yaml:1:1", fieldPos: "modules/apps/web/base/inner/worker.yaml:4:9"},
		{name: "resource of the module beside it", ref: "Deployment/worker", field: "metadata.name",
			pos: "modules/apps/web/deployment.yaml:14:1", fieldPos: "modules/apps/web/deployment.yaml:17:9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := findObject(t, objs, tc.ref)
			require.Equal(t, tc.pos, o.Pos.String())
			require.Equal(t, tc.fieldPos, o.FieldPos(tc.field).String())
		})
	}
}

// findObject returns the one object whose Kind/name is ref, or ref followed by a generator's hash
// suffix.
func findObject(t *testing.T, objs []*Object, ref string) *Object {
	t.Helper()
	var found []*Object
	var all []string
	for _, o := range objs {
		r := o.Ref.Kind + "/" + o.Ref.Name
		all = append(all, r)
		if r == ref || o.Ref.Kind != "Deployment" && strings.HasPrefix(r, ref+"-") {
			found = append(found, o)
		}
	}
	require.Len(t, found, 1, "objects named %s in %v", ref, all)
	return found[0]
}
