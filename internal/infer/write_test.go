package infer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/testutil"
)

func proposal(dir, name string) *Proposal {
	return &Proposal{Dir: dir, Module: &module.Module{APIVersion: module.APIVersion, Kind: "Module",
		Metadata: module.Metadata{Name: name}, Spec: module.ModuleSpec{Type: module.Application, Version: "0.1.0"}}}
}

// TestWriteRefuses: Write creates module.yaml files through genfiles.Create: never through a
// symlink (a dangling one counts as an existing file and is skipped; a symlinked directory is
// refused), all or nothing, and only for names that are DNS-1123 labels.
func TestWriteRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, root, outside string)
		props   []*Proposal
		written []string
		skipped []string
		err     error
	}{
		{name: "writes", props: []*Proposal{proposal("apps/a", "a"), proposal("apps/b", "b")},
			written: []string{"apps/a/module.yaml", "apps/b/module.yaml"}},
		{name: "dangling symlink is skipped", props: []*Proposal{proposal("apps/a", "a"), proposal("apps/b", "b")},
			setup: func(t *testing.T, root, outside string) {
				require.NoError(t, os.Symlink(filepath.Join(outside, "owned.yaml"), filepath.Join(root, "apps/b/module.yaml")))
			},
			written: []string{"apps/a/module.yaml"}, skipped: []string{"apps/b/module.yaml"}},
		{name: "symlinked directory refuses everything", props: []*Proposal{proposal("apps/a", "a"), proposal("apps/b", "b")},
			setup: func(t *testing.T, root, outside string) {
				require.NoError(t, os.RemoveAll(filepath.Join(root, "apps/b")))
				require.NoError(t, os.Symlink(outside, filepath.Join(root, "apps/b")))
			}, err: genfiles.ErrSymlink},
		{name: "bad name", props: []*Proposal{proposal("apps/a", "a"), proposal("apps/x", "../x")}, err: genfiles.ErrBadName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := testutil.WriteRepo(t, map[string]string{"apps/a/kustomization.yaml": "", "apps/b/kustomization.yaml": "", "apps/x/kustomization.yaml": ""})
			outside := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, root, outside)
			}
			written, skipped, err := (&Result{Root: root, Proposals: tc.props}).Write()
			entries, rerr := os.ReadDir(outside)
			require.NoError(t, rerr)
			require.Empty(t, entries, "written outside the repository")
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.Empty(t, written)
				require.NoFileExists(t, filepath.Join(root, "apps/a/module.yaml"), "a refused Write wrote a file")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.written, written)
			require.Equal(t, tc.skipped, skipped)
		})
	}
}
