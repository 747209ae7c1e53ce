package parity

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/pack"
)

// TestHostileMetadataStillLoads compiles module metadata whose free text tries to break out of
// YAML, JMESPath and CEL (names cannot: polc refuses them), writes the pack for both targets and
// runs its generated Kyverno CLI tests: every policy loads and matches only what it should.
func TestHostileMetadataStillLoads(t *testing.T) {
	bin := kyvernoBin(t)
	repo, _, err := check.Load(filepath.Join("..", "testdata", "repos", "good-exceptions-excepted"), builtin.All())
	require.NoError(t, err)
	hostile := "x\"\n---\napiVersion: v1\nkind: Secret\n{{ request.object.metadata.name }} ' || true || ' ${VAR} | *"
	for _, m := range repo.Modules {
		m.Spec.Description = hostile
		m.Spec.Owner = hostile
		for i := range m.Spec.Exceptions {
			m.Spec.Exceptions[i].Reason = hostile
		}
	}
	for _, target := range []kyverno.Target{kyverno.ClusterPolicy, kyverno.ValidatingPolicy} {
		pk, err := pack.Build(repo, builtin.All(), kyverno.Options{Target: target})
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, pk.Write(dir))
		out, err := exec.Command(bin, "test", dir, "--remove-color").CombinedOutput()
		require.NoError(t, err, "%s", tail(string(out)))
		require.Regexp(t, `Test Summary: [1-9][0-9]* tests passed and 0 tests failed`, string(out))
		exceptions, err := filepath.Glob(filepath.Join(dir, "exceptions", "*.yaml"))
		require.NoError(t, err)
		require.NotEmpty(t, exceptions)
		for _, f := range exceptions {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			require.Equal(t, 1, strings.Count(string(data), "\nkind: "), "%s stays one object", f)
		}
	}
}
