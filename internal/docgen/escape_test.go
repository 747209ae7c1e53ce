package docgen

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// TestGenerateEscapes renders metadata written to inject Markdown (links, images, HTML, code
// spans, table cells, headings, line breaks) and checks that none of it comes out as syntax.
func TestGenerateEscapes(t *testing.T) {
	files, err := Generate(load(t, "testdata/hostile"))
	require.NoError(t, err)
	for _, name := range []string{"README.md", "evil.md"} {
		t.Run(name, func(t *testing.T) {
			got := string(files[name])
			testutil.Golden(t, filepath.Join("testdata", "golden", "hostile-"+name), files[name])
			// Each would be syntax unless escaped (preceded by a backslash).
			for _, bad := range []string{"](https://evil", "](javascript:", "[img]", "<img", "<script", "</td>", "`code", "*bold", "_em", "~~del", "$x", "&amp;", "[x](y)", "# Click"} {
				for i := strings.Index(got, bad); i >= 0; i = next(got, bad, i) {
					require.True(t, i > 0 && got[i-1] == '\\', "unescaped %q in\n%s", bad, got)
				}
			}
			for _, bad := range []string{"\nnew line", "\n| extra", "\nfenced"} {
				require.NotContains(t, got, bad, "a line break in the metadata starts a line")
			}
			// Every table row keeps the columns of its header: no value adds a cell.
			var cols int
			for _, line := range strings.Split(got, "\n") {
				if !strings.HasPrefix(line, "|") {
					cols = 0
					continue
				}
				n := len(regexp.MustCompile(`(^|[^\\])\|`).FindAllString(line, -1))
				if cols == 0 {
					cols = n
				}
				require.Equal(t, cols, n, "row %q", line)
			}
			// A backtick in a name does not open a code span.
			require.NotContains(t, got, "`evil`ns`")
		})
	}
}

// next returns the index of the next occurrence of sub in s after i, or -1.
func next(s, sub string, i int) int {
	j := strings.Index(s[i+1:], sub)
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// TestGenerateRefusesNames: names that become file names or links must be DNS-1123 labels; the
// error names the module.yaml position.
func TestGenerateRefusesNames(t *testing.T) {
	tests := []struct {
		name   string
		module string
		want   string
	}{
		{name: "path traversal", module: "metadata:\n  name: ../../../escaped/owned\nspec:\n  type: application\n  version: 1.0.0\n",
			want: `modules/apps/x/module.yaml:4:9: metadata.name "../../../escaped/owned" is not a DNS-1123 label`},
		{name: "line break", module: "metadata:\n  name: \"a\\nb\"\nspec:\n  type: application\n  version: 1.0.0\n",
			want: `modules/apps/x/module.yaml:4:9: metadata.name "a\nb" is not a DNS-1123 label`},
		{name: "dependency with Markdown", module: "metadata:\n  name: x\nspec:\n  type: application\n  version: 1.0.0\n  softDependsOn: [ok, \"[a](b)\"]\n",
			want: `modules/apps/x/module.yaml:8:23: spec.softDependsOn[1] "[a](b)" is not a DNS-1123 label`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.WriteRepo(t, map[string]string{
				"modules/apps/x/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\n" + tc.module,
			})
			_, err := Generate(load(t, root))
			require.ErrorIs(t, err, genfiles.ErrBadName)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestGenerateRefusesDuplicateUnsafe checks that modules left out as duplicates are validated too.
func TestGenerateRefusesDuplicateUnsafe(t *testing.T) {
	repo := &rule.Repo{Modules: []*module.Module{{Metadata: module.Metadata{Name: "ok"}, File: "a/module.yaml"}, {Metadata: module.Metadata{Name: "../x"}, File: "b/module.yaml"}}}
	require.ErrorIs(t, checkNames(repo), genfiles.ErrBadName)
}
