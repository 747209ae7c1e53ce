package config_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/genfiles"
	relconfig "polc.dev/polc/internal/release/config"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// load loads and renders the repository at dir as polc release config does.
func load(t *testing.T, dir string) (*rule.Repo, []relconfig.Usage) {
	t.Helper()
	repo, findings, err := check.Load(dir, builtin.All())
	require.NoError(t, err)
	require.Empty(t, findings)
	repo.ChartCache = ""
	check.Render(context.Background(), repo)
	return repo, relconfig.RenderedPackages(repo)
}

// generate returns the generated files of dir by path.
func generate(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	repo, pkgs := load(t, dir)
	files, err := relconfig.Generate(repo, pkgs)
	require.NoError(t, err)
	out := map[string][]byte{}
	var names []string
	for _, f := range files {
		out[f.Path] = f.Data
		names = append(names, f.Path)
	}
	require.Equal(t, relconfig.FileNames(), names)
	return out
}

// TestGenerateGolden compares the four files generated for the starter catalog (this
// repository's modules) and two testdata repositories, one without release files and one with
// release-please settings to keep, with their golden files (-update rewrites them).
func TestGenerateGolden(t *testing.T) {
	for _, tc := range []struct{ name, dir string }{
		{"starter", "../../.."},
		{"good-release-new", "../../../tests/testdata/repos/good-release-new"},
		{"bad-versions-release-config", "../../../tests/testdata/repos/bad-versions-release-config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := generate(t, tc.dir)
			for _, name := range relconfig.FileNames() {
				testutil.Golden(t, filepath.Join("testdata", tc.name, strings.ReplaceAll(name, "/", "_")), files[name])
			}
		})
	}
}

// TestGenerateKeepsSettings: what polc does not own in an existing release-please configuration
// survives, what it owns is replaced, and packages of former modules and components go.
func TestGenerateKeepsSettings(t *testing.T) {
	files := generate(t, "../../../tests/testdata/repos/bad-versions-release-config")
	var cfg map[string]any
	require.NoError(t, json.Unmarshal(files[relconfig.ConfigFile], &cfg))
	require.Equal(t, []any{"sentence-case"}, cfg["plugins"])
	require.Len(t, cfg["changelog-sections"], 3)
	require.Equal(t, true, cfg["bump-minor-pre-major"])
	require.Equal(t, 400.0, cfg["release-search-depth"])
	require.NotContains(t, cfg, "include-v-in-tag", "repository defaults are set on creation only")
	pkgs := cfg["packages"].(map[string]any)
	require.Equal(t, map[string]any{"component": "cli", "release-type": "go"}, pkgs["tools/cli"])
	require.NotContains(t, pkgs, "modules/apps/old")
	require.NotContains(t, pkgs, "modules/components/sso")
	media := pkgs["modules/apps/media"].(map[string]any)
	require.Equal(t, "apps-media", media["component"])
	require.Equal(t, false, media["draft"])
	require.Equal(t, []any{map[string]any{"type": "yaml", "path": "module.yaml", "jsonpath": "$.spec.version"}, "README.md"}, media["extra-files"])
	require.Contains(t, pkgs, "modules/infrastructure/platform-core")

	var man map[string]any
	require.NoError(t, json.Unmarshal(files[relconfig.ManifestFile], &man))
	require.Equal(t, map[string]any{"tools/cli": "3.1.0", "modules/apps/media": "1.0.0", "modules/infrastructure/platform-core": "1.0.0"}, man)
}

// writeRepo copies good-release-new into a temporary directory, writes its generated release
// files, then the given overrides.
func writeRepo(t *testing.T, overrides map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.CopyFS(dir, os.DirFS("../../../tests/testdata/repos/good-release-new")))
	repo, pkgs := load(t, dir)
	files, err := relconfig.Generate(repo, pkgs)
	require.NoError(t, err)
	written, err := relconfig.Write(dir, files)
	require.NoError(t, err)
	require.Len(t, written, 4)
	for p, content := range overrides {
		if content == "" {
			require.NoError(t, os.Remove(filepath.Join(dir, p)))
			continue
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644))
	}
	return dir
}

// replaceIn returns the generated file name of a fresh copy with old replaced by new.
func replaceIn(t *testing.T, name, old, new string) string {
	t.Helper()
	data := generate(t, "../../../tests/testdata/repos/good-release-new")[name]
	require.Contains(t, string(data), old)
	return strings.Replace(string(data), old, new, 1)
}

