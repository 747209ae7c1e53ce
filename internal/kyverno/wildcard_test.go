package kyverno

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"sigs.k8s.io/yaml"
)

// wildcardOperators are Kyverno's condition operators that match strings with wildcards: Equals
// and NotEquals read * and ? in the value as wildcards, the In family (AnyIn, AllNotIn, ...) in
// the key and the value alike, and none of them can escape one. Equals and NotEquals also compare
// strings that parse as durations or quantities by value.
var wildcardOperators = map[string]bool{"Equals": true, "NotEquals": true, "In": true, "NotIn": true,
	"AnyIn": true, "AllIn": true, "AnyNotIn": true, "AllNotIn": true}

// stringConditions lists the rules whose ClusterPolicy conditions still hand strings to a wildcard
// operator, and why. Remove a rule once its conditions compare in JMESPath (see
// naming/flux-kustomization) instead.
var stringConditions = map[string]string{}

// TestConditionsCompareLiterally: every condition of a compiled ClusterPolicy that uses a
// wildcard operator compares a boolean or a number that JMESPath computed, never a string of the
// admitted object, which the operator would match with wildcards where polc's offline check and
// the ValidatingPolicy's CEL compare exactly (a Flux Kustomization with spec.path * was "in" every
// module's paths). Rules listed in stringConditions are known exceptions.
func TestConditionsCompareLiterally(t *testing.T) {
	checked := map[string]int{}
	known := map[string]bool{}
	for _, dir := range []string{repoDir, "../..", "../../tests/testdata/repos/bad-deps-flux-dependson"} {
		repo, _, err := check.Load(filepath.Clean(dir), builtin.All())
		require.NoError(t, err, dir)
		res, err := Compile(repo, builtin.All(), Options{Target: ClusterPolicy, Now: now})
		require.NoError(t, err, dir)
		for _, p := range res.Policies {
			// As written: numbers decode as float64.
			data, err := yaml.Marshal(p.Object)
			require.NoError(t, err, p.Name)
			var cp clusterPolicy
			require.NoError(t, yaml.Unmarshal(data, &cp), p.Path)
			for _, r := range cp.Spec.Rules {
				var cs []cpCondition
				if r.Preconditions != nil {
					cs = append(append(cs, r.Preconditions.All...), r.Preconditions.Any...)
				}
				if r.Validate != nil && r.Validate.Deny != nil {
					cs = append(append(cs, r.Validate.Deny.Conditions.All...), r.Validate.Deny.Conditions.Any...)
				}
				if r.Validate != nil {
					cs = append(cs, forEachConditions(r.Validate.ForEach)...)
				}
				for _, c := range cs {
					checked[p.Rule.ID]++
					if !wildcardOperators[c.Operator] {
						continue
					}
					switch c.Value.(type) {
					case bool, float64, int, int64:
						continue
					}
					if exactAnyIn(c) {
						continue
					}
					if why, ok := stringConditions[p.Rule.ID]; ok {
						if !known[p.Rule.ID] {
							known[p.Rule.ID] = true
							t.Logf("known: %s: %s", p.Rule.ID, why)
						}
						continue
					}
					t.Errorf("%s rule %s: %s %s %s compares a string with wildcards; compare in JMESPath and test the boolean with Equals",
						p.Rule.ID, r.Name, fmt.Sprint(c.Key), c.Operator, fmt.Sprint(c.Value))
				}
			}
		}
	}
	for _, id := range []string{"naming/flux-kustomization", "deps/flux-dependson", "naming/namespace-ownership", "security/cluster-rbac"} {
		require.NotZero(t, checked[id], "no condition of %s was checked", id)
	}
}

// forEachConditions returns the preconditions and deny conditions of foreach validations, nested
// ones included.
func forEachConditions(fes []cpForEach) []cpCondition {
	var cs []cpCondition
	for _, fe := range fes {
		if fe.Preconditions != nil {
			cs = append(append(cs, fe.Preconditions.All...), fe.Preconditions.Any...)
		}
		if fe.Deny != nil {
			cs = append(append(cs, fe.Deny.Conditions.All...), fe.Deny.Conditions.Any...)
		}
		cs = append(cs, forEachConditions(fe.ForEach)...)
	}
	return cs
}

// exactAnyIn reports whether c is an AnyIn condition that compares exactly (see kindFirst): a key
// of anyInKey, without wildcards, and literal values.
func exactAnyIn(c cpCondition) bool {
	k, ok := c.Key.(string)
	if c.Operator != "AnyIn" || !ok || !strings.HasPrefix(k, "{{ replace_all(replace_all(") || !strings.HasSuffix(k, ", '*', '#'), '?', '#') }}") {
		return false
	}
	list, ok := c.Value.([]any)
	if !ok {
		return false
	}
	var values []string
	for _, v := range list {
		s, ok := v.(string)
		if !ok {
			return false
		}
		values = append(values, s)
	}
	return literals(values)
}
