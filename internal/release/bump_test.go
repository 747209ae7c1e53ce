package release

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

func TestNext(t *testing.T) {
	tests := []struct {
		name, from string
		level      Level
		want       string
	}{
		{name: "patch", from: "1.2.3", level: Patch, want: "1.2.4"},
		{name: "minor resets patch", from: "1.2.3", level: Minor, want: "1.3.0"},
		{name: "major resets minor and patch", from: "1.2.3", level: Major, want: "2.0.0"},
		{name: "zero major", from: "0.9.9", level: Patch, want: "0.9.10"},
		{name: "carry across digits", from: "1.99.999", level: Minor, want: "1.100.0"},
		{name: "beyond 64 bits", from: "18446744073709551615.0.0", level: Major, want: "18446744073709551616.0.0"},
		{name: "build metadata dropped", from: "1.2.3+build.7", level: Patch, want: "1.2.4"},
		{name: "patch releases a pre-release", from: "1.2.0-rc.1", level: Patch, want: "1.2.0"},
		{name: "patch releases a patch pre-release", from: "1.2.3-rc.1", level: Patch, want: "1.2.3"},
		{name: "minor releases a minor pre-release", from: "1.2.0-rc.1", level: Minor, want: "1.2.0"},
		{name: "minor of a patch pre-release moves on", from: "1.2.3-rc.1", level: Minor, want: "1.3.0"},
		{name: "major releases a major pre-release", from: "2.0.0-beta", level: Major, want: "2.0.0"},
		{name: "major of a minor pre-release moves on", from: "2.1.0-rc.1", level: Major, want: "3.0.0"},
		{name: "pre-release with build metadata", from: "1.0.0-rc.1+sha.abc", level: Patch, want: "1.0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Next(tc.from, tc.level)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, 1, builtin.CompareSemver(got, tc.from), "the new version ranks above the old one")
		})
	}
	for _, bad := range []string{"v1.2.3", "1.2", "01.2.3", "latest", ""} {
		_, err := Next(bad, Patch)
		require.ErrorContains(t, err, "not a semantic version", bad)
	}
	_, err := Next("1.2.3", Level(0))
	require.ErrorContains(t, err, "unknown bump level")
}

