package tests

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// fixRules are the rules polc fix fixes.
var fixRules = []string{"deps/namespace-annotation", "labels/module", "module/files", "module/version", "security/namespace-psa"}

// findingLine matches a finding of polc check's text report: position, severity, rule.
var findingLine = regexp.MustCompile(`^(\S+): (?:error|warning) (\S+): `)

// TestFix runs polc fix on copies of the repositories of its rules: a diff and no change without
// --write, the files written with it, then nothing left to fix and no finding of those rules
// that fix does not explain.
func TestFix(t *testing.T) {
	for _, name := range []string{"bad-labels-module", "bad-deps-namespace-annotation", "bad-security-namespace-psa", "bad-module-files", "bad-module-version"} {
		t.Run(name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "repo")
			require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join("testdata/repos", name))))
			kust := filepath.Join(root, "modules/apps/media/kustomization.yaml")
			if data, err := os.ReadFile(kust); err == nil {
				require.NoError(t, os.WriteFile(kust, append([]byte("# Kept by polc fix.\n"), data...), 0o644))
			}
			before := fixTree(t, root)

			diff := Polc(t, root, "fix")
			require.Equal(t, 0, diff.Code, diff.Stderr)
			require.Contains(t, diff.Stdout, "--- ")
			require.Equal(t, before, fixTree(t, root), "polc fix without --write changed the repository")
			check := Polc(t, root, "fix", "--check")
			require.Equal(t, 1, check.Code, "fix --check with pending fixes")
			require.Equal(t, diff.Stdout, check.Stdout)

			written := Polc(t, root, "fix", "--write")
			require.Equal(t, 0, written.Code, written.Stderr)
			require.Regexp(t, `(?m)^(fixed|created) modules/`, written.Stdout)
			for rel, content := range before {
				if strings.HasPrefix(content, "#") {
					require.True(t, strings.HasPrefix(fixReadFile(t, root, rel), strings.SplitN(content, "\n", 2)[0]), "%s lost its first comment", rel)
				}
			}

			again := Polc(t, root, "fix", "--check")
			require.Equal(t, 0, again.Code, again.Stdout)
			require.Empty(t, again.Stdout)
			requireOnlyExplained(t, root, again.Stderr)
		})
	}
}

// requireOnlyExplained runs polc check in root and requires every finding of the fixed rules to
// be one that polc fix explained in stderr.
func requireOnlyExplained(t *testing.T, root, stderr string) {
	t.Helper()
	res := Polc(t, root, "check")
	for _, l := range strings.Split(res.Stdout, "\n") {
		m := findingLine.FindStringSubmatch(l)
		if m == nil || !fixContains(fixRules, m[2]) {
			continue
		}
		require.Contains(t, stderr, m[1]+": "+m[2]+": not fixed: ", "polc check still reports %q, which polc fix neither fixed nor explained", l)
	}
}

// TestFixHostile: polc fix leaves files outside the module directories and the repository alone
// and says why.
func TestFixHostile(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "repo")
	testutil.WriteFiles(t, dir, map[string]string{
		"outside/kustomization.yaml":                 "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ns.yaml\n",
		"repo/modules/apps/media/module.yaml":        "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: media\nspec:\n  type: application\n  version: 1.0.0\n  namespaces:\n    - name: media\n",
		"repo/modules/apps/media/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
		"repo/modules/apps/media/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n  - pairs:\n      polc.dev/module: media\n      polc.dev/module-type: application\nresources:\n  - ../../../shared/media\n",
		"repo/shared/media/kustomization.yaml":       "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - namespace.yaml\n",
		"repo/shared/media/namespace.yaml":           "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: media\n",
		"repo/modules/apps/music/module.yaml":        "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: music\nspec:\n  type: application\n  version: 1.0.0\n  namespaces:\n    - name: music\n",
		"repo/modules/apps/music/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
		"repo/modules/apps/music/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: music\n",
	})
	require.NoError(t, os.Symlink("../../../../outside/kustomization.yaml", filepath.Join(root, "modules/apps/music/kustomization.yaml")))
	before := fixTree(t, dir)

	res := Polc(t, root, "fix", "--write")
	require.Equal(t, 0, res.Code, res.Stderr)
	// The Namespace of media is written outside the module, in a base: polc fix patches it in the
	// module's own kustomization and writes nothing else.
	after := fixTree(t, dir)
	const patched = "repo/modules/apps/media/kustomization.yaml"
	require.Contains(t, after[patched], "patches:\n  - target:\n      kind: Namespace\n    patch: |\n      apiVersion: v1\n      kind: Namespace\n")
	require.Contains(t, after[patched], `pod-security.kubernetes.io/enforce: "restricted"`)
	delete(after, patched)
	delete(before, patched)
	require.Equal(t, before, after, "polc fix wrote a file outside the module's kustomization")
	require.Equal(t, "fixed "+patched[len("repo/"):]+" (security/namespace-psa)\n", res.Stdout)
	require.Contains(t, res.Stderr, "modules/apps/music/module.yaml:1:1: module/files: not fixed: not a mechanical fix")
	res = Polc(t, root, "check")
	require.NotContains(t, res.Stdout, "security/namespace-psa", "the patch sets the label")
}

func TestFixUsage(t *testing.T) {
	res := Polc(t, "testdata/repos/good-minimal", "fix", "--rule", "security/image-tag")
	require.Equal(t, 2, res.Code)
	require.Contains(t, res.Stderr, `rule "security/image-tag" has no fix; fixable rules: `+strings.Join(fixRules, ", "))
	res = Polc(t, "testdata/repos/good-minimal", "fix", "--write", "--check")
	require.Equal(t, 2, res.Code)
}

// fixTree returns every file below dir (symlinks as their target) with its content.
func fixTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[rel] = "-> " + target
			return err
		}
		data, err := os.ReadFile(p)
		out[rel] = string(data)
		return err
	}))
	return out
}

func fixReadFile(t *testing.T, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	require.NoError(t, err)
	return string(data)
}

func fixContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
