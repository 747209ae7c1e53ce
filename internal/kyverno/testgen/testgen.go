// Package testgen generates the tests of a compiled policy pack from the example objects of its
// rules (rule.PolicyRule's Pass and Fail) and of its exceptions: a Kyverno CLI test per policy
// (kyverno-test.yaml and resources.yaml, run offline with `kyverno test`) and a chainsaw test per
// policy that sends the same examples through Kyverno's admission controller in a cluster.
package testgen

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// Doc is one generated test file: its slash-separated path in the pack and the objects it holds,
// which the pack writes as one YAML stream.
type Doc struct {
	// Path is relative to the pack's directory: tests/<policy>/kyverno-test.yaml.
	Path string
	// Objects are JSON-like values or structs with JSON tags.
	Objects []any
}

// Files generates the tests of policy p, one of the policies all of a pack compiled for target:
// its Kyverno CLI test and its chainsaw test, in tests/<policy>/.
func Files(repo *rule.Repo, target kyverno.Target, p *kyverno.Policy, all []*kyverno.Policy) ([]Doc, error) {
	docs, err := cliTest(target, p)
	if err != nil {
		return nil, fmt.Errorf("generate tests for %s: %w", p.Name, err)
	}
	cs, err := chainsawTest(repo, target, p, all)
	if err != nil {
		return nil, fmt.Errorf("generate the in-cluster test of %s: %w", p.Name, err)
	}
	return append(docs, cs), nil
}

// testResult is one expected result of a Kyverno CLI test (cli.kyverno.io/v1alpha1 Test).
type testResult struct {
	Policy             string   `json:"policy"`
	Rule               string   `json:"rule,omitempty"`
	IsValidatingPolicy bool     `json:"isValidatingPolicy,omitempty"`
	Kind               string   `json:"kind"`
	Resources          []string `json:"resources"`
	Result             string   `json:"result"`
}

// testMeta is the metadata of a kyverno-test.yaml.
type testMeta struct {
	Name string `json:"name"`
}

// cliTestFile is a kyverno-test.yaml.
type cliTestFile struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   testMeta     `json:"metadata"`
	Policies   []string     `json:"policies"`
	Resources  []string     `json:"resources"`
	Exceptions []string     `json:"exceptions,omitempty"`
	Results    []testResult `json:"results"`
}

// resourceID names an object in a test result.
func resourceID(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return name
}

// testDir is where the Kyverno CLI test of a policy lives in the pack.
func testDir(policy string) string { return "tests/" + policy }

// exampleObject is an object of a generated test and the result it must have.
type exampleObject struct {
	// Rule is the per-module rule the example is for.
	Rule *kyverno.ModuleRule
	// Object is the example object.
	Object map[string]any
	// Result is pass, fail or skip (an excepted object).
	Result string
}

// examplesOf returns the example objects of a policy: each rule's pass and fail objects, and for
// each exception an object it excepts (made from the rule's failing example), in a stable order.
func examplesOf(p *kyverno.Policy) ([]exampleObject, error) {
	var out []exampleObject
	for i := range p.Rules {
		r := &p.Rules[i]
		if len(r.Fail) == 0 {
			return nil, fmt.Errorf("rule %s has no failing example", r.Name)
		}
		for _, o := range r.Pass {
			out = append(out, exampleObject{Rule: r, Object: o, Result: "pass"})
		}
		for _, o := range r.Fail {
			out = append(out, exampleObject{Rule: r, Object: o, Result: "fail"})
		}
	}
	for _, ex := range p.Exceptions {
		for _, ref := range ex.Source.Resources {
			r := exampleRule(p, ex.Module, ref.Kind)
			if r == nil {
				continue
			}
			out = append(out, exampleObject{Rule: r, Object: retarget(r, r.Fail[0], ref), Result: "skip"})
		}
	}
	return out, nil
}

// exampleRule picks the rule of module m whose failing example an excepted object of kind is
// made from: a pod rule for pod kinds, else the first rule of m.
func exampleRule(p *kyverno.Policy, m *module.Module, kind string) *kyverno.ModuleRule {
	var first *kyverno.ModuleRule
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Module != m || len(r.Fail) == 0 {
			continue
		}
		if first == nil {
			first = r
		}
		for _, k := range r.Kinds {
			if k.Kind == kind || k.Kind == "*" || (r.IsPodRule() && kinds.IsPodController(kind)) {
				return r
			}
		}
	}
	return first
}

// clone deep-copies a JSON-like object.
func clone(o map[string]any) map[string]any {
	b, err := json.Marshal(o)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// podOf returns the pod (metadata and spec) of a Pod or a pod controller example.
func podOf(o map[string]any) map[string]any {
	get := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			m, _ = m[k].(map[string]any)
		}
		return m
	}
	kind, _ := o["kind"].(string)
	if kind == "Pod" {
		return map[string]any{"metadata": map[string]any{}, "spec": o["spec"]}
	}
	if k, ok := kinds.Lookup(kind); ok && len(k.Template) > 0 {
		return get(o, k.Template...)
	}
	return get(o, "spec", "template")
}

