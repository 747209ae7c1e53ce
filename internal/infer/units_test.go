package infer

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/testutil"
)

const (
	kustomization = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
	fluxKSHead    = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
	ownSource     = "  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n"
)

func namespaceDoc(name string, labels ...string) string {
	s := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
	if len(labels) > 0 {
		s += "  labels:\n"
		for _, l := range labels {
			s += "    " + l + "\n"
		}
	}
	return s
}

func deploymentDoc(name, ns, podSpec string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\n  namespace: " + ns +
		"\nspec:\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec:\n" + podSpec
}

// restrictedPod meets the restricted level.
const restrictedPod = `      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: app:1.0
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`

// TestInferUnits: which directories become modules, and their names, in the layouts Flux
// repositories use.
// long63 is a DNS-1123 label of the maximal length.
var long63 = strings.Repeat("a", 63)

func TestInferUnits(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		modulesDir string
		exclude    []string
		// want maps module names to directories.
		want    map[string]string
		skipped []string
		globs   []string
		notes   []string
	}{
		{
			name:       "namespace/app/app with ks.yaml",
			modulesDir: "kubernetes",
			files: map[string]string{
				"kubernetes/flux/cluster/ks.yaml":                         fluxKSHead + "metadata: {name: cluster-apps, namespace: flux-system}\nspec:\n  path: ./kubernetes/apps\n" + ownSource,
				"kubernetes/apps/o11y/kustomization.yaml":                 kustomization + "resources: [namespace.yaml, grafana/ks.yaml, loki/ks.yaml]\n",
				"kubernetes/apps/o11y/namespace.yaml":                     namespaceDoc("o11y"),
				"kubernetes/apps/o11y/grafana/ks.yaml":                    fluxKSHead + "metadata: {name: grafana}\nspec:\n  path: ./kubernetes/apps/o11y/grafana/app\n  targetNamespace: o11y\n" + ownSource,
				"kubernetes/apps/o11y/grafana/app/kustomization.yaml":     kustomization + "resources: [cm.yaml]\n",
				"kubernetes/apps/o11y/grafana/app/cm.yaml":                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: grafana}\n",
				"kubernetes/apps/o11y/loki/ks.yaml":                       fluxKSHead + "metadata: {name: loki}\nspec:\n  path: ./kubernetes/apps/o11y/loki/app\n  targetNamespace: o11y\n" + ownSource,
				"kubernetes/apps/o11y/loki/app/kustomization.yaml":        kustomization + "resources: [cm.yaml]\n",
				"kubernetes/apps/o11y/loki/app/cm.yaml":                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loki}\n",
				"kubernetes/apps/o11y/loki/app/unused/kustomization.yaml": kustomization,
			},
			want:  map[string]string{"o11y": "kubernetes/apps/o11y", "grafana": "kubernetes/apps/o11y/grafana/app", "loki": "kubernetes/apps/o11y/loki/app"},
			globs: []string{"kubernetes/*/*/*/app", "kubernetes/apps/*"},
		},
		{
			name:       "Flux deploys overlays of one base in two clusters",
			modulesDir: ".",
			files: map[string]string{
				"clusters/production/apps.yaml":                      fluxKSHead + "metadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps/production\n" + ownSource,
				"clusters/staging/apps.yaml":                         fluxKSHead + "metadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./apps/staging\n" + ownSource,
				"clusters/production/flux-system/kustomization.yaml": kustomization + "resources: [gotk-components.yaml, gotk-sync.yaml]\n",
				"apps/base/podinfo/kustomization.yaml":               kustomization + "resources: [namespace.yaml]\n",
				"apps/base/podinfo/namespace.yaml":                   namespaceDoc("podinfo"),
				"apps/production/kustomization.yaml":                 kustomization + "resources: [../base/podinfo]\n",
				"apps/staging/kustomization.yaml":                    kustomization + "resources: [../base/podinfo]\n",
			},
			want:    map[string]string{"production-apps": "apps/production", "staging-apps": "apps/staging"},
			skipped: []string{"apps/base/podinfo", "clusters/production/flux-system"},
			globs:   []string{"apps/production", "apps/staging"},
			notes:   []string{"named production-apps, not apps: the name apps is also proposed for apps/staging"},
		},
		{
			name:       "ExternalArtifact built from the repository by an ArtifactGenerator, with a prefixed name",
			modulesDir: ".",
			files: map[string]string{
				"clusters/prod/artifacts.yaml": "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata: {name: g, namespace: flux-system}\nspec:\n" +
					"  sources: [{alias: repo, kind: GitRepository, name: flux-system}]\n  artifacts:\n    - name: infra\n      copy: [{from: '@repo/infrastructure/**', to: '@artifact/'}]\n",
				"clusters/prod/infra.yaml":                 fluxKSHead + "metadata: {name: infra-dns-core, namespace: flux-system}\nspec:\n  path: ./dns\n  sourceRef: {kind: ExternalArtifact, name: infra}\n",
				"infrastructure/dns/kustomization.yaml":    kustomization,
				"infrastructure/unused/kustomization.yaml": kustomization,
			},
			want:  map[string]string{"dns-core": "infrastructure/dns", "unused": "infrastructure/unused"},
			globs: []string{"infrastructure/*"},
		},
		{
			name:       "no Flux Kustomization: top-level kustomization directories, clashes qualified",
			modulesDir: "modules",
			files: map[string]string{
				"modules/apps/media/kustomization.yaml":    kustomization,
				"modules/other/media/kustomization.yaml":   kustomization,
				"modules/apps/Bad_Name/kustomization.yaml": kustomization,
			},
			want:  map[string]string{"apps-media": "modules/apps/media", "other-media": "modules/other/media", "bad-name": "modules/apps/Bad_Name"},
			notes: []string{`directory name "Bad_Name" is not a DNS-1123 label; the module is named bad-name`},
		},
		{
			// A qualified name of 63 characters cannot take a suffix without being shortened first.
			name:       "clashing names of 63 characters stay unique",
			modulesDir: "modules",
			files: map[string]string{
				"modules/x/" + long63 + "/kustomization.yaml":   kustomization,
				"modules/y/x/" + long63 + "/kustomization.yaml": kustomization,
			},
			want: map[string]string{"x-" + long63[:61]: "modules/x/" + long63, long63[:61] + "-2": "modules/y/x/" + long63},
		},
		{
			name:       "exclude",
			modulesDir: ".",
			exclude:    []string{"ci/**", ".archive/**"},
			files: map[string]string{
				"apps/web/kustomization.yaml":    kustomization,
				"ci/test/web/kustomization.yaml": kustomization,
				"ci/test/web/namespace.yaml":     namespaceDoc("web"),
			},
			want: map[string]string{"web": "apps/web"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.WriteRepo(t, tc.files)
			res, err := Infer(Options{Root: root, ModulesDir: tc.modulesDir, Exclude: tc.exclude})
			require.NoError(t, err)
			got := map[string]string{}
			var notes []string
			for _, p := range res.Proposals {
				got[p.Name()] = p.Dir
				notes = append(notes, p.Notes...)
				_, err := module.ParseModule(p.File(), Encode(p))
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, got)
			var skipped []string
			for _, s := range res.Skipped {
				skipped = append(skipped, s.Dir)
			}
			require.Equal(t, tc.skipped, skipped)
			require.Equal(t, tc.globs, res.Modules)
			for _, n := range tc.notes {
				require.True(t, slices.ContainsFunc(notes, func(s string) bool { return strings.Contains(s, n) }), "no note %q in %q", n, notes)
			}
			require.Equal(t, tc.exclude, res.Exclude)
			if tc.exclude != nil {
				require.Contains(t, string(res.Config), "exclude:\n  - ci/**\n")
			}
		})
	}
}

