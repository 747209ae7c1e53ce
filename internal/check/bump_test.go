package check

import (
	"context"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// bumpRules are the rules of the bump tests: versions/bump, registered here whether or not the
// registry lists it yet.
func bumpRules() []rule.Rule {
	rules := builtin.All()
	if !slices.ContainsFunc(rules, func(r rule.Rule) bool { return r.ID == rule.BumpRule }) {
		rules = append(rules, builtin.VersionsBump)
	}
	return rules
}

// bumpModule is a module.yaml of type typ at version v.
func bumpModule(name, typ, v string) string {
	return "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + name + "\nspec:\n  type: " + typ + "\n  version: " + v + "\n"
}

// bumpRepo is the first commit of the bump tests: two applications that include a component, and
// one that does not.
func bumpRepo() map[string]string {
	return map[string]string{
		"polc.yaml":                                    "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute:\n    domain: example.com\n",
		"modules/components/backup/module.yaml":        bumpModule("backup", "component", "1.0.0"),
		"modules/components/backup/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [secret.yaml]\n",
		"modules/components/backup/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: backup-creds\nstringData:\n  bucket: one\n",
		"modules/apps/media/module.yaml":               bumpModule("media", "application", "1.0.0"),
		"modules/apps/media/CHANGELOG.md":              "# Changelog\n\n## [1.0.0] - 2025-01-01\n\n- First.\n",
		"modules/apps/media/kustomization.yaml":        "namespace: media\ncomponents: [../../components/backup]\nresources:\n- cm.yaml\n- svc.yaml\n",
		"modules/apps/media/cm.yaml":                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  host: media.${domain}\n  level: info\n",
		"modules/apps/media/svc.yaml":                  "apiVersion: v1\nkind: Service\nmetadata:\n  name: media\nspec:\n  ports:\n  - port: 80\n",
		"modules/apps/books/module.yaml":               bumpModule("books", "application", "1.0.0"),
		"modules/apps/books/CHANGELOG.md":              "# Changelog\n\n## 1.0.0\n",
		"modules/apps/books/kustomization.yaml":        "namespace: books\ncomponents: [../../components/backup]\n",
		"modules/apps/solo/module.yaml":                bumpModule("solo", "application", "1.0.0"),
		"modules/apps/solo/CHANGELOG.md":               "# Changelog\n\n## 1.0.0\n",
		"modules/apps/solo/kustomization.yaml":         "resources: [cm.yaml]\n",
		"modules/apps/solo/cm.yaml":                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: solo\n",
	}
}

// bumpFindings runs polc check --changed-since HEAD on dir and returns the versions/bump
// findings as "module file:line: message".
func bumpFindings(t *testing.T, dir string) []string {
	t.Helper()
	res, err := Run(context.Background(), Options{Root: dir, ByFiles: true, ChangedSince: "HEAD", Rules: bumpRules()})
	require.NoError(t, err)
	var out []string
	for _, f := range res.Findings {
		if f.Rule == rule.BumpRule {
			out = append(out, f.Module+" "+f.Pos.String()+": "+f.Message)
		}
	}
	return out
}

// commitRepo writes files, commits them, then applies edit to the working tree (a value of ""
// deletes the file).
func commitRepo(t *testing.T, files, edit map[string]string) string {
	t.Helper()
	dir := gitRepo(t, files)
	for name, content := range edit {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if content == "" {
			require.NoError(t, os.Remove(p))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func TestVersionsBump(t *testing.T) {
	changedCM := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  host: media.${domain}\n  level: debug\n"
	for _, tc := range []struct {
		name string
		edit map[string]string
		want []string // substrings of the findings, one per finding, in order
	}{{
		name: "formatting, comments, key order and resource order do not count",
		edit: map[string]string{
			"modules/apps/media/cm.yaml":            "# settings of media\nkind: ConfigMap\napiVersion: v1\nmetadata: {name: settings}\ndata:\n    level: \"info\"   # the default\n    host: 'media.${domain}'\n",
			"modules/apps/media/kustomization.yaml": "# media\nresources: [svc.yaml, cm.yaml]\ncomponents:\n  - ../../components/backup\nnamespace: media\n",
			"modules/apps/media/README.md":          "# media\n",
		},
	}, {
		name: "an object change without a bump",
		edit: map[string]string{"modules/apps/media/cm.yaml": changedCM},
		want: []string{"media modules/apps/media/module.yaml:7:12: the rendered objects changed since HEAD (changed ConfigMap/media/settings) but spec.version is 1.0.0, not higher than 1.0.0 at HEAD"},
	}, {
		name: "added and removed objects",
		edit: map[string]string{
			"modules/apps/media/kustomization.yaml": "namespace: media\ncomponents: [../../components/backup]\nresources:\n- cm.yaml\n- extra.yaml\n",
			"modules/apps/media/extra.yaml":         "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: media\n",
		},
		want: []string{"(added ServiceAccount/media/media, removed Service/media/media)"},
	}, {
		name: "a bump without a CHANGELOG heading",
		edit: map[string]string{"modules/apps/media/cm.yaml": changedCM, "modules/apps/media/module.yaml": bumpModule("media", "application", "1.0.1")},
		want: []string{"spec.version went from 1.0.0 to 1.0.1, but modules/apps/media/CHANGELOG.md has no heading for 1.0.1"},
	}, {
		name: "a bump with a CHANGELOG heading",
		edit: map[string]string{
			"modules/apps/media/cm.yaml":      changedCM,
			"modules/apps/media/module.yaml":  bumpModule("media", "application", "1.1.0"),
			"modules/apps/media/CHANGELOG.md": "# Changelog\n\n## [1.1.0] - 2025-02-01\n\n- Debug.\n\n## [1.0.0] - 2025-01-01\n",
		},
	}, {
		name: "a lower version is no bump",
		edit: map[string]string{"modules/apps/media/cm.yaml": changedCM, "modules/apps/media/module.yaml": bumpModule("media", "application", "1.0.0-rc.1")},
		want: []string{"spec.version is 1.0.0-rc.1, not higher than 1.0.0 at HEAD"},
	}, {
		name: "a component change counts for each module that includes it, not for the component",
		edit: map[string]string{"modules/components/backup/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: backup-creds\nstringData:\n  bucket: two\n"},
		want: []string{"books modules/apps/books/module.yaml:7:12: the rendered objects changed since HEAD (changed Secret/books/backup-creds)", "media modules/apps/media/module.yaml:7:12: the rendered objects changed since HEAD (changed Secret/media/backup-creds)"},
	}, {
		name: "a new module needs no bump",
		edit: map[string]string{
			"modules/apps/fresh/module.yaml":        bumpModule("fresh", "application", "0.1.0"),
			"modules/apps/fresh/CHANGELOG.md":       "# Changelog\n\n## 0.1.0\n",
			"modules/apps/fresh/kustomization.yaml": "resources: [cm.yaml]\n",
			"modules/apps/fresh/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\n",
		},
	}, {
		name: "both revisions render with the current polc.yaml",
		edit: map[string]string{"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute:\n    domain: example.org\n"},
	}, {
		name: "off when release-please manages versions",
		edit: map[string]string{"modules/apps/media/cm.yaml": changedCM, ReleaseManifest: "{\"modules/apps/media\": \"1.0.0\"}\n"},
	}, {
		name: "off in polc.yaml",
		edit: map[string]string{
			"modules/apps/media/cm.yaml": changedCM,
			"polc.yaml":                  "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute:\n    domain: example.com\n  rules:\n    versions/bump:\n      severity: off\n",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := commitRepo(t, bumpRepo(), tc.edit)
			got := bumpFindings(t, dir)
			require.Len(t, got, len(tc.want), "%q", got)
			for i, w := range tc.want {
				require.Contains(t, got[i], w)
			}
		})
	}
}

// TestVersionsBumpNeedsChangedSince: without --changed-since the rule does nothing, and a run
// that changed no module starts no comparison.
func TestVersionsBumpNeedsChangedSince(t *testing.T) {
	dir := commitRepo(t, bumpRepo(), map[string]string{"modules/apps/media/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"})
	res, err := Run(context.Background(), Options{Root: dir, Rules: bumpRules()})
	require.NoError(t, err)
	for _, f := range res.Findings {
		require.NotEqual(t, rule.BumpRule, f.Rule, f.Message)
	}
	require.Nil(t, res.Repo.Changes)

	dir = commitRepo(t, bumpRepo(), map[string]string{"docs/notes.md": "# notes\n"})
	res, err = Run(context.Background(), Options{Root: dir, ByFiles: true, ChangedSince: "HEAD", Rules: bumpRules()})
	require.NoError(t, err)
	require.Nil(t, res.Repo.Changes)
}

// TestChanges: the API that polc release bump uses.
func TestChanges(t *testing.T) {
	dir := commitRepo(t, bumpRepo(), map[string]string{"modules/components/backup/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: backup-creds\n"})
	repo, _, err := Load(dir, bumpRules())
	require.NoError(t, err)
	got, err := Changes(context.Background(), repo, "HEAD")
	require.NoError(t, err)
	require.Equal(t, []Change{
		{Module: "books", Before: "1.0.0", Objects: []string{"changed Secret/books/backup-creds"}},
		{Module: "media", Before: "1.0.0", Objects: []string{"changed Secret/media/backup-creds"}},
	}, got)

	_, err = Changes(context.Background(), repo, "--output=x")
	var re *RevError
	require.ErrorAs(t, err, &re)
	require.NoFileExists(t, filepath.Join(dir, "x"))
}

// tree lists the files under dir (without .git) with their sizes, to show that nothing was written.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, p+" "+info.Mode().String())
		return nil
	}))
	return out
}

