//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/apitest"
)

// noRunObjects fails when the cluster holds a policy, PolicyException or namespace that a polc
// test run labelled: every run removes what it created.
func noRunObjects(t *testing.T) {
	t.Helper()
	out := mustKubectl(t, nil, "get", "-A", "-l", apitest.RunLabel, "-o", "name",
		"clusterpolicies.kyverno.io,validatingpolicies.policies.kyverno.io,policyexceptions.kyverno.io,policyexceptions.policies.kyverno.io,namespaces,deployments.apps")
	assert.Empty(t, strings.TrimSpace(out), "objects of a polc test run left in the cluster")
}

// TestKyvernoAdmission runs polc test --kyverno against the stack's cluster, which runs Kyverno:
// the compiled pack is installed for the run, a module that violates an enforced rule is rejected
// by admission naming the policy, a compliant one passes, and nothing of the runs is left. The
// cluster must hold no polc policy pack and no object of the test repositories.
func TestKyvernoAdmission(t *testing.T) {
	requireCluster(t)
	kubeconfig := os.Getenv("KUBECONFIG")
	installed := mustKubectl(t, nil, "get", "-l", "app.kubernetes.io/managed-by=polc", "-o", "name",
		"clusterpolicies.kyverno.io,validatingpolicies.policies.kyverno.io")
	require.Empty(t, strings.TrimSpace(installed), "a polc policy pack is installed already: polc test --kyverno would refuse to touch it")
	dir := filepath.Join(root, "tests", "testdata", "apitest")
	t0 := time.Now()

	t.Run("violating module rejected", func(t *testing.T) {
		code, res := polcTest(t, filepath.Join(dir, "kyverno-bad"), "--kyverno", "--kubeconfig", kubeconfig)
		assert.Equal(t, 1, code)
		shop := res["shop"]
		require.Len(t, shop.Rejected, 1, "%v", messages(shop.Rejected))
		rej := shop.Rejected[0]
		assert.Equal(t, "Deployment/shop/web", rej.Object)
		assert.True(t, strings.HasPrefix(rej.Position, "modules/apps/shop/deployment.yaml:"), rej.Position)
		assert.Contains(t, rej.Message, "polc-security-pod-security", "the rejection names the policy")
		assert.Empty(t, shop.Unserved)
		assert.Empty(t, shop.Errors)
		assert.Equal(t, 1, shop.Applied, "the namespace")
		t.Logf("rejection: %s: %s: %s", rej.Position, rej.Object, rej.Message)
		noRunObjects(t)
	})

	t.Run("compliant module admitted", func(t *testing.T) {
		code, res := polcTest(t, filepath.Join(dir, "kyverno-good"), "--kyverno", "--kubeconfig", kubeconfig)
		assert.Equal(t, 0, code)
		shop := res["shop"]
		assert.False(t, shop.Failed(), "%v %v %v", shop.Errors, messages(shop.Rejected), messages(shop.Unserved))
		assert.Equal(t, 2, shop.Applied, "the namespace and the deployment")
		noRunObjects(t)
	})
	t.Logf("polc test --kyverno: 2 repositories in %s", time.Since(t0).Round(time.Millisecond))
}
