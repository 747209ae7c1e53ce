package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

// wrapperKustomization wraps module media in a kustomization that runs polc as a kustomize
// function of the given field (validators or transformers), as docs/integrations.md shows.
const wrapperKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../modules/apps/media
%s:
  - |-
    apiVersion: polc.dev/v1alpha1
    kind: Module
    metadata:
      name: media
      annotations:
        config.kubernetes.io/function: |
          exec:
            path: ../../bin/polc
            args: [fn]
`

// kustomizeIssue5036 is what kustomize v5 says when an exec validator passes: its function runner
// adds path annotations to the validator's output, which it then refuses as a modification.
const kustomizeIssue5036 = "validator shouldn't modify the resource map"

// TestKustomizeFunction runs polc fn as an exec function of the pinned kustomize CLI
// (hack/build-tools.sh kustomize builds bin/kustomize) on copies of testdata repositories, both
// as a validator and as a transformer.
func TestKustomizeFunction(t *testing.T) {
	kustomize, err := filepath.Abs("../bin/kustomize")
	require.NoError(t, err)
	if _, err := os.Stat(kustomize); err != nil {
		testutil.SkipOrFail(t, "bin/kustomize is missing, so polc fn is not tested as a kustomize function: build it with `hack/build-tools.sh kustomize` (or `make tools`)")
	}
	tests := []struct {
		repo   string
		ok     bool
		stderr []string
	}{
		{repo: "good-minimal", ok: true},
		{repo: "bad-rego-policy", stderr: []string{
			"[error] v1/Service/media/jellyfin spec.type: rego/polc.loadbalancer/deny: Service jellyfin of application module media",
			"[error] v1/Namespace/media: rego/polc.owner/deny:",
			"[warning] v1/ConfigMap/media/jellyfin-settings: rego/main/warn:",
		}},
		{repo: "bad-labels-module", stderr: []string{`[error] v1/ConfigMap/media/settings metadata.labels[polc.dev/module]: labels/module: label polc.dev/module is "music"; expected "media"`}},
	}
	for _, field := range []string{"validators", "transformers"} {
		for _, tc := range tests {
			t.Run(field+"/"+tc.repo, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), tc.repo)
				require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", tc.repo))))
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
				require.NoError(t, os.Symlink(polcBin, filepath.Join(dir, "bin", "polc")))
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "validate", "media"), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(dir, "validate", "media", "kustomization.yaml"), []byte(fmt.Sprintf(wrapperKustomization, field)), 0o644))
				stdout, stderr, err := run(dir, kustomize, "build", "--enable-alpha-plugins", "--enable-exec", "validate/media")
				if !tc.ok {
					require.Error(t, err, "kustomize build passed:\n%s", stdout)
					for _, s := range tc.stderr {
						require.Contains(t, stderr, s)
					}
					return
				}
				if field == "validators" && err != nil {
					require.Contains(t, stderr, kustomizeIssue5036, "a passing validator failed for another reason")
					require.NotContains(t, stderr, "[error]", "polc reported findings")
					t.Logf("kustomize refuses every passing exec validator (kustomize issue 5036): %s", kustomizeIssue5036)
					return
				}
				require.NoError(t, err, stderr)
				plain, _, err := run(dir, kustomize, "build", "modules/apps/media")
				require.NoError(t, err)
				require.Equal(t, plain, stdout, "the function changed the objects")
			})
		}
	}
}

// run runs a command in dir and returns its output.
func run(dir, name string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}