// gitIn runs git in dir and returns its output.
func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.email=t@example.com", "-c", "user.name=t"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// TestVersionsBumpHostileRevision: what a hostile revision holds is bounded and reported; nothing
// is fetched, followed or written.
func TestVersionsBumpHostileRevision(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\n"))
	}))
	defer srv.Close()
	outside := filepath.Join(t.TempDir(), "outside.yaml")
	require.NoError(t, os.WriteFile(outside, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: secret-outside\n"), 0o644))
	changedCM := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: debug\n"

	for _, tc := range []struct {
		name   string
		before func(t *testing.T, dir string) // builds the committed revision
		want   string
	}{{
		name: "a symlink out of the repository",
		before: func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, "modules/apps/media/link.yaml")))
			testutil.WriteFiles(t, dir, map[string]string{"modules/apps/media/kustomization.yaml": "resources: [cm.yaml, link.yaml]\n"})
		},
		want: `media modules/apps/media/module.yaml:7:12: the module's objects cannot be compared with HEAD: it does not render at HEAD: modules/apps/media/kustomization.yaml:1:22: resources entry "link.yaml": symlinks and submodules are not followed when rendering a git revision`,
	}, {
		name: "a symlinked directory",
		before: func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink(filepath.Dir(outside), filepath.Join(dir, "modules/apps/media/dir")))
			testutil.WriteFiles(t, dir, map[string]string{"modules/apps/media/kustomization.yaml": "resources: [cm.yaml, dir/outside.yaml]\n"})
		},
		want: `resources entry "dir/outside.yaml": symlinks and submodules are not followed`,
	}, {
		name: "a remote resource is dropped, not fetched",
		before: func(t *testing.T, dir string) {
			testutil.WriteFiles(t, dir, map[string]string{"modules/apps/media/kustomization.yaml": "resources: [cm.yaml, " + srv.URL + "/cm.yaml]\n"})
		},
		want: "media modules/apps/media/module.yaml:7:12: the rendered objects changed since HEAD (changed ConfigMap/settings) but spec.version is 1.0.0",
	}, {
		name: "an oversized blob",
		before: func(t *testing.T, dir string) {
			big := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n" + strings.Repeat("# padding\n", 500_000)
			testutil.WriteFiles(t, dir, map[string]string{"modules/apps/media/cm.yaml": big})
		},
		want: "file is larger than the 4 MiB limit",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			testutil.WriteFiles(t, dir, map[string]string{
				"polc.yaml":                             "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec: {}\n",
				"modules/apps/media/module.yaml":        bumpModule("media", "application", "1.0.0"),
				"modules/apps/media/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
				"modules/apps/media/kustomization.yaml": "resources: [cm.yaml]\n",
				"modules/apps/media/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
			})
			tc.before(t, dir)
			testutil.GitCommitAll(t, dir)
			// The working tree: a plain module with a changed object.
			for _, f := range []string{"link.yaml", "dir"} {
				_ = os.Remove(filepath.Join(dir, "modules/apps/media", f))
			}
			testutil.WriteFiles(t, dir, map[string]string{
				"modules/apps/media/kustomization.yaml": "resources: [cm.yaml]\n",
				"modules/apps/media/cm.yaml":            changedCM,
			})
			files, status := tree(t, dir), gitIn(t, dir, "status", "--porcelain")
			got := bumpFindings(t, dir)
			require.Len(t, got, 1, "%q", got)
			require.Contains(t, got[0], tc.want)
			require.NotContains(t, got[0], "secret-outside")
			require.Equal(t, files, tree(t, dir), "nothing written to the repository")
			require.Equal(t, status, gitIn(t, dir, "status", "--porcelain"))
		})
	}
	require.Zero(t, hits.Load(), "no request reached the network")
}

