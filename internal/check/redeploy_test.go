package check

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// TestModuleDeployedByFluxKustomization: a module directory that a Flux Kustomization of another
// module deploys is built as that Kustomization builds it (targetNamespace, postBuild, labels),
// in a full run and in a run of that module alone.
func TestModuleDeployedByFluxKustomization(t *testing.T) {
	mod := func(name string) string {
		return "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + name + "\nspec:\n  type: application\n  version: 1.0.0\n"
	}
	root := testutil.WriteRepo(t, map[string]string{
		"polc.yaml":                                  "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modules: [apps/*, apps/*/*/app]\n",
		"apps/media/module.yaml":                     mod("media"),
		"apps/media/kustomization.yaml":              "resources: [namespace.yaml, plex/ks.yaml, jellyfin/ks.yaml, sonarr/ks.yaml, lidarr/ks.yaml]\n",
		"apps/media/lidarr/ks.yaml":                  ks("lidarr", "./apps/media/lidarr/app", "  targetNamespace: media\n"),
		"apps/media/lidarr/app/module.yaml":          mod("lidarr"),
		"apps/media/lidarr/app/kustomization.yaml":   "resources: [config.yaml]\n",
		"apps/media/lidarr/app/config.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lidarr\ndata:\n  a: ${DOMAIN}\n  b: ${UNSET}\n",
		"apps/media/sonarr/ks.yaml":                  ks("sonarr", "./apps/media/sonarr/app", "  targetNamespace: media\n"),
		"apps/media/sonarr/app/module.yaml":          mod("sonarr"),
		"apps/media/sonarr/app/config.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sonarr\n",
		"apps/media/namespace.yaml":                  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
		"apps/media/plex/ks.yaml":                    ks("plex", "./apps/media/plex/app", "  targetNamespace: media\n  postBuild:\n    substitute:\n      APP: plex\n"),
		"apps/media/plex/app/module.yaml":            mod("plex"),
		"apps/media/plex/app/kustomization.yaml":     "resources: [config.yaml]\n",
		"apps/media/plex/app/config.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}-config\ndata:\n  app: ${APP}\n",
		"apps/media/jellyfin/ks.yaml":                ks("jellyfin", "./apps/media/jellyfin/app", ""),
		"apps/media/jellyfin/app/module.yaml":        mod("jellyfin"),
		"apps/media/jellyfin/app/kustomization.yaml": "resources: [config.yaml]\n",
		"apps/media/jellyfin/app/config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: jellyfin\n  namespace: media\n",
	})
	for _, sel := range [][]string{nil, {"plex"}} {
		repo, findings, err := Load(root, nil)
		require.NoError(t, err)
		require.Empty(t, findings)
		if sel != nil {
			require.NoError(t, Select(repo, sel))
		}
		// The plain build of plex fails: only the deploying Kustomization's postBuild sets ${APP}.
		// lidarr's deployer has no postBuild: its own build's failure (${UNSET}) stands.
		repo.Config.Spec.Substitute["DOMAIN"] = "example.com"
		findings = Render(context.Background(), repo)
		require.True(t, repo.Rendered["plex"])
		if sel == nil {
			require.Len(t, findings, 1)
			require.Contains(t, findings[0].Message, "${UNSET}")
			require.Equal(t, "lidarr", findings[0].Module)
			require.False(t, repo.Rendered["lidarr"])
		} else {
			require.Empty(t, findings)
		}
		objs := repo.Objects["plex"]
		require.Len(t, objs, 1, "selection %v", sel)
		require.Equal(t, "ConfigMap/media/plex-config", objs[0].Ref.Kind+"/"+objs[0].Ref.Namespace+"/"+objs[0].Ref.Name)
		require.Equal(t, "plex", objs[0].Node.GetLabels()["kustomize.toolkit.fluxcd.io/name"])
		require.Equal(t, "apps/media/plex/app/config.yaml", objs[0].Pos.File)
		if sel == nil {
			// Without postBuild, polc.yaml's values substitute the module, as in its own build.
			repo2, _, err := Load(root, nil)
			require.NoError(t, err)
			repo2.Config.Spec.Substitute = map[string]string{"DOMAIN": "example.com", "UNSET": "set"}
			require.Empty(t, Render(context.Background(), repo2))
			cm := repo2.Objects["lidarr"][0]
			require.Equal(t, "media", cm.Ref.Namespace)
			require.Equal(t, "example.com", cm.Node.GetDataMap()["a"])
			// A Kustomization that changes nothing of the build leaves the module as built.
			require.Empty(t, repo.Objects["jellyfin"][0].Node.GetLabels())
			// A module directory without a kustomization is built as Flux generates one: with
			// every YAML file, module.yaml included (rule module/files asks for a kustomization).
			require.True(t, repo.Rendered["sonarr"])
			var got []string
			for _, o := range repo.Objects["sonarr"] {
				got = append(got, o.Ref.Kind+"/"+o.Ref.Namespace+"/"+o.Ref.Name+" "+o.Pos.File)
			}
			require.ElementsMatch(t, []string{"ConfigMap/media/sonarr apps/media/sonarr/app/config.yaml", "Module/media/sonarr apps/media/sonarr/app/module.yaml"}, got)
		}
	}
}

func ks(name, path, spec string) string {
	return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + name + "\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: " + path +
		"\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n" + spec
}
