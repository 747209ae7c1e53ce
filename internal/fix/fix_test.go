package fix

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/testutil"
)

// repos is the directory of the end-to-end test repositories that cases start from.
const repos = "../../tests/testdata/repos"

// fixCase is one repository to fix: a copy of a test repository (or an empty one), with files
// written, removed or symlinked over it.
type fixCase struct {
	name     string
	repo     string
	files    map[string]string
	remove   []string
	symlinks map[string]string // link (relative to the repository) -> target (as written)
	outside  map[string]string // files next to the repository, which fix must leave alone
	rules    []string
}

var fixCases = []fixCase{
	{name: "labels-module", repo: "bad-labels-module"},
	{name: "deps-namespace-annotation", repo: "bad-deps-namespace-annotation"},
	{name: "security-namespace-psa", repo: "bad-security-namespace-psa"},
	{name: "module-files", repo: "bad-module-files"},
	{name: "module-version", repo: "bad-module-version"},
	{name: "flux-common-metadata", repo: "good-flux-paths", files: map[string]string{
		// Inside the module: fixed. The echo app's ks.yaml is outside it: explained.
		"modules/apps/media/apps.yaml":       "# Deploys kubernetes/apps/media.\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: media-apps\n  namespace: media\nspec:\n  interval: 10m # often\n  path: ./kubernetes/apps/media\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n",
		"kubernetes/apps/media/echo/ks.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: echo\n  namespace: media\nspec:\n  interval: 10m\n  path: ./kubernetes/apps/media/echo/app\n  prune: true\n  targetNamespace: media\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n  postBuild:\n    substitute:\n      APP: echo\n    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-settings\n",
	}},
	{name: "formats", files: formatsFiles},
	// A flow-style labels entry that sets selectors (YAML 1.1 "yes") is not touched: explained.
	{name: "selectors", files: map[string]string{
		"modules/apps/media/module.yaml":        moduleYAML("media", "application", "media"),
		"modules/apps/media/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
		"modules/apps/media/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels: [{pairs: {polc.dev/module: media}, includeSelectors: yes}]\nresources:\n  - ns.yaml\n",
		"modules/apps/media/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n",
	}},
	// A patch that a later transformer overrides is added once, then explained: the kustomization
	// does not grow on every run.
	{name: "overridden-patch", rules: []string{"deps/namespace-annotation"}, files: map[string]string{
		"modules/apps/media/module.yaml":        moduleYAML("media", "application", "media") + "  dependsOn: [base]\n",
		"modules/apps/media/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
		"modules/apps/media/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncommonAnnotations:\n  polc.dev/depends-on: other\nresources:\n  - ../../../shared/media\n",
		"modules/apps/base/module.yaml":         moduleYAML("base", "application", "base"),
		"modules/apps/base/CHANGELOG.md":        "# Changelog\n\n## 1.0.0\n",
		"modules/apps/base/kustomization.yaml":  "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
		"shared/media/kustomization.yaml":       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - namespace.yaml\n",
		"shared/media/namespace.yaml":           "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
	}},
	{name: "rule-filter", files: formatsFiles, rules: []string{"deps/namespace-annotation", "module/version"}},

	{name: "hostile", files: map[string]string{
		"modules/apps/media/module.yaml":        moduleYAML("media", "application", "media"),
		"modules/apps/media/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
		"modules/apps/media/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../../shared/media\n",
		"shared/media/kustomization.yaml":       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - namespace.yaml\n",
		"shared/media/namespace.yaml":           "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
		// The kustomization is a symlink out of the repository: not rendered, nothing written.
		"modules/apps/music/module.yaml":  moduleYAML("music", "application", "music"),
		"modules/apps/music/CHANGELOG.md": "# Changelog\n\n## 1.0.0\n",
		"modules/apps/music/ns.yaml":      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: music\n",
		// module.yaml is a symlink into another directory of the repository: read, but not edited
		// (spec.version is behind CHANGELOG.md).
		"shared/video/module.yaml":              moduleYAML("video", "application", "video"),
		"modules/apps/video/CHANGELOG.md":       "# Changelog\n\n## 1.1.0\n",
		"modules/apps/video/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n  - pairs:\n      polc.dev/module: video\n      polc.dev/module-type: application\nresources:\n  - ns.yaml\n",
		"modules/apps/video/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: video\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n",
		// CHANGELOG.md is a dangling symlink out of the repository: never created through it.
		"modules/apps/photos/module.yaml":        moduleYAML("photos", "application", "photos"),
		"modules/apps/photos/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n  - pairs:\n      polc.dev/module: photos\n      polc.dev/module-type: application\n",
	}, symlinks: map[string]string{
		"modules/apps/music/kustomization.yaml": "../../../../outside/kustomization.yaml",
		"modules/apps/video/module.yaml":        "../../../shared/video/module.yaml",
		"modules/apps/photos/CHANGELOG.md":      "../../../../outside/CHANGELOG.md",
	}, outside: map[string]string{
		"outside/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ns.yaml\n",
	}},
}