func TestAddRelease(t *testing.T) {
	const kac = "# Changelog\n\nAll notable changes.\n\n"
	tests := []struct {
		name string
		in   string
		note string
		want string
	}{
		{
			name: "keep-a-changelog, default note",
			in:   kac + "## [1.2.0] - 2026-01-15\n\n- Old.\n",
			want: kac + "## [1.2.1] - 2026-11-30\n\n- Changes since 1.2.0.\n\n## [1.2.0] - 2026-01-15\n\n- Old.\n",
		},
		{
			name: "keep-a-changelog with a note",
			in:   kac + "## [1.2.0] - 2026-01-15\n\n- Old.\n",
			note: "Fix the importer.",
			want: kac + "## [1.2.1] - 2026-11-30\n\n- Fix the importer.\n\n## [1.2.0] - 2026-01-15\n\n- Old.\n",
		},
		{
			name: "Unreleased content moves under the new heading",
			in:   kac + "## [Unreleased]\n\n### Added\n\n- Photo importer.\n\n## [1.2.0] - 2026-01-15\n\n- Old.\n",
			want: kac + "## [Unreleased]\n\n## [1.2.1] - 2026-11-30\n\n### Added\n\n- Photo importer.\n\n## [1.2.0] - 2026-01-15\n\n- Old.\n",
		},
		{
			name: "a note comes before the Unreleased content",
			in:   kac + "## [Unreleased]\n- Photo importer.\n## [1.2.0] - 2026-01-15\n",
			note: "Security fix.",
			want: kac + "## [Unreleased]\n\n## [1.2.1] - 2026-11-30\n\n- Security fix.\n\n- Photo importer.\n\n## [1.2.0] - 2026-01-15\n",
		},
		{
			name: "empty Unreleased section: default note",
			in:   kac + "## [Unreleased]\n\n## [1.2.0] - 2026-01-15\n",
			want: kac + "## [Unreleased]\n\n## [1.2.1] - 2026-11-30\n\n- Changes since 1.2.0.\n\n## [1.2.0] - 2026-01-15\n",
		},
		{
			name: "link reference definitions stay at the end",
			in:   kac + "## [Unreleased]\n\n- New.\n\n[unreleased]: https://example.com/compare/v1.2.0...HEAD\n",
			want: kac + "## [Unreleased]\n\n## [1.2.1] - 2026-11-30\n\n- New.\n\n[unreleased]: https://example.com/compare/v1.2.0...HEAD\n",
		},
		{
			name: "Unreleased alone at the end of the file, without a final newline",
			in:   kac + "## [Unreleased]",
			want: kac + "## [Unreleased]\n\n## [1.2.1] - 2026-11-30\n\n- Changes since 1.2.0.\n",
		},
		{
			name: "plain headings",
			in:   "# Changelog\n\n## 1.2.0\n\n- Old.\n",
			want: "# Changelog\n\n## 1.2.1\n\n- Changes since 1.2.0.\n\n## 1.2.0\n\n- Old.\n",
		},
		{
			name: "bracketed headings without a date",
			in:   "# Changelog\n\n## [1.2.0]\n\n- Old.\n",
			want: "# Changelog\n\n## [1.2.1]\n\n- Changes since 1.2.0.\n\n## [1.2.0]\n\n- Old.\n",
		},
		{
			name: "release-please headings: date in parentheses",
			in:   "# Changelog\n\n## [1.2.0](https://example.com/compare/a...b) (2026-01-15)\n\n- Old.\n",
			want: "# Changelog\n\n## [1.2.1] (2026-11-30)\n\n- Changes since 1.2.0.\n\n## [1.2.0](https://example.com/compare/a...b) (2026-01-15)\n\n- Old.\n",
		},
		{
			name: "headings inside code fences are ignored",
			in:   "# Changelog\n\nWrite headings like this:\n\n```\n## [Unreleased]\n## 9.9.9\n```\n\n~~~md\n## 0.1.0\n~~~\n\n## [1.2.0] - 2026-01-15\n",
			want: "# Changelog\n\nWrite headings like this:\n\n```\n## [Unreleased]\n## 9.9.9\n```\n\n~~~md\n## 0.1.0\n~~~\n\n## [1.2.1] - 2026-11-30\n\n- Changes since 1.2.0.\n\n## [1.2.0] - 2026-01-15\n",
		},
		{
			name: "CRLF file keeps CRLF",
			in:   "# Changelog\r\n\r\n## [Unreleased]\r\n\r\n- New.\r\n\r\n## [1.2.0] - 2026-01-15\r\n",
			want: "# Changelog\r\n\r\n## [Unreleased]\r\n\r\n## [1.2.1] - 2026-11-30\r\n\r\n- New.\r\n\r\n## [1.2.0] - 2026-01-15\r\n",
		},
		{
			name: "no heading yet: appended after the header",
			in:   "# Changelog\n\nAll notable changes.",
			want: "# Changelog\n\nAll notable changes.\n\n## [1.2.1] - 2026-11-30\n\n- Changes since 1.2.0.\n",
		},
		{
			name: "other level-two headings before the versions stay first",
			in:   "# Changelog\n\n## How to read this\n\nText.\n\n## [1.2.0] - 2026-01-15\n",
			want: "# Changelog\n\n## How to read this\n\nText.\n\n## [1.2.1] - 2026-11-30\n\n- Changes since 1.2.0.\n\n## [1.2.0] - 2026-01-15\n",
		},
		{
			name: "a note cannot inject a heading, a fence or a rule",
			in:   "# Changelog\n\n## [1.2.0] - 2026-01-15\n",
			note: "## [9.9.9] - 2026-01-01\n\n## 9.9.9\r```\n---\n  # sub\n<script>",
			want: "# Changelog\n\n## [1.2.1] - 2026-11-30\n\n- \\## [9.9.9] - 2026-01-01\n\n  \\## 9.9.9\n  \\```\n  \\---\n    \\# sub\n  \\<script>\n\n## [1.2.0] - 2026-01-15\n",
		},
		{
			name: "a note written as a bullet is not doubled",
			in:   "## 1.2.0\n",
			note: "- Fixed.\n- Also this.",
			want: "## 1.2.1\n\n- Fixed.\n  - Also this.\n\n## 1.2.0\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AddRelease([]byte(tc.in), Entry{Version: "1.2.1", Date: "2026-11-30", Note: tc.note, Fallback: "Changes since 1.2.0."})
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			newest, _ := builtin.NewestVersion(got)
			require.Equal(t, "1.2.1", newest, "rule module/version reads the new heading as the newest version")
		})
	}
}

