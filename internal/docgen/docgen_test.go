package docgen

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

func load(t *testing.T, root string) *rule.Repo {
	t.Helper()
	repo, findings, err := check.Load(root, builtin.All())
	require.NoError(t, err)
	require.Empty(t, findings)
	return repo
}

// TestModuleDocsUpToDate fails when the committed docs/modules differ from what `polc doc`
// generates for this repository's own modules (run `polc doc`, or this test with -update).
func TestModuleDocsUpToDate(t *testing.T) {
	files, err := Generate(load(t, "../.."))
	require.NoError(t, err)
	dir := filepath.Join("..", "..", "docs", "modules")
	for _, name := range slices.Sorted(maps.Keys(files)) {
		testutil.Golden(t, filepath.Join(dir, name), files[name])
	}
	diff, err := Diff(dir, files)
	require.NoError(t, err)
	require.Empty(t, diff, "docs/modules is out of date; run `polc doc`")
}

// TestGenerate compares the pages of a small repository (exceptions with and without expiry,
// soft dependencies on an unknown module, free text with a pipe and a line break) with golden files.
func TestGenerate(t *testing.T) {
	files, err := Generate(load(t, "testdata/repo"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"README.md", "media.md", "sso.md", "storage-core.md"}, slices.Sorted(maps.Keys(files)))
	for _, name := range slices.Sorted(maps.Keys(files)) {
		t.Run(name, func(t *testing.T) {
			testutil.Golden(t, filepath.Join("testdata", "golden", name), files[name])
		})
	}
	again, err := Generate(load(t, "testdata/repo"))
	require.NoError(t, err)
	require.Equal(t, files, again, "output must be deterministic")
}

func TestDiffAndWrite(t *testing.T) {
	files := map[string][]byte{
		"README.md": []byte(Marker + "\n# catalog\n"),
		"a.md":      []byte(Marker + "\n# a\n"),
		"b.md":      []byte(Marker + "\n# b\n"),
	}
	tests := []struct {
		name     string
		existing map[string]string
		diff     []string
		written  []string
	}{
		{name: "empty directory", diff: []string{"missing README.md", "missing a.md", "missing b.md"},
			written: []string{"wrote README.md", "wrote a.md", "wrote b.md"}},
		{name: "up to date", existing: map[string]string{"README.md": Marker + "\n# catalog\n", "a.md": Marker + "\n# a\n", "b.md": Marker + "\n# b\n"}},
		{
			name: "stale, missing and extra",
			existing: map[string]string{
				"README.md": Marker + "\n# catalog\n",
				"a.md":      Marker + "\n# old a\n",
				"gone.md":   Marker + "\n# a module that was removed\n",
				"notes.md":  "# written by hand, not generated\n",
				"data.txt":  Marker + "\n",
			},
			diff:    []string{"extra gone.md", "missing b.md", "stale a.md"},
			written: []string{"wrote a.md", "wrote b.md", "removed gone.md"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "docs")
			if tc.existing != nil {
				require.NoError(t, os.MkdirAll(dir, 0o755))
			}
			for name, content := range tc.existing {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			diff, err := Diff(dir, files)
			require.NoError(t, err)
			require.Equal(t, prefixed(dir, tc.diff), diff)

			written, err := Write(dir, files)
			require.NoError(t, err)
			require.Equal(t, prefixed(dir, tc.written), written)
			diff, err = Diff(dir, files)
			require.NoError(t, err)
			require.Empty(t, diff, "a written directory is up to date")
			for name, content := range tc.existing {
				if _, generated := files[name]; !generated && name != "gone.md" {
					got, err := os.ReadFile(filepath.Join(dir, name))
					require.NoError(t, err, "files without the marker are kept")
					require.Equal(t, content, string(got))
				}
			}
		})
	}
}

// prefixed turns "verb name" into "verb dir/name", as Diff and Write report them.
func prefixed(dir string, lines []string) []string {
	var out []string
	for _, l := range lines {
		for i := 0; i < len(l); i++ {
			if l[i] == ' ' {
				out = append(out, l[:i+1]+filepath.Join(dir, l[i+1:]))
				break
			}
		}
	}
	return out
}