// TestDrift: rule versions/release-config's drift, file:line and message, for each kind of
// disagreement.
func TestDrift(t *testing.T) {
	for _, tc := range []struct {
		name string
		// files overrides generated files; "" removes one.
		files func(t *testing.T) map[string]string
		want  []string
	}{
		{name: "generated files match", files: func(*testing.T) map[string]string { return nil }},
		{
			name: "no release files at all",
			files: func(*testing.T) map[string]string {
				return map[string]string{relconfig.ConfigFile: "", relconfig.ManifestFile: "", relconfig.ScopesFile: "", relconfig.RenovateFile: ""}
			},
		},
		{
			name: "wrong component",
			files: func(t *testing.T) map[string]string {
				return map[string]string{relconfig.ConfigFile: replaceIn(t, relconfig.ConfigFile, `"component": "apps-media"`, `"component": "media"`)}
			},
			want: []string{`release-please-config.json:7:7: packages["modules/apps/media"].component is "media"; expected "apps-media"`},
		},
		{
			name: "stale version",
			files: func(t *testing.T) map[string]string {
				return map[string]string{relconfig.ManifestFile: replaceIn(t, relconfig.ManifestFile, `"1.0.0"`, `"0.9.0"`)}
			},
			want: []string{`.release-please-manifest.json:2:3: "modules/apps/media" is "0.9.0"; expected "1.0.0"`},
		},
		{
			name: "missing scope",
			files: func(t *testing.T) map[string]string {
				return map[string]string{relconfig.ScopesFile: "[\n  \"apps-media\",\n  \"sso\"\n]\n"}
			},
			want: []string{`.commitlint-scopes.json:1:1: scope "infra-platform-core" is missing`},
		},
		{
			name: "wrong Renovate label",
			files: func(t *testing.T) map[string]string {
				return map[string]string{relconfig.RenovateFile: replaceIn(t, relconfig.RenovateFile, `"module:apps-media"`, `"module:media"`)}
			},
			want: []string{`renovate/polc-modules.json:16:7: packageRules[0].labels of modules/apps/media/** is ["module:media"]; expected ["module:apps-media"]`},
		},
		{
			name: "malformed JSON",
			files: func(*testing.T) map[string]string {
				return map[string]string{relconfig.ManifestFile: "{\n  \"modules/apps/media\": \"1.0.0\",\n}\n"}
			},
			want: []string{`.release-please-manifest.json:3:1: not valid JSON: invalid character '}' looking for beginning of object key string`},
		},
		{
			name: "missing file",
			files: func(*testing.T) map[string]string {
				return map[string]string{relconfig.RenovateFile: ""}
			},
			want: []string{`renovate/polc-modules.json: renovate/polc-modules.json is missing while other release files exist; run ` + "`polc release config`"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRepo(t, tc.files(t))
			repo, _, err := check.Load(dir, builtin.All())
			require.NoError(t, err)
			var got []string
			for _, p := range relconfig.Drift(repo) {
				got = append(got, p.Error())
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestMalformedExistingFile: Generate refuses a malformed or oversized existing file, naming the
// file and line.
func TestMalformedExistingFile(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"trailing comma", "{\n  \"packages\": {},\n}\n", "release-please-config.json:3:1: not valid JSON"},
		{"not an object", "[]\n", "release-please-config.json:1:1: the file is not a JSON object"},
		{"packages not an object", "{\n  \"packages\": []\n}\n", "release-please-config.json:2:3: packages is not a JSON object"},
		{"deep nesting", "{\"a\": " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}", "release-please-config.json:1:"},
		{"YAML alias bomb", testutil.AliasBomb("packages:\n"), "release-please-config.json:1:1: not valid JSON"},
		{"too large", "{\"x\": \"" + strings.Repeat("a", relconfig.MaxFileSize) + "\"}", "release-please-config.json: file is larger than the 1024 KiB limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			require.NoError(t, os.CopyFS(dir, os.DirFS("../../../tests/testdata/repos/good-release-new")))
			require.NoError(t, os.WriteFile(filepath.Join(dir, relconfig.ConfigFile), []byte(tc.content), 0o644))
			repo, _ := load(t, dir)
			_, err := relconfig.Generate(repo, nil)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestWriteRefusesSymlinks: a symlink where a release file or its directory goes is refused and
// nothing is written.
func TestWriteRefusesSymlinks(t *testing.T) {
	for _, link := range []string{relconfig.ScopesFile, "renovate"} {
		t.Run(link, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "repo"), filepath.Join(base, "outside")
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.MkdirAll(outside, 0o755))
			require.NoError(t, os.Symlink(outside, filepath.Join(dir, link)))
			files := []genfiles.File{{Path: relconfig.ConfigFile, Data: []byte("{}\n")}, {Path: relconfig.ScopesFile, Data: []byte("[]\n")}, {Path: relconfig.RenovateFile, Data: []byte("{}\n")}}
			_, err := relconfig.Write(dir, files)
			require.ErrorContains(t, err, "is a symlink")
			require.NoFileExists(t, filepath.Join(dir, relconfig.ConfigFile))
			entries, err := os.ReadDir(outside)
			require.NoError(t, err)
			require.Empty(t, entries)
		})
	}
}
