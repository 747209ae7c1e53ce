package testgen

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	policiesv1 "github.com/kyverno/api/api/policies.kyverno.io/v1"
	kyvernov2 "github.com/kyverno/kyverno/api/kyverno/v2"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/yaml"
)

// repoDir is the test repository with modules, namespaces of every level and exceptions.
const repoDir = "../../../tests/testdata/repos/good-exceptions-excepted"

func load(t *testing.T, dir string) *rule.Repo { return kyvernotest.Load(t, dir) }

func compile(t *testing.T, repo *rule.Repo, target kyverno.Target) *kyverno.Result {
	t.Helper()
	res, err := kyverno.Compile(repo, builtin.All(), kyverno.Options{Target: target, Now: kyvernotest.Now})
	require.NoError(t, err)
	return res
}

// chainsawYAML returns the chainsaw test that Files generates for policy p, as YAML.
func chainsawYAML(t *testing.T, repo *rule.Repo, target kyverno.Target, p *kyverno.Policy, all []*kyverno.Policy) []byte {
	t.Helper()
	docs, err := Files(repo, target, p, all)
	require.NoError(t, err)
	for _, d := range docs {
		if d.Path == testDir(p.Name)+"/"+ChainsawTestFile {
			require.Len(t, d.Objects, 1)
			data, err := yaml.Marshal(d.Objects[0])
			require.NoError(t, err)
			return data
		}
	}
	t.Fatalf("%s has no chainsaw test", p.Name)
	return nil
}

// sent is how a chainsaw test sends one example object.
type sent struct {
	mode  string // admitted, rejected, stored (a real create, for Audit)
	check string // the expectations of a rejection, joined
}

