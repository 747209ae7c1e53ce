package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompileFlux(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cluster")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Execute(append([]string{"compile", "--repo", "../.."}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	tests := []struct {
		name       string
		args       []string
		edit       func(t *testing.T)
		wantCode   int
		wantOut    string
		wantStderr string
		wantFiles  []string
	}{
		{name: "modules without --flux", args: []string{"media"}, wantCode: 2, wantStderr: "MODULE arguments choose the modules of --flux"},
		{name: "--target with --flux", args: []string{"--flux", dir, "--target", "clusterpolicy"}, wantCode: 2, wantStderr: "--target and --out apply to the policy pack"},
		{name: "a component", args: []string{"--flux", dir, "backups"}, wantCode: 2, wantStderr: "module backups is a component"},
		{name: "an unknown module", args: []string{"--flux", dir, "nope"}, wantCode: 2, wantStderr: `unknown module "nope"`},
		{name: "check before writing", args: []string{"--flux", dir, "--check", "media"}, wantCode: 1, wantOut: "is out of date"},
		{
			name: "write media and its dependencies", args: []string{"--flux", dir, "media"},
			wantOut:    "wrote the Flux Kustomizations of media, networking-core, security-core, storage-core to " + dir + " (5 files; 5 changed, 0 removed)\n",
			wantStderr: "note: added the modules that the chosen ones depend on: networking-core, security-core, storage-core",
			wantFiles:  []string{"kustomization.yaml", "media.yaml", "networking-core.yaml", "security-core.yaml", "storage-core.yaml"},
		},
		{name: "check after writing", args: []string{"--flux", dir, "--check", "media"}, wantOut: "is up to date (the Flux Kustomizations of media, networking-core, security-core, storage-core; 5 files)"},
		{
			name: "check after an edit", args: []string{"--flux", dir, "--check", "media"}, wantCode: 1, wantOut: "Differing files:\n  unsafe media.yaml: it was not written by polc (it has no generated header); polc never overwrites it",
			edit: func(t *testing.T) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "media.yaml"), []byte("edited\n"), 0o644))
			},
		},
		{
			name: "fewer modules remove the others", args: []string{"--flux", dir, "networking-core"},
			wantOut:   "wrote the Flux Kustomizations of networking-core to " + dir + " (2 files; 1 changed, 2 removed)\n",
			wantFiles: []string{"kustomization.yaml", "media.yaml", "networking-core.yaml"}, // media.yaml was edited: not polc's any more
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit != nil {
				tc.edit(t)
			}
			code, out, stderr := run(tc.args...)
			require.Equal(t, tc.wantCode, code, "stdout: %s\nstderr: %s", out, stderr)
			require.Contains(t, out, tc.wantOut)
			require.Contains(t, stderr, tc.wantStderr)
			if tc.wantFiles != nil {
				entries, err := os.ReadDir(dir)
				require.NoError(t, err)
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				require.Equal(t, tc.wantFiles, names)
			}
		})
	}
}
