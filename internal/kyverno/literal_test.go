package kyverno

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
)

// TestModuleDirectoryIsLiteral: a module directory reaches the naming/flux-kustomization rule's
// ClusterPolicy precondition, where * and ? are wildcards that cannot be escaped, and its
// ValidatingPolicy CEL, where they are not. Both targets refuse such a directory, naming the
// module.yaml line; plain directories compile on both.
func TestModuleDirectoryIsLiteral(t *testing.T) {
	for _, dir := range []string{"modules/apps/me*ia", "modules/ap?s/media", "modules/*/media", "modules/{{x}}/media", "modules/apps/a b", "modules/apps/é", "modules/apps/m\nx"} {
		for _, target := range []Target{ClusterPolicy, ValidatingPolicy} {
			t.Run(string(target)+"/"+dir, func(t *testing.T) {
				repo := load(t, repoDir)
				m := repo.Modules[0]
				m.Dir = dir
				_, err := Compile(repo, builtin.All(), Options{Target: target, Now: now})
				require.Error(t, err)
				require.Regexp(t, regexp.QuoteMeta(m.File)+`:\d+:\d+: module directory ".*" cannot be matched exactly by Kyverno`, err.Error())
			})
		}
	}
	for _, target := range []Target{ClusterPolicy, ValidatingPolicy} {
		repo := load(t, repoDir)
		repo.Modules[0].Dir = "modules/Apps_v2/media.x-1"
		_, err := Compile(repo, builtin.All(), Options{Target: target, Now: now})
		require.NoError(t, err, target)
	}
}