// sentObjects reads a generated chainsaw test: how it sends each example (kind/namespace/name),
// the PolicyReport assertions (kind/namespace/name), and the isolation PolicyException.
func sentObjects(t *testing.T, data []byte) (map[string][]sent, map[string]bool, map[string]any) {
	t.Helper()
	var test struct {
		Spec struct {
			Template *bool `json:"template"`
			Steps    []struct {
				Try []map[string]any `json:"try"`
			} `json:"steps"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(data, &test))
	require.NotNil(t, test.Spec.Template)
	require.False(t, *test.Spec.Template, "resources are sent verbatim")
	objs, reports := map[string][]sent{}, map[string]bool{}
	var isolation map[string]any
	id := func(o map[string]any) string {
		meta, _ := o["metadata"].(map[string]any)
		return fmt.Sprint(o["kind"], "/", meta["namespace"], "/", meta["name"])
	}
	for _, st := range test.Spec.Steps {
		for _, op := range st.Try {
			switch {
			case op["apply"] != nil:
				a := op["apply"].(map[string]any)
				res := a["resource"].(map[string]any)
				if res["kind"] == "PolicyException" {
					isolation = res
					continue
				}
				s := sent{mode: "stored"}
				if a["dryRun"] == true {
					s.mode = "admitted"
				}
				if e, ok := a["expect"].([]any); ok {
					s.mode = "rejected"
					for k := range e[0].(map[string]any)["check"].(map[string]any) {
						s.check += k + " "
					}
				}
				objs[id(res)] = append(objs[id(res)], s)
			case op["script"] != nil:
				sc := op["script"].(map[string]any)
				content := sc["content"].(string)
				if !strings.HasPrefix(content, "kubectl create --dry-run=server") {
					continue
				}
				body := strings.TrimSuffix(strings.SplitN(content, "\n", 2)[1], "EOF\n")
				var res map[string]any
				require.NoError(t, yaml.Unmarshal([]byte(body), &res))
				s := sent{mode: "admitted"}
				for k := range sc["check"].(map[string]any) {
					if strings.Contains(k, "$error != null") {
						s.mode = "rejected"
					}
					s.check += k + " "
				}
				objs[id(res)] = append(objs[id(res)], s)
			case op["assert"] != nil:
				res := op["assert"].(map[string]any)["resource"].(map[string]any)
				if strings.HasSuffix(fmt.Sprint(res["kind"]), "PolicyReport") {
					scope := res["scope"].(map[string]any)
					meta, _ := res["metadata"].(map[string]any)
					reports[fmt.Sprint(scope["kind"], "/", meta["namespace"], "/", scope["name"])] = true
				}
			}
		}
	}
	return objs, reports, isolation
}

// TestChainsawTests checks the in-cluster test of every policy against the policy's examples:
// passing and excepted objects are sent to be admitted, failing ones to be rejected with a message
// naming the policy (and rule), audited ones are stored and their PolicyReport entry awaited, and
// the test-only PolicyException lifts every other policy of the pack, and only those.
func TestChainsawTests(t *testing.T) {
	for _, target := range []kyverno.Target{kyverno.ClusterPolicy, kyverno.ValidatingPolicy} {
		t.Run(string(target), func(t *testing.T) {
			// Rules of severity warning audit: their failing examples are stored.
			repo := load(t, repoDir)
			res := compile(t, repo, target)
			modes := map[string]int{}
			for _, p := range res.Policies {
				data := chainsawYAML(t, repo, target, p, res.Policies)
				require.Contains(t, string(data), "kubectl apply -k ../..", "the test applies the pack as Flux does")
				objs, reports, iso := sentObjects(t, data)
				exs, err := examplesOf(p)
				require.NoError(t, err)
				for _, e := range exs {
					key := exampleID(e.Object)
					if inIgnoredNamespace(e.Object) {
						require.Empty(t, objs[key], "%s: %s is in a namespace Kyverno ignores, yet sent", p.Name, key)
						continue
					}
					want := "admitted"
					switch {
					case e.Result == "fail" && e.Rule.Action == module.Audit && e.Object["kind"] != "Namespace":
						want = "stored"
						require.True(t, reports[key], "%s: no PolicyReport assertion for %s", p.Name, key)
					case e.Result == "fail" && e.Rule.Action == module.Enforce:
						want = "rejected"
					}
					// The example is sent once, the way its result asks for.
					i := slices.IndexFunc(objs[key], func(s sent) bool { return s.mode == want })
					require.GreaterOrEqual(t, i, 0, "%s: example %s (%s) is not sent as %s: %v", p.Name, key, e.Result, want, objs[key])
					s := objs[key][i]
					objs[key] = slices.Delete(objs[key], i, i+1)
					if want == "rejected" {
						require.Contains(t, s.check, p.Name, "%s: the rejection of %s must name the policy", p.Name, key)
						if target == kyverno.ClusterPolicy {
							require.Contains(t, s.check, "'  "+p.CPRuleName(e.Rule)+": '", "%s: the rejection of %s must name the rule", p.Name, key)
						}
					}
					modes[want]++
				}
				for key, left := range objs {
					require.Empty(t, left, "%s: %s is sent but is no example", p.Name, key)
				}
				// The isolation exception, decoded strictly into Kyverno's own types.
				require.NotNil(t, iso, "%s: no isolation exception", p.Name)
				y, err := yaml.Marshal(iso)
				require.NoError(t, err)
				var others []string
				if target == kyverno.ClusterPolicy {
					var pe kyvernov2.PolicyException
					require.NoError(t, kyvernotest.Strict(y, &pe))
					for _, ex := range pe.Spec.Exceptions {
						require.Equal(t, []string{"*"}, ex.RuleNames)
						others = append(others, ex.PolicyName)
					}
				} else {
					var pe policiesv1.PolicyException
					require.NoError(t, kyvernotest.Strict(y, &pe))
					require.NotContains(t, pe.Spec.MatchConditions[0].Expression, ".?", "exception CEL has no optional syntax")
					for _, r := range pe.Spec.PolicyRefs {
						others = append(others, r.Name)
					}
				}
				var want []string
				for _, o := range res.Policies {
					if o.Name != p.Name {
						want = append(want, o.Name)
					}
				}
				sort.Strings(others)
				require.Equal(t, want, others, "%s: the isolation exception lifts exactly the other policies", p.Name)
			}
			for _, m := range []string{"admitted", "rejected", "stored"} {
				require.Positive(t, modes[m], "no example is %s", m)
			}
		})
	}
}

func TestEveryPolicyHasPassAndFailExamples(t *testing.T) {
	res := compile(t, load(t, repoDir), kyverno.ClusterPolicy)
	require.NotEmpty(t, res.Policies)
	for _, p := range res.Policies {
		exs, err := examplesOf(p)
		require.NoError(t, err)
		got := map[string]int{}
		for _, e := range exs {
			got[e.Result]++
		}
		require.Positive(t, got["pass"], p.Name)
		require.Positive(t, got["fail"], p.Name)
	}
}

// TestResultsNameCompiledRules requires every result of the generated Kyverno CLI tests to name a
// rule that the ClusterPolicy has, also when modules of both actions split a rule (-audit) and
// when a rule is compiled as several (per module type, per lookup).
func TestResultsNameCompiledRules(t *testing.T) {
	repo := load(t, "../../..") // the starter catalog: infrastructure and application modules
	cfg := *repo.Config
	cfg.Spec.Kyverno.TierActions = map[module.TierKey]module.Action{"application": module.Audit}
	repo.Config = &cfg
	res := compile(t, repo, kyverno.ClusterPolicy)
	split := false
	for _, p := range res.Policies {
		data, err := yaml.Marshal(p.Object)
		require.NoError(t, err)
		var cp struct {
			Spec struct {
				Rules []struct {
					Name string `json:"name"`
				} `json:"rules"`
			} `json:"spec"`
		}
		require.NoError(t, yaml.Unmarshal(data, &cp))
		rules := map[string]bool{}
		for _, r := range cp.Spec.Rules {
			rules[r.Name] = true
			split = split || strings.Contains(r.Name, "-audit")
		}
		docs, err := Files(repo, kyverno.ClusterPolicy, p, res.Policies)
		require.NoError(t, err)
		n := 0
		for _, d := range docs {
			for _, o := range d.Objects {
				if f, ok := o.(cliTestFile); ok {
					for _, r := range f.Results {
						require.True(t, rules[r.Rule], "%s: result for %v names rule %q, which the policy does not have", p.Name, r.Resources, r.Rule)
						n++
					}
				}
			}
		}
		require.Positive(t, n, p.Name)
	}
	require.True(t, split, "some rule is split by action")
}
