package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// copyGoodMinimal copies the good-minimal repository into a temporary directory.
func copyGoodMinimal(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join("testdata", "repos", "good-minimal"))))
	return root
}

// TestReleaseBump bumps a module with the built binary: --dry-run prints the diff and writes
// nothing, the bump writes module.yaml and CHANGELOG.md and lists the dependents, and polc check
// passes afterwards.
func TestReleaseBump(t *testing.T) {
	root := copyGoodMinimal(t)
	before := snapshot(t, root)
	dry := Polc(t, root, "release", "bump", "platform-core", "--minor", "--note", "Add the ingress class.", "--date", "2026-11-30", "--dry-run")
	require.Equal(t, 0, dry.Code, dry.Stderr)
	require.Contains(t, dry.Stdout, "+## [1.1.0] - 2026-11-30\n+\n+- Add the ingress class.\n")
	require.Contains(t, dry.Stdout, "-  version: 1.0.0\n+  version: 1.1.0\n")
	require.Equal(t, "would bump platform-core 1.0.0 -> 1.1.0\n"+
		"  would write modules/infrastructure/platform-core/CHANGELOG.md\n"+
		"  would write modules/infrastructure/platform-core/module.yaml\n"+
		"  modules that depend on platform-core, whose tests should run: media\n", dry.Stderr)
	require.Equal(t, before, snapshot(t, root), "--dry-run writes nothing")

	res := Polc(t, root, "release", "bump", "platform-core", "--minor", "--note", "Add the ingress class.", "--date", "2026-11-30")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Equal(t, "bumped platform-core 1.0.0 -> 1.1.0\n"+
		"  wrote modules/infrastructure/platform-core/CHANGELOG.md\n"+
		"  wrote modules/infrastructure/platform-core/module.yaml\n"+
		"  modules that depend on platform-core, whose tests should run: media\n", res.Stdout)
	data, err := os.ReadFile(filepath.Join(root, "modules/infrastructure/platform-core/module.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(data), "\n  version: 1.1.0\n")

	chk := Polc(t, root, "check")
	require.Equal(t, 0, chk.Code, chk.Stdout+chk.Stderr)
	require.NotContains(t, chk.Stdout, "module/version")
}

// TestReleaseBumpChangedSince bumps the module whose objects changed since the last commit.
func TestReleaseBumpChangedSince(t *testing.T) {
	root := copyGoodMinimal(t)
	testutil.GitCommitAll(t, root)
	svc := filepath.Join(root, "modules/apps/media/service.yaml")
	data, err := os.ReadFile(svc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(svc, []byte(strings.Replace(string(data), "port: 80", "port: 8000", 1)), 0o644))

	res := Polc(t, root, "release", "bump", "--changed-since", "HEAD", "--date", "2026-11-30")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "bumped media 1.0.0 -> 1.0.1\n  objects changed since HEAD: ")
	require.Contains(t, res.Stdout, "Service/media/jellyfin")
	require.NotContains(t, res.Stdout, "platform-core")
	changelog, err := os.ReadFile(filepath.Join(root, "modules/apps/media/CHANGELOG.md"))
	require.NoError(t, err)
	require.Contains(t, string(changelog), "## [1.0.1] - 2026-11-30\n\n- Objects changed since HEAD: ")

	again := Polc(t, root, "release", "bump", "--changed-since", "HEAD", "--date", "2026-11-30")
	require.Equal(t, 0, again.Code, again.Stderr)
	require.Equal(t, "skipped media: spec.version already rose since HEAD (1.0.0 -> 1.0.1)\n", again.Stdout)

	chk := Polc(t, root, "check")
	require.Equal(t, 0, chk.Code, chk.Stdout+chk.Stderr)
}

// TestReleaseBumpErrors: usage and repository errors exit 2 and write nothing.
func TestReleaseBumpErrors(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		prepare func(t *testing.T, root string)
		wantErr string
	}{
		{name: "no module", args: nil, wantErr: "name the module to bump, or use --changed-since REV"},
		{name: "two levels", args: []string{"media", "--major", "--minor"}, wantErr: "--major, --minor and --patch exclude each other"},
		{name: "module and changed-since", args: []string{"media", "--changed-since", "HEAD"}, wantErr: "give either MODULE or --changed-since, not both"},
		{name: "two modules", args: []string{"media", "platform-core"}, wantErr: "accepts at most 1 arg"},
		{name: "unknown module", args: []string{"mediaa"}, wantErr: `unknown module "mediaa"; did you mean media?`},
		{name: "component", args: []string{"sso"}, wantErr: "sso is a component"},
		{name: "bad date", args: []string{"media", "--date", "30.11.2026"}, wantErr: "is not a calendar date written YYYY-MM-DD"},
		{name: "module.yaml symlink out of the repository", args: []string{"media"},
			prepare: func(t *testing.T, root string) {
				p := filepath.Join(root, "modules/apps/media/module.yaml")
				data, err := os.ReadFile(p)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(outside, "module.yaml"), data, 0o644))
				require.NoError(t, os.Remove(p))
				require.NoError(t, os.Symlink(filepath.Join(outside, "module.yaml"), p))
			},
			wantErr: "the metadata of module media does not load: modules/apps/media/module.yaml: symlink points outside the repository"},
		{name: "CHANGELOG.md symlink out of the repository", args: []string{"media"},
			prepare: func(t *testing.T, root string) {
				p := filepath.Join(root, "modules/apps/media/CHANGELOG.md")
				require.NoError(t, os.WriteFile(filepath.Join(outside, "CHANGELOG.md"), []byte("## [1.0.0]\n"), 0o644))
				require.NoError(t, os.Remove(p))
				require.NoError(t, os.Symlink(filepath.Join(outside, "CHANGELOG.md"), p))
			},
			wantErr: "symlink points outside the repository"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := copyGoodMinimal(t)
			if tc.prepare != nil {
				tc.prepare(t, root)
			}
			before := snapshot(t, root)
			outsideBefore := snapshot(t, outside)
			res := Polc(t, root, append([]string{"release", "bump", "--date", "2026-11-30"}, tc.args...)...)
			require.Equal(t, 2, res.Code, res.Stdout+res.Stderr)
			require.Contains(t, res.Stderr, tc.wantErr)
			require.Empty(t, res.Stdout)
			require.Equal(t, before, snapshot(t, root), "nothing written")
			require.Equal(t, outsideBefore, snapshot(t, outside), "nothing written outside")
		})
	}
}
