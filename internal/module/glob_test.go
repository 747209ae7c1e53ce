package module

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

func TestMatchGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"modules/**", "modules", true},
		{"modules/**", "modules/apps/media", true},
		{"modules/**", "modulesx/apps", false},
		{"kubernetes/apps/*/*/app", "kubernetes/apps/media/plex/app", true},
		{"kubernetes/apps/*/*/app", "kubernetes/apps/media/plex", false},
		{"kubernetes/apps/*/*/app", "kubernetes/apps/media/plex/app/extra", false},
		{"**/app", "a/b/app", true},
		{"**/app", "app", true},
		{"apps/**/prod", "apps/web/prod", true},
		{"apps/**/prod", "apps/prod", true},
		{"ci/**", "ci/test/repo", true},
		{"ci/**", "cix", false},
		{".archive/**", ".archive/old", true},
		{"apps/[", "apps/[", false}, // malformed: matches nothing
		{"./modules/**", "modules/a", true},
		{"**", "anything/at/all", true},
		{"apps/*", "apps", false},
	} {
		require.Equal(t, tc.want, MatchGlob(tc.pattern, tc.name), "%s ~ %s", tc.pattern, tc.name)
	}
}

func TestConfigGlobs(t *testing.T) {
	cfg, err := ParseConfig(ConfigFile, []byte("apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modules: [kubernetes/apps/*/*/app, kubernetes/infra/**]\n  exclude: [ci/**, '**/.archive']\n"))
	require.NoError(t, err)
	require.True(t, cfg.IsModuleDir("kubernetes/apps/media/plex/app"))
	require.False(t, cfg.IsModuleDir("kubernetes/apps/media"))
	require.True(t, cfg.Excluded("ci/test/x.yaml"))
	require.True(t, cfg.Excluded("kubernetes/.archive/old/module.yaml"))
	require.True(t, cfg.Excluded(".git/config"))
	require.False(t, cfg.Excluded("kubernetes/apps"))
	require.Equal(t, []string{"modules/**"}, DefaultConfig().ModuleGlobs())

	for _, tc := range []struct{ name, spec, want string }{
		{"glob leaving the repository", "  modules: [../x/**]\n", `polc.yaml:4:13: spec.modules[0]: "../x/**" leaves the repository`},
		{"absolute exclude", "  exclude: [/etc]\n", `polc.yaml:4:13: spec.exclude[0]: "/etc" leaves the repository`},
		{"malformed glob", "  exclude: ['ci/[']\n", `polc.yaml:4:13: spec.exclude[0]: "ci/[" is not a valid glob: syntax error in pattern`},
		{"shared namespace without reason", "  sharedNamespaces:\n  - name: kube-system\n    podSecurity: privileged\n",
			"polc.yaml:6:18: spec.sharedNamespaces[0].reason: required when podSecurity is privileged (say why the namespace needs a level looser than restricted)"},
		{"shared namespace name", "  sharedNamespaces:\n  - name: Kube_System\n",
			`polc.yaml:5:11: spec.sharedNamespaces[0].name: "Kube_System" is not a DNS-1123 label`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(ConfigFile, []byte("apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n"+tc.spec))
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestSharedNamespacesDefault(t *testing.T) {
	cfg, err := ParseConfig(ConfigFile, []byte("apiVersion: polc.dev/v1alpha1\nkind: Config\n"))
	require.NoError(t, err)
	require.True(t, cfg.SharedAllows("flux-system", "HelmRepository"))
	require.True(t, cfg.SharedAllows("flux-system", "Kustomization"))
	require.False(t, cfg.SharedAllows("flux-system", "Deployment"))
	require.False(t, cfg.SharedAllows("kube-system", "Deployment"))

	cfg, err = ParseConfig(ConfigFile, []byte("apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  sharedNamespaces: []\n"))
	require.NoError(t, err)
	require.False(t, cfg.SharedAllows("flux-system", "HelmRepository"), "an explicit empty list shares nothing")

	cfg, err = ParseConfig(ConfigFile, []byte("apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  sharedNamespaces:\n  - name: kube-system\n    podSecurity: privileged\n    reason: CNI and CSI node agents\n"))
	require.NoError(t, err)
	require.True(t, cfg.SharedAllows("kube-system", "DaemonSet"), "no kinds: any kind")
	require.False(t, cfg.SharedAllows("flux-system", "HelmRepository"), "the list replaces the default")
	require.Equal(t, Privileged, cfg.Shared("kube-system").Level())
}

func TestDiscoverGlobs(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{
		"kubernetes/apps/media/plex/app/module.yaml":    minimalModule,
		"kubernetes/apps/media/plex/ks.yaml":            "x: 1\n",
		"kubernetes/apps/media/module.yaml":             minimalModule, // not matched by the glob
		"kubernetes/apps/net/traefik/app/module.yaml":   minimalModule,
		"kubernetes/ci/test/app/module.yaml":            minimalModule,
		"kubernetes/apps/.archive/old/app/module.yaml":  minimalModule,
		"kubernetes/apps/archived/gone/app/module.yaml": minimalModule,
	})
	cfg, err := ParseConfig(ConfigFile, []byte("apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modules: ['kubernetes/apps/*/*/app', 'kubernetes/ci/**']\n  exclude: ['kubernetes/ci/**', '**/archived']\n"))
	require.NoError(t, err)
	cands, err := Discover(root, cfg)
	require.NoError(t, err)
	var dirs []string
	for _, c := range cands {
		require.NoError(t, c.Err)
		dirs = append(dirs, c.Dir)
	}
	require.Equal(t, []string{"kubernetes/apps/media/plex/app", "kubernetes/apps/net/traefik/app"}, dirs)

	cfg.Spec.Modules = []string{"nowhere/**"}
	_, err = Discover(root, cfg)
	require.EqualError(t, err, "no directory of polc.yaml spec.modules [nowhere/**] exists in "+root)
}

// TestMatchGlobHostile: a pattern of many '**' elements against a deep path answers at once (a
// backtracking matcher would take exponential time).
func TestMatchGlobHostile(t *testing.T) {
	pattern := strings.Repeat("**/a/", 60) + "b"
	name := strings.Repeat("a/", 200) + "c"
	require.False(t, MatchGlob(pattern, name))
	require.True(t, MatchGlob(pattern, strings.Repeat("a/", 200)+"b"))
}