// TestVersionsBumpSnapshotLimits: a revision with more files, or more content, than the snapshot
// limits is reported on each changed module, not read.
func TestVersionsBumpSnapshotLimits(t *testing.T) {
	files := bumpRepo()
	for i := range 60 {
		files["docs/many/"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))+".md"] = "x\n"
	}
	dir := commitRepo(t, files, map[string]string{"modules/apps/solo/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: solo2\n"})
	defer func(l SnapshotLimits) { DefaultSnapshotLimits = l }(DefaultSnapshotLimits)

	DefaultSnapshotLimits = SnapshotLimits{MaxFiles: 50, MaxBytes: 256 << 20}
	got := bumpFindings(t, dir)
	require.Len(t, got, 1, "%q", got)
	require.Contains(t, got[0], "solo modules/apps/solo/module.yaml:7:12: the module's objects cannot be compared with HEAD: cannot read HEAD: list the files of commit ")
	require.Contains(t, got[0], "the tree has more than 50 files")

	DefaultSnapshotLimits = SnapshotLimits{MaxFiles: 1000, MaxBytes: 40}
	got = bumpFindings(t, dir)
	require.Len(t, got, 1, "%q", got)
	require.Contains(t, got[0], "more than 0 MiB read from the commit")
}

// TestVersionsBumpPathNames: names that kustomize's own in-memory file system refuses (spaces,
// commas, non-ASCII) render at the revision as on disk.
func TestVersionsBumpPathNames(t *testing.T) {
	dir := commitRepo(t, map[string]string{
		"polc.yaml":                                "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec: {}\n",
		"modules/apps/média, x/module.yaml":        bumpModule("media", "application", "1.0.0"),
		"modules/apps/média, x/CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n",
		"modules/apps/média, x/kustomization.yaml": "resources: [\"config map.yaml\"]\n",
		"modules/apps/média, x/config map.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
	}, map[string]string{"modules/apps/média, x/config map.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n"})
	got := bumpFindings(t, dir)
	require.Len(t, got, 1, "%q", got)
	require.Contains(t, got[0], "media modules/apps/média, x/module.yaml:7:12: the rendered objects changed since HEAD (changed ConfigMap/settings)")
}
