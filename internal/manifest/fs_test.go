package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func TestRepoFSReadsSourcesOnce(t *testing.T) {
	root := testutil.WriteRepo(t, map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n", "k.yaml": "k: 1\n"})
	s := NewSources(root)
	for _, rel := range []string{"a.yaml", "k.yaml"} {
		require.NoError(t, s.Get(rel).Err)
	}
	for _, rel := range []string{"a.yaml", "b.yaml", "k.yaml"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, rel), []byte("changed: true\n"), 0o600))
	}
	overlay := func(rel string) ([]byte, bool) { return []byte("overlay: true\n"), rel == "k.yaml" }
	fs := newRepoFS(root, overlay, s)
	read := func(rel string) string {
		data, err := fs.ReadFile(filepath.Join(root, rel))
		require.NoError(t, err)
		return string(data)
	}
	require.Equal(t, "a: 1\n", read("a.yaml"), "the content Sources read")
	require.Equal(t, "changed: true\n", read("a.yaml"), "taken once, then read from the disk")
	require.Equal(t, "changed: true\n", read("b.yaml"), "a file Sources did not read")
	require.Equal(t, "overlay: true\n", read("k.yaml"), "the overlay comes first")
	require.Equal(t, "1", String(s.Get("a.yaml").Docs[0].Node, "a"), "the parsed file stays")
}

func TestStripInternal(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{
			name: "internal and other annotations",
			in: `metadata:
  name: a
  annotations:
    internal.config.kubernetes.io/path: a.yaml
    keep: "yes"
    config.kubernetes.io/index: "0"
    internal.config.kubernetes.io/index: "0"
    config.k8s.io/id: "1"
`,
			want: `metadata:
  name: a
  annotations:
    keep: "yes"
`,
		},
		{
			name: "only internal annotations leave an empty mapping",
			in:   "metadata:\n  annotations:\n    config.kubernetes.io/path: a.yaml\n",
			want: "metadata:\n  annotations: {}\n",
		},
		{
			name: "an annotation value that looks like a key stays",
			in:   "metadata:\n  annotations:\n    keep: config.k8s.io/id\n",
			want: "metadata:\n  annotations:\n    keep: config.k8s.io/id\n",
		},
		{name: "no annotations", in: "metadata:\n  name: a\n", want: "metadata:\n  name: a\n"},
		{name: "no metadata", in: "kind: A\n", want: "kind: A\n"},
		{name: "annotations not a mapping", in: "metadata:\n  annotations: x\n", want: "metadata:\n  annotations: x\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := yaml.MustParse(tc.in)
			stripInternal(n)
			require.Equal(t, tc.want, n.MustString())
			// The same as kyaml's filter, key by key, where that applies.
			ref := yaml.MustParse(tc.in)
			for _, key := range internalAnnotations {
				if _, err := ref.Pipe(yaml.ClearAnnotation(key)); err != nil {
					return
				}
			}
			require.Equal(t, ref.MustString(), n.MustString())
		})
	}
}