// retarget turns a rule's failing example into the excepted object ref: same content, the
// kind, name and namespace of ref (and its apiVersion, when the kinds table knows the kind). Pod
// templates are moved to where ref's kind keeps them.
func retarget(r *kyverno.ModuleRule, fail map[string]any, ref module.ResourceRef) map[string]any {
	o := clone(fail)
	meta, _ := o["metadata"].(map[string]any)
	if r.IsPodRule() && o["kind"] != ref.Kind {
		pod := clone(podOf(o))
		labels := map[string]any{"app.kubernetes.io/name": ref.Name}
		tmeta, _ := pod["metadata"].(map[string]any)
		if tmeta == nil {
			tmeta = map[string]any{}
			pod["metadata"] = tmeta
		}
		tmeta["labels"] = labels
		var spec map[string]any
		switch ref.Kind {
		case "Pod":
			spec = pod["spec"].(map[string]any)
		case "CronJob":
			spec = map[string]any{"schedule": "0 * * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": pod}}}
		case "Job":
			spec = map[string]any{"template": pod}
		case "ReplicationController":
			spec = map[string]any{"selector": labels, "template": pod}
		default:
			spec = map[string]any{"selector": map[string]any{"matchLabels": labels}, "template": pod}
		}
		o["spec"] = spec
	}
	o["kind"] = ref.Kind
	if k, ok := kinds.Lookup(ref.Kind); ok {
		o["apiVersion"] = k.APIVersion
	}
	meta["name"] = ref.Name
	if ref.Namespace != "" {
		meta["namespace"] = ref.Namespace
	}
	return o
}

// exampleID identifies an example object within a test.
func exampleID(o map[string]any) string {
	meta, _ := o["metadata"].(map[string]any)
	return fmt.Sprint(o["kind"], "/", meta["namespace"], "/", meta["name"])
}

// cliTest generates the Kyverno CLI test of a policy: kyverno-test.yaml and resources.yaml in
// tests/<policy>/, and in tests/<policy>/case-N/ for examples that share a kind and name with an
// earlier one (a passing and a failing Namespace of the same name).
func cliTest(target kyverno.Target, p *kyverno.Policy) ([]Doc, error) {
	exs, err := examplesOf(p)
	if err != nil {
		return nil, err
	}
	var groups [][]exampleObject
	var seen []map[string]bool
	for _, e := range exs {
		id := exampleID(e.Object)
		g := 0
		for g < len(groups) && seen[g][id] {
			g++
		}
		if g == len(groups) {
			groups = append(groups, nil)
			seen = append(seen, map[string]bool{})
		}
		groups[g] = append(groups[g], e)
		seen[g][id] = true
	}
	var docs []Doc
	for g, group := range groups {
		dir := testDir(p.Name)
		if g > 0 {
			dir += fmt.Sprintf("/case-%d", g+1)
		}
		t := cliTestFile{APIVersion: "cli.kyverno.io/v1alpha1", Kind: "Test", Metadata: testMeta{Name: path.Base(dir)},
			Policies: []string{rel(dir, p.Path)}, Resources: []string{"resources.yaml"}}
		if g > 0 {
			t.Metadata.Name = p.Name + "-" + path.Base(dir)
		}
		for _, ex := range p.Exceptions {
			t.Exceptions = append(t.Exceptions, rel(dir, ex.Path))
		}
		var objs []any
		for _, e := range group {
			objs = append(objs, e.Object)
			t.Results = append(t.Results, result(target, p, e))
		}
		docs = append(docs, Doc{Path: dir + "/kyverno-test.yaml", Objects: []any{t}}, Doc{Path: dir + "/resources.yaml", Objects: objs})
	}
	return docs, nil
}

// result is the expected result of an example in a Kyverno CLI test: per rule for ClusterPolicy,
// per policy for ValidatingPolicy, whose validations are not named.
func result(target kyverno.Target, p *kyverno.Policy, e exampleObject) testResult {
	kind, _ := e.Object["kind"].(string)
	r := testResult{Policy: p.Name, Kind: kind, Resources: []string{resourceID(e.Object)}, Result: e.Result}
	if e.Result == "pass" && p.PassIsExcluded(target, e.Rule) {
		r.Result = "skip"
	}
	if target == kyverno.ValidatingPolicy {
		r.IsValidatingPolicy = true
	} else {
		r.Rule = p.CPRuleName(e.Rule)
	}
	return r
}

// rel returns the path of target relative to dir (both slash-separated, relative to the pack).
func rel(dir, target string) string {
	up := strings.Repeat("../", strings.Count(dir, "/")+1)
	return path.Clean(up + target)
}