// formatsFiles is a repository written in the styles fix must keep: indentation of 4, compact
// sequences, flow collections, quoted scalars, comments and blank lines.
var formatsFiles = map[string]string{
	"modules/apps/media/module.yaml":  "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n    name: media\nspec:\n    type: application\n    version: \"1.0.0\" # keep in step with CHANGELOG.md\n    dependsOn: [storage-core, network-core]\n    namespaces:\n        - name: media\n          podSecurity: baseline\n          reason: the transcoder needs it\n",
	"modules/apps/media/CHANGELOG.md": "# Changelog\n\n## [1.1.0] - 2026-02-01\n\n- Faster.\n\n## [1.0.0]\n\n- First.\n",
	// A polc-owned labels entry with a stale value, compact sequences, comments to keep.
	"modules/apps/media/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n# Labels for every object.\nlabels:\n- pairs:\n    polc.dev/module: music # stale\n    team: media\n\n# What the module deploys.\nresources:\n- namespace.yaml\n- configmap.yaml\n",
	// Flow-style annotations, a null labels key, comments and blank lines.
	"modules/apps/media/namespace.yaml":                      "# The media namespace.\napiVersion: v1\nkind: Namespace\nmetadata:\n    name: media # the app's\n    annotations: {note: \"keep me\"}\n    labels:\n\n# trailing comment\n",
	"modules/apps/media/configmap.yaml":                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: settings\n    namespace: media\ndata:\n    key: |\n        # not a comment\n        value\n",
	"modules/infrastructure/storage-core/module.yaml":        moduleYAML("storage-core", "infrastructure", "storage"),
	"modules/infrastructure/storage-core/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
	"modules/infrastructure/storage-core/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncommonLabels:\n  polc.dev/module: storage\nlabels: []\nresources:\n  - namespace.yaml\n",
	"modules/infrastructure/storage-core/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: storage\n",
	"modules/infrastructure/network-core/module.yaml":        moduleYAML("network-core", "infrastructure", "network"),
	"modules/infrastructure/network-core/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n  - pairs:\n      polc.dev/module: network-core\n    includeSelectors: true\nresources:\n  - namespace.yaml\n",
	"modules/infrastructure/network-core/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: network\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n",
}

// moduleYAML returns a module.yaml of one namespace.
func moduleYAML(name, typ, ns string) string {
	return fmt.Sprintf("apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: %s\nspec:\n  type: %s\n  version: 1.0.0\n  namespaces:\n    - name: %s\n", name, typ, ns)
}

func TestPlan(t *testing.T) {
	for _, tc := range fixCases {
		t.Run(tc.name, func(t *testing.T) {
			root := setup(t, tc)
			before := snapshot(t, filepath.Dir(root))
			res, err := Plan(context.Background(), Options{Root: root, Rules: tc.rules})
			require.NoError(t, err)
			require.Equal(t, before, snapshot(t, filepath.Dir(root)), "Plan wrote to disk")
			testutil.Golden(t, filepath.Join("testdata", tc.name+".golden"), render(t, res))

			require.NoError(t, Write(root, res.Changes))
			after := snapshot(t, filepath.Dir(root))
			for p, content := range before {
				if !strings.HasPrefix(p, root+string(filepath.Separator)) {
					require.Equal(t, content, after[p], "Write changed %s, outside the repository", p)
				}
			}
			require.NoFileExists(t, filepath.Join(filepath.Dir(root), "outside", "CHANGELOG.md"))
			for _, c := range res.Changes {
				got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(c.Path)))
				require.NoError(t, err)
				require.Equal(t, string(c.New), string(got))
			}
			again, err := Plan(context.Background(), Options{Root: root, Rules: tc.rules})
			require.NoError(t, err)
			require.Empty(t, again.Changes, "a second run changes more:\n%s", render(t, again))
			requireExplained(t, root, tc.rules, again)
		})
	}
}

// requireExplained checks that every finding of the fixed rules that polc check still reports is
// one that fix explains.
func requireExplained(t *testing.T, root string, rules []string, res *Result) {
	t.Helper()
	if len(rules) == 0 {
		rules = Fixable()
	}
	run, err := check.Run(context.Background(), check.Options{Root: root, Rules: builtin.All()})
	require.NoError(t, err)
	explained := map[string]bool{}
	for _, s := range res.Skipped {
		explained[s.Finding.Rule+" "+s.Finding.Pos.String()+" "+s.Finding.Message] = true
	}
	for _, f := range run.Findings {
		if !slices.Contains(rules, f.Rule) || f.Excepted {
			continue
		}
		msg, _, _ := strings.Cut(f.Message, " (component ")
		require.True(t, explained[f.Rule+" "+f.Pos.String()+" "+msg], "finding left without a reason: %s %s %s", f.Pos, f.Rule, f.Message)
	}
}

// render prints a plan as the golden files hold it: the diff, then the findings left.
func render(t *testing.T, res *Result) []byte {
	var b bytes.Buffer
	require.NoError(t, Diff(&b, res.Changes))
	for _, s := range res.Skipped {
		fmt.Fprintf(&b, "not fixed: %s: %s: %s\n", s.Finding.Pos, s.Finding.Rule, s.Reason)
	}
	return b.Bytes()
}

// setup builds the case's repository in a temporary directory and returns its root (a
// subdirectory, so that files next to it are outside the repository).
func setup(t *testing.T, tc fixCase) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.MkdirAll(root, 0o755))
	if tc.repo != "" {
		require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join(repos, tc.repo))))
	}
	testutil.WriteFiles(t, root, tc.files)
	testutil.WriteFiles(t, filepath.Dir(root), tc.outside)
	for _, r := range tc.remove {
		require.NoError(t, os.Remove(filepath.Join(root, r)))
	}
	for link, target := range tc.symlinks {
		require.NoError(t, os.Symlink(target, filepath.Join(root, filepath.FromSlash(link))))
	}
	return root
}

// snapshot returns every file below dir with its content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		out[p] = string(data)
		return nil
	}))
	return out
}

func TestUnknownRule(t *testing.T) {
	_, err := Plan(context.Background(), Options{Root: ".", Rules: []string{"security/image-tag"}})
	require.EqualError(t, err, `rule "security/image-tag" has no fix; fixable rules: deps/namespace-annotation, labels/module, module/files, module/version, security/namespace-psa`)
}
