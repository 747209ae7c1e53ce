package parity

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/pack"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// mutantInput is the small input the mutant runs on: the test repository whose modules render
// Flux Kustomizations that deps/flux-dependson passes and fails. Its cluster entry points are
// left out, so that kyverno runs once per target.
const mutantInput = "parity/flux-deploys"

// TestParityCatchesMutant proves the comparison itself: it compiles the pack of a small input,
// rewrites the policy of one rule so that it never rejects (a ClusterPolicy rule whose
// precondition never holds, a ValidatingPolicy whose validations are `true`), runs the same
// comparison as TestParity, and requires disagreements on that rule, and on no other.
func TestParityCatchesMutant(t *testing.T) {
	bin := kyvernoBin(t)
	var in input
	for _, i := range loadInputs(t) {
		if i.name == mutantInput {
			in = i
		}
	}
	require.NotNil(t, in.repo, "input %s", mutantInput)
	repo := *in.repo
	repo.Clusters = nil
	in.repo = &repo
	id := builtin.DepsFluxDependsOn.ID
	for _, target := range targets {
		t.Run(string(target), func(t *testing.T) {
			t.Parallel()
			now := time.Now()
			pk, err := pack.Build(in.repo, builtin.All(), kyverno.Options{Target: target, Now: now})
			require.NoError(t, err)
			n, err := neverRejects(pk, id, target)
			require.NoError(t, err)
			require.Positive(t, n, "a compiled %s policy of %s to mutate", target, id)
			tot := newTotals()
			comparePack(t, bin, in, target, pk, now, tot)
			require.Positive(t, tot.perRule[id].failing, "the input has pairs that %s fails offline", id)
			require.NotEmpty(t, tot.disagreements, "a %s policy of %s that never rejects passes parity", target, id)
			for _, d := range tot.disagreements {
				require.Contains(t, d, "["+id+"]: offline fail=true", "only the mutant disagrees, on objects it should fail")
			}
			t.Logf("the mutant of %s gives %d disagreements, for example: %s", id, len(tot.disagreements), tot.disagreements[0])
		})
	}
}

// neverRejects rewrites the compiled policies of rule id in pack so that they admit every object:
// each ClusterPolicy rule gets a precondition that never holds, each ValidatingPolicy validation
// the expression true. It returns how many policies it rewrote.
func neverRejects(pk *pack.Pack, id string, target kyverno.Target) (int, error) {
	var paths []string
	for _, p := range pk.Policies {
		if p.Rule.ID == id {
			paths = append(paths, p.Path)
		}
	}
	n := 0
	for i, f := range pk.Files {
		if !slices.Contains(paths, f.Path) {
			continue
		}
		doc, err := yaml.Parse(string(f.Data))
		if err != nil {
			return n, fmt.Errorf("%s: %w", f.Path, err)
		}
		if target == kyverno.ClusterPolicy {
			err = mutateEach(doc, []string{"spec", "rules"}, "preconditions", "all:\n- key: polc-mutant\n  operator: Equals\n  value: never\n")
		} else {
			err = mutateEach(doc, []string{"spec", "validations"}, "expression", "'true'\n")
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", f.Path, err)
		}
		s, err := doc.String()
		if err != nil {
			return n, fmt.Errorf("%s: %w", f.Path, err)
		}
		pk.Files[i].Data = []byte(s)
		n++
	}
	return n, nil
}

// mutateEach sets field to value (YAML) in every element of the list at path.
func mutateEach(doc *yaml.RNode, path []string, field, value string) error {
	list, err := doc.Pipe(yaml.Lookup(path...))
	if err != nil || list == nil {
		return fmt.Errorf("no %s: %v", strings.Join(path, "."), err)
	}
	elems, err := list.Elements()
	if err != nil {
		return err
	}
	for _, e := range elems {
		v, err := yaml.Parse(value)
		if err != nil {
			return err
		}
		if err := e.PipeE(yaml.SetField(field, v)); err != nil {
			return err
		}
	}
	return nil
}

// TestUncovered checks the coverage rule TestParity enforces: every rule with a compiled form
// needs a failing and a passing pair, and offline-only rules need none.
func TestUncovered(t *testing.T) {
	tot := newTotals()
	tot.count(builtin.DepsFluxDependsOn.ID, false)
	tot.count(builtin.DepsFluxDependsOn.ID, false)
	tot.count(builtin.SecurityImageTag.ID, true)
	tot.count(builtin.SecurityImageTag.ID, false)
	tot.count(builtin.LabelsModule.ID, true)
	all := []rule.Rule{builtin.DepsFluxDependsOn, builtin.SecurityImageTag, builtin.LabelsModule, builtin.SecurityResources, builtin.DepsCycle}
	require.Nil(t, builtin.DepsCycle.Policy, "deps/cycle is offline only")
	require.Equal(t, []string{
		"deps/flux-dependson (0 failing, 2 passing)",
		"labels/module (1 failing, 0 passing)",
		"security/resources (0 failing, 0 passing)",
	}, uncovered(all, tot))
}