func TestSetVersion(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "plain with a comment", in: "spec:\n  version: 1.0.0 # the release\n  type: application\n", want: "spec:\n  version: 1.0.1 # the release\n  type: application\n"},
		{name: "double quoted", in: "# head\nspec:\n    version: \"1.0.0\"\n", want: "# head\nspec:\n    version: \"1.0.1\"\n"},
		{name: "single quoted", in: "spec: {type: application, version: '1.0.0'}\n", want: "spec: {type: application, version: '1.0.1'}\n"},
		{name: "flow mapping, plain", in: "spec: {version: 1.0.0, type: application}\n", want: "spec: {version: 1.0.1, type: application}\n"},
		{name: "CRLF and no final newline", in: "kind: Module\r\nspec:\r\n  version: 1.0.0", want: "kind: Module\r\nspec:\r\n  version: 1.0.1"},
		{name: "non-ASCII before the value", in: "spec:\n  description: \"Médias ✓\"\n  version: 1.0.0\n", want: "spec:\n  description: \"Médias ✓\"\n  version: 1.0.1\n"},
		{name: "anchor refused", in: "spec:\n  version: &v 1.0.0\n", wantErr: "m.yaml:2:12: spec.version is an alias, anchor or collection"},
		{name: "alias refused", in: "x: &v 1.0.0\nspec:\n  version: *v\n", wantErr: "m.yaml:3:12: spec.version is an alias"},
		{name: "tag refused", in: "spec:\n  version: !!str 1.0.0\n", wantErr: "m.yaml:2:"},
		{name: "block scalar refused", in: "spec:\n  version: |-\n    1.0.0\n", wantErr: "m.yaml:2:12: spec.version is written in a form polc does not edit"},
		{name: "escape refused", in: "spec:\n  version: \"1.0\\x2E0\"\n", wantErr: "m.yaml:2:12: spec.version is written in a form polc does not edit"},
		{name: "missing version", in: "spec:\n  type: application\n", wantErr: "m.yaml:2: spec.version is not set"},
		{name: "other value", in: "spec:\n  version: 2.0.0\n", wantErr: `spec.version is "2.0.0", expected "1.0.0"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetVersion("m.yaml", []byte(tc.in), "1.0.0", "1.0.1")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
}

func TestSetManifestVersion(t *testing.T) {
	in := "{\n  \"modules/apps/media\": \"1.0.0\",\n  \"zz/first\":   \"3.1.4\" ,\n\t\"./modules/apps/media/\":\"1.0.0\"\n}"
	got, n, err := SetManifestVersion(ManifestFile, []byte(in), "modules/apps/media", "1.0.1")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, strings.ReplaceAll(in, `"1.0.0"`, `"1.0.1"`), string(got), "only the values change")

	got, n, err = SetManifestVersion(ManifestFile, []byte(in), "modules/other", "1.0.1")
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, in, string(got))

	for _, tc := range []struct{ in, wantErr string }{
		{in: "{\n  \"a\": \"1.0.0\",\n  \"b\": 1.0.0\n}\n", wantErr: ManifestFile + ":3: "},
		{in: "{\n  \"a\": \"1.0.0\",\n}\n", wantErr: ManifestFile + ":3: "},
		{in: "{\"a\": {\"b\": \"1\"}}", wantErr: ManifestFile + ":1: the version of a is not a string"},
		{in: "[]", wantErr: ManifestFile + ":1: not a JSON object"},
	} {
		_, _, err := SetManifestVersion(ManifestFile, []byte(tc.in), "a", "1.0.1")
		require.ErrorContains(t, err, tc.wantErr, tc.in)
	}
}

// copyRepo copies a testdata repository of the end-to-end tests into a temporary directory.
func copyRepo(t *testing.T, name string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "tests", "testdata", "repos", name))))
	return root
}

// load loads the repository at root as polc release bump does.
func load(t *testing.T, root string) *rule.Repo {
	t.Helper()
	repo, _, err := check.Load(root, builtin.All())
	require.NoError(t, err)
	return repo
}

// TestBumpRoundTrip bumps a module of a good repository, writes the files and checks the
// repository again: rule module/version stays quiet, module.yaml differs only in its version
// line, and the whole edit matches its golden diff.
func TestBumpRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		mod  string
		opts BumpOptions
	}{
		{name: "patch", mod: "media", opts: BumpOptions{}},
		{name: "minor-with-note", mod: "platform-core", opts: BumpOptions{Level: Minor, Note: "Add the shared ingress class."}},
		{name: "major", mod: "media", opts: BumpOptions{Level: Major}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepo(t, "good-minimal")
			testutil.WriteFiles(t, root, map[string]string{ManifestFile: "{\n  \"modules/apps/media\": \"1.0.0\",\n  \"modules/infrastructure/platform-core\": \"1.0.0\"\n}\n"})
			var findingsBefore []string
			for _, f := range checkRepo(t, root) {
				findingsBefore = append(findingsBefore, f.Pos.String()+" "+f.Rule+" "+f.Message)
			}
			repo := load(t, root)
			m := repo.ByName[tc.mod]
			before, err := os.ReadFile(filepath.Join(root, m.File))
			require.NoError(t, err)

			tc.opts.Date = "2026-11-30"
			res, err := Bump(repo, tc.mod, tc.opts)
			require.NoError(t, err)
			var out bytes.Buffer
			require.NoError(t, res.Diff(&out))
			require.NoError(t, res.Summary(&out, false))
			testutil.Golden(t, filepath.Join("testdata", "bump", tc.name+".golden"), out.Bytes())
			require.NoError(t, res.Write(root))

			after, err := os.ReadFile(filepath.Join(root, m.File))
			require.NoError(t, err)
			requireOnlyVersionLine(t, before, after, res.Bumps[0].To)

			var findingsAfter []string
			for _, f := range checkRepo(t, root) {
				require.NotEqual(t, "module/version", f.Rule, "%s: %s", f.Pos, f.Message)
				findingsAfter = append(findingsAfter, f.Pos.String()+" "+f.Rule+" "+f.Message)
			}
			require.Equal(t, findingsBefore, findingsAfter, "the bump adds or removes no finding")
		})
	}
}

// checkRepo runs polc check's pipeline with the built-in rules on the repository at root.
func checkRepo(t *testing.T, root string) []rule.Finding {
	t.Helper()
	res, err := check.Run(context.Background(), check.Options{Root: root, Rules: builtin.All(), ChartCache: t.TempDir()})
	require.NoError(t, err)
	return res.Findings
}

// requireOnlyVersionLine asserts that after differs from before in one line, the version line.
func requireOnlyVersionLine(t *testing.T, before, after []byte, to string) {
	t.Helper()
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(before)), B: difflib.SplitLines(string(after)), Context: 0})
	require.NoError(t, err)
	var changed []string
	for _, l := range strings.Split(diff, "\n") {
		if (strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+")) && !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "+++") {
			changed = append(changed, l)
		}
	}
	require.Equal(t, []string{"-  version: 1.0.0", "+  version: " + to}, changed)
}

// TestBumpChanged bumps the modules an injected change list names, one of them skipped, and
// keeps the shared manifest in step with both.
func TestBumpChanged(t *testing.T) {
	root := copyRepo(t, "good-minimal")
	testutil.WriteFiles(t, root, map[string]string{ManifestFile: "{\"modules/apps/media\": \"1.0.0\", \"modules/infrastructure/platform-core\": \"1.0.0\", \"other\": \"0.1.0\"}\n"})
	repo := load(t, root)
	var objs []string
	for i := range maxNoteObjects + 2 {
		objs = append(objs, "added ConfigMap/media/c"+string(rune('a'+i)))
	}
	changes := []check.Change{
		{Module: "platform-core", Before: "1.0.0", Objects: []string{"changed Namespace//platform"}},
		{Module: "media", Before: "1.0.0", Objects: objs},
	}
	opts := BumpOptions{Date: "2026-11-30", Level: Minor, Changes: func(_ context.Context, _ *rule.Repo, rev string) ([]check.Change, error) {
		require.Equal(t, "main", rev)
		return changes, nil
	}}
	res, err := BumpChanged(context.Background(), repo, "main", opts)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, res.Diff(&out))
	require.NoError(t, res.Summary(&out, true))
	testutil.Golden(t, filepath.Join("testdata", "bump", "changed-since.golden"), out.Bytes())

	// Already bumped since the revision, or not compared: skipped.
	changes = []check.Change{{Module: "media", Before: "0.9.0", Objects: []string{"added ConfigMap/media/x"}}, {Module: "platform-core", Err: "it does not render at main"}}
	res, err = BumpChanged(context.Background(), repo, "main", opts)
	require.NoError(t, err)
	require.Empty(t, res.Changes)
	require.Equal(t, []Skipped{
		{Module: "media", Reason: "spec.version already rose since main (0.9.0 -> 1.0.0)"},
		{Module: "platform-core", Reason: "not compared with main (it does not render at main); bump it by name if it changed"},
	}, res.Skipped)

	changes = nil
	res, err = BumpChanged(context.Background(), repo, "main", opts)
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, res.Summary(&out, false))
	require.Equal(t, "no module changed since main\n", out.String())

	opts.Changes = func(context.Context, *rule.Repo, string) ([]check.Change, error) {
		return nil, errors.New("bad revision")
	}
	_, err = BumpChanged(context.Background(), repo, "nope", opts)
	require.ErrorContains(t, err, "find the modules changed since nope: bad revision")
}

// TestBumpRefuses covers the errors of a bump: each leaves the repository as it was.
func TestBumpRefuses(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "CHANGELOG.md"), []byte("## [1.0.0]\n"), 0o644))
	tests := []struct {
		name    string
		mod     string
		opts    BumpOptions
		prepare func(t *testing.T, root string)
		wantErr string
	}{
		{name: "unknown module, close name", mod: "medai", wantErr: `unknown module "medai"; did you mean media?`},
		{name: "unknown module, nothing close", mod: "zzzzzzzz", wantErr: `unknown module "zzzzzzzz"; known modules: media, platform-core, sso`},
		{name: "component", mod: "sso", wantErr: "sso is a component: components have no release of their own"},
		{name: "version not semver", mod: "media", prepare: replaceIn("modules/apps/media/module.yaml", "version: 1.0.0", "version: v1.0"),
			wantErr: `modules/apps/media/module.yaml:8:12: spec.version "v1.0" of module media is not a semantic version`},
		{name: "changelog ahead", mod: "media", prepare: replaceIn("modules/apps/media/CHANGELOG.md", "## [1.0.0]", "## [1.0.1] - 2026-02-01\n\n## [1.0.0]"),
			wantErr: "modules/apps/media/CHANGELOG.md:3: the changelog already has version 1.0.1, not older than the new version 1.0.1"},
		{name: "bad date", mod: "media", opts: BumpOptions{Date: "2026-02-30"}, wantErr: `date "2026-02-30" is not a calendar date`},
		{name: "blank note", mod: "media", opts: BumpOptions{Note: " \n "}, wantErr: "the note is blank"},
		{name: "changelog symlink out of the repository", mod: "media", prepare: symlink(filepath.Join(outside, "CHANGELOG.md"), "modules/apps/media/CHANGELOG.md"),
			wantErr: "symlink points outside the repository"},
		{name: "changelog symlink out of the module", mod: "media", prepare: symlink("../../infrastructure/platform-core/CHANGELOG.md", "modules/apps/media/CHANGELOG.md"),
			wantErr: "modules/apps/media/CHANGELOG.md: symlink leads out of modules/apps/media"},
		{name: "dangling changelog symlink", mod: "media", prepare: symlink(filepath.Join(outside, "missing.md"), "modules/apps/media/CHANGELOG.md"),
			wantErr: "modules/apps/media/CHANGELOG.md"},
		{name: "manifest symlink out of the repository", mod: "media", prepare: symlink(filepath.Join(outside, "CHANGELOG.md"), ManifestFile),
			wantErr: "symlink points outside the repository"},
		{name: "malformed manifest", mod: "media", prepare: write(ManifestFile, "{\n  \"modules/apps/media\": \"1.0.0\"\n  \"x\": \"1\"\n}\n"),
			wantErr: ManifestFile + ":3: "},
		{name: "huge changelog", mod: "media", prepare: write("modules/apps/media/CHANGELOG.md", "## [1.0.0]\n"+strings.Repeat("x", module.MaxFileSize)),
			wantErr: "file is larger than the 4 MiB limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := copyRepo(t, "good-minimal")
			if tc.prepare != nil {
				tc.prepare(t, root)
			}
			before := snapshot(t, root)
			repo := load(t, root)
			res, err := Bump(repo, tc.mod, tc.opts)
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, res)
			require.Equal(t, before, snapshot(t, root), "nothing is written")
		})
	}
}

// TestBumpCreatesChangelog: a module without CHANGELOG.md gets one with a short header.
func TestBumpCreatesChangelog(t *testing.T) {
	root := copyRepo(t, "good-minimal")
	require.NoError(t, os.Remove(filepath.Join(root, "modules/apps/media/CHANGELOG.md")))
	res, err := Bump(load(t, root), "media", BumpOptions{Date: "2026-11-30", Note: "First documented release."})
	require.NoError(t, err)
	require.Equal(t, []string{"modules/apps/media/CHANGELOG.md"}, res.Bumps[0].Created)
	require.NoError(t, res.Write(root))
	data, err := os.ReadFile(filepath.Join(root, "modules/apps/media/CHANGELOG.md"))
	require.NoError(t, err)
	require.Equal(t, "# Changelog\n\nAll notable changes to module media are documented in this file.\n\n## [1.0.1] - 2026-11-30\n\n- First documented release.\n", string(data))
}

// TestBumpKeepsModeAndSymlinkInside: a CHANGELOG.md that is a symlink inside the module is
// written through, and file modes stay.
func TestBumpKeepsModeAndSymlinkInside(t *testing.T) {
	root := copyRepo(t, "good-minimal")
	dir := filepath.Join(root, "modules/apps/media")
	require.NoError(t, os.Rename(filepath.Join(dir, "CHANGELOG.md"), filepath.Join(dir, "HISTORY.md")))
	require.NoError(t, os.Symlink("HISTORY.md", filepath.Join(dir, "CHANGELOG.md")))
	require.NoError(t, os.Chmod(filepath.Join(dir, "module.yaml"), 0o600))
	res, err := Bump(load(t, root), "media", BumpOptions{Date: "2026-11-30"})
	require.NoError(t, err)
	require.NoError(t, res.Write(root))
	st, err := os.Lstat(filepath.Join(dir, "CHANGELOG.md"))
	require.NoError(t, err)
	require.Equal(t, os.ModeSymlink, st.Mode().Type(), "the symlink stays")
	data, err := os.ReadFile(filepath.Join(dir, "HISTORY.md"))
	require.NoError(t, err)
	require.Contains(t, string(data), "## [1.0.1] - 2026-11-30")
	st, err = os.Stat(filepath.Join(dir, "module.yaml"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func replaceIn(rel, old, repl string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Contains(t, string(data), old)
		require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(data), old, repl, 1)), 0o644))
	}
}

func write(rel, content string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) { testutil.WriteFiles(t, root, map[string]string{rel: content}) }
}

func symlink(target, rel string) func(t *testing.T, root string) {
	return func(t *testing.T, root string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		_ = os.Remove(p)
		require.NoError(t, os.Symlink(target, p))
	}
}

// snapshot returns every file under root (symlinks as their targets) with its content and mode.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			out[p] = "-> " + target
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = info.Mode().String() + "\n" + string(data)
		return err
	}))
	return out
}
