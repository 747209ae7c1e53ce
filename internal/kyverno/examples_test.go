package kyverno

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestExamplesAgreeWithOfflineCheck runs every compiled rule's Pass and Fail example objects (the
// objects the generated Kyverno CLI tests and the parity test feed to the policies) through polc's
// offline check of the same rule, for every module of this repository: a Pass example gives no
// finding and a Fail example at least one. An example that only the policy rejects would make the
// Kyverno tests prove nothing about the offline check.
func TestExamplesAgreeWithOfflineCheck(t *testing.T) {
	repo, findings, err := check.Load("../..", builtin.All())
	require.NoError(t, err)
	require.Empty(t, findings)
	check.Render(context.Background(), repo)
	res, err := Compile(repo, builtin.All(), Options{Target: ClusterPolicy, Now: repo.Clock()})
	require.NoError(t, err)
	checked := map[string]int{}
	for _, p := range res.Policies {
		for _, mr := range p.Rules {
			for i, ex := range mr.Pass {
				name := fmt.Sprintf("%s/%s/pass-%d", p.Rule.ID, mr.Name, i)
				require.Empty(t, offline(t, repo, p.Rule, mr, ex), "%s: the offline check rejects a Pass example", name)
				checked[p.Rule.ID]++
			}
			for i, ex := range mr.Fail {
				name := fmt.Sprintf("%s/%s/fail-%d", p.Rule.ID, mr.Name, i)
				require.NotEmpty(t, offline(t, repo, p.Rule, mr, ex), "%s: the offline check admits a Fail example", name)
				checked[p.Rule.ID]++
			}
		}
	}
	for _, ru := range builtin.All() {
		if ru.Policy != nil {
			require.NotZero(t, checked[ru.ID], "rule %s has no examples checked", ru.ID)
		}
	}
}

// offline runs rule ru's offline check on an example object of module rule mr.
func offline(t *testing.T, repo *rule.Repo, ru *rule.Rule, mr ModuleRule, example map[string]any) []string {
	t.Helper()
	data, err := sigsyaml.Marshal(example)
	require.NoError(t, err)
	n, err := manifest.ParseObject(string(data))
	require.NoError(t, err)
	o := &manifest.Object{Node: n, Ref: manifest.RefOf(n), Module: mr.Module.Name()}
	var out []string
	for _, f := range check.CheckObject(repo, mr.Module, o, []rule.Rule{*ru}) {
		out = append(out, f.Message)
	}
	return out
}