// TestInferValues: types, tiers, versions, Pod Security levels, dependencies and uses inferred
// from content.
func TestInferValues(t *testing.T) {
	files := map[string]string{
		".release-please-manifest.json":       `{"modules/apps/web": "1.4.2"}`,
		".git/refs/tags/api-v1.2.0":           "0000000000000000000000000000000000000000\n",
		".git/packed-refs":                    "# pack-refs with: peeled\n0000000000000000000000000000000000000000 refs/tags/api-v1.3.0\n0000000000000000000000000000000000000000 refs/tags/api/v1.10.0-rc.1\n",
		"modules/apps/web/kustomization.yaml": kustomization + "resources: [all.yaml]\n",
		"modules/apps/web/all.yaml": namespaceDoc("web") + "---\n" + deploymentDoc("web", "web", restrictedPod) +
			"---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: web\n  annotations:\n" +
			"    traefik.ingress.kubernetes.io/router.middlewares: edge-system-auth@kubernetescrd\n    cert-manager.io/cluster-issuer: letsencrypt\n" +
			"spec:\n  ingressClassName: traefik\n" +
			"---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: web}\nspec: {storageClassName: fast}\n",
		"modules/apps/api/kustomization.yaml": kustomization + "resources: [all.yaml]\n",
		"modules/apps/api/all.yaml": namespaceDoc("api") + "---\n" + deploymentDoc("api", "api", "      containers: [{name: app, image: app:1.0}]\n") +
			"---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: api, namespace: api}\nspec:\n  parentRefs: [{name: internal, namespace: edge-system}]\n" +
			"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-pool, namespace: edge-system}\n",
		"modules/edge/kustomization.yaml": kustomization + "resources: [all.yaml]\n",
		"modules/edge/all.yaml": namespaceDoc("edge-system") + "---\n" + deploymentDoc("proxy", "edge-system", "      hostNetwork: true\n      containers: [{name: app, image: app:1.0}]\n") +
			"---\napiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: auth, namespace: edge-system}\n" +
			"---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: traefik}\n" +
			"---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: internal, namespace: edge-system}\n",
		"modules/storage-extra/kustomization.yaml": kustomization + "resources: [all.yaml]\n",
		"modules/storage-extra/all.yaml": "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: x\n" +
			"---\napiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\n" +
			"---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: longhorn, namespace: longhorn-system}\nspec:\n  chart: {spec: {chart: longhorn, sourceRef: {kind: HelmRepository, name: longhorn}}}\n" +
			"---\n" + namespaceDoc("longhorn-system"),
	}
	root := testutil.WriteRepo(t, files)
	res, err := Infer(Options{Root: root})
	require.NoError(t, err)
	byName := map[string]*Proposal{}
	for _, p := range res.Proposals {
		byName[p.Name()] = p
	}
	require.Len(t, byName, 4)
	web, api, edge, storage := byName["web"].Module.Spec, byName["api"].Module.Spec, byName["edge"].Module.Spec, byName["storage-extra"].Module.Spec

	// Types and tiers.
	require.Equal(t, module.Application, web.Type)
	require.Equal(t, module.Application, api.Type)
	require.Equal(t, module.Infrastructure, edge.Type, "IngressClass is cluster-scoped, and edge-system is an infrastructure namespace")
	require.Equal(t, module.Core, edge.Tier)
	require.Equal(t, module.Infrastructure, storage.Type)
	require.Equal(t, module.Extra, storage.Tier)

	// Versions: the release-please manifest, the newest git tag, else a guess.
	require.Equal(t, "1.4.2", web.Version)
	require.Equal(t, "1.10.0-rc.1", api.Version)
	require.Equal(t, "0.1.0", edge.Version)
	require.True(t, slices.ContainsFunc(byName["edge"].Notes, func(n string) bool { return strings.Contains(n, "spec.version 0.1.0 is a guess") }))

	// Pod Security: evidence from pods and charts, else restricted and listed.
	levels := func(s module.ModuleSpec) map[string]module.Level {
		out := map[string]module.Level{}
		for _, ns := range s.Namespaces {
			out[ns.Name] = ns.Level()
			if ns.Level() != module.Restricted {
				require.NotEmpty(t, ns.Reason)
			}
		}
		return out
	}
	require.Equal(t, map[string]module.Level{"web": module.Restricted}, levels(web))
	require.Equal(t, map[string]module.Level{"api": module.Baseline}, levels(api))
	require.Equal(t, map[string]module.Level{"edge-system": module.Privileged}, levels(edge))
	require.Equal(t, map[string]module.Level{"longhorn-system": module.Privileged}, levels(storage))
	require.Equal(t, []string{"web/web"}, res.Defaulted)

	// Dependencies: middleware and issuer annotations, ingress and storage classes, parentRefs,
	// and writes into another module's namespace (with spec.uses).
	require.Equal(t, []string{"edge", "storage-extra"}, web.DependsOn)
	require.Equal(t, []string{"edge"}, api.DependsOn)
	require.Equal(t, []module.Use{{Namespace: "edge-system", Kinds: []string{"ConfigMap"},
		Reason: "writes into namespace edge-system, which module edge owns (inferred by polc init from modules/apps/api/all.yaml:24); replace this with why"}}, api.Uses)
	var whys []string
	for _, f := range byName["web"].Facts {
		if f.Field == "spec.dependsOn" {
			whys = append(whys, f.Why)
		}
	}
	require.Len(t, whys, 2)
	require.Contains(t, whys[0], "Middleware edge-system/auth in annotation traefik.ingress.kubernetes.io/router.middlewares")
}

func TestCopiedDir(t *testing.T) {
	own := map[string]bool{"repo": true}
	tests := []struct{ from, to, want, dir string }{
		{"@repo/apps/production/**", "@artifact/production/", "production", "apps/production"},
		{"@repo/infrastructure/**", "@artifact/", "controllers", "infrastructure/controllers"},
		{"@other/infrastructure/**", "@artifact/", "controllers", ""},
		{"@repo/apps/*.yaml", "@artifact/", "x", ""},
	}
	for _, tc := range tests {
		require.Equal(t, tc.dir, copiedDir(tc.from, tc.to, tc.want, own), tc.from)
	}
}
