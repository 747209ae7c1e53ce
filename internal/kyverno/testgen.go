package kyverno

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// testResult is one expected result of a Kyverno CLI test (cli.kyverno.io/v1alpha1 Test).
type testResult struct {
	Policy             string   `json:"policy"`
	Rule               string   `json:"rule,omitempty"`
	IsValidatingPolicy bool     `json:"isValidatingPolicy,omitempty"`
	Kind               string   `json:"kind"`
	Resources          []string `json:"resources"`
	Result             string   `json:"result"`
}

// cliTest is a kyverno-test.yaml.
type cliTest struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   objectMeta   `json:"metadata"`
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

// TestDir is where the Kyverno CLI test of a policy lives in the pack.
func TestDir(policy string) string { return "tests/" + policy }

// Example is an object of a generated test and the result it must have.
type Example struct {
	// Rule is the per-module rule the example is for.
	Rule *ModuleRule
	// Object is the example object.
	Object map[string]any
	// Result is pass, fail or skip (an excepted object).
	Result string
}

// Examples returns the example objects of a policy: each rule's pass and fail objects, and for
// each exception an object it excepts (made from the rule's failing example), in a stable order.
func Examples(p *Policy) ([]Example, error) {
	var out []Example
	for i := range p.Rules {
		r := &p.Rules[i]
		if len(r.Fail) == 0 {
			return nil, fmt.Errorf("rule %s has no failing example", r.Name)
		}
		for _, o := range r.Pass {
			out = append(out, Example{Rule: r, Object: o, Result: "pass"})
		}
		for _, o := range r.Fail {
			out = append(out, Example{Rule: r, Object: o, Result: "fail"})
		}
	}
	for _, ex := range p.Exceptions {
		for _, ref := range ex.Source.Resources {
			r := exampleRule(p, ex.Module, ref.Kind)
			if r == nil {
				continue
			}
			out = append(out, Example{Rule: r, Object: retarget(r, r.Fail[0], ref), Result: "skip"})
		}
	}
	return out, nil
}

// exampleRule picks the rule of module m whose failing example an excepted object of kind is
// made from: a pod rule for pod kinds, else the first rule of m.
func exampleRule(p *Policy, m *module.Module, kind string) *ModuleRule {
	var first *ModuleRule
	for i := range p.Rules {
		r := &p.Rules[i]
		if r.Module != m || len(r.Fail) == 0 {
			continue
		}
		if first == nil {
			first = r
		}
		for _, k := range r.Kinds {
			if k.Kind == kind || k.Kind == "*" || (r.IsPodRule() && contains(podControllers, kind)) {
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
	switch o["kind"] {
	case "Pod":
		return map[string]any{"metadata": map[string]any{}, "spec": o["spec"]}
	case "CronJob":
		return get(o, "spec", "jobTemplate", "spec", "template")
	}
	return get(o, "spec", "template")
}

// apiVersions of the kinds an excepted object is commonly of.
var apiVersions = map[string]string{
	"Pod": "v1", "ReplicationController": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
	"ServiceAccount": "v1", "Namespace": "v1", "PersistentVolumeClaim": "v1",
	"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
	"Job": "batch/v1", "CronJob": "batch/v1",
	"ClusterRole": "rbac.authorization.k8s.io/v1", "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
	"Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
	"HelmRelease": "helm.toolkit.fluxcd.io/v2", "Kustomization": "kustomize.toolkit.fluxcd.io/v1",
}

// retarget turns a rule's failing example into the excepted object ref: same content, the
// kind, name and namespace of ref. Pod templates are moved to where ref's kind keeps them.
func retarget(r *ModuleRule, fail map[string]any, ref module.ResourceRef) map[string]any {
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
		spec := map[string]any{}
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
	if v, ok := apiVersions[ref.Kind]; ok {
		o["apiVersion"] = v
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

// testFiles generates the Kyverno CLI test of a policy: kyverno-test.yaml and resources.yaml in
// tests/<policy>/, and in tests/<policy>/case-N/ for examples that share a kind and name with an
// earlier one (a passing and a failing Namespace of the same name).
func testFiles(repo *rule.Repo, b backend, p *Policy) ([]File, error) {
	exs, err := Examples(p)
	if err != nil {
		return nil, err
	}
	var groups [][]Example
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
	var files []File
	for g, group := range groups {
		dir := TestDir(p.Name)
		if g > 0 {
			dir += fmt.Sprintf("/case-%d", g+1)
		}
		t := cliTest{APIVersion: "cli.kyverno.io/v1alpha1", Kind: "Test", Metadata: objectMeta{Name: path.Base(dir)},
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
			t.Results = append(t.Results, b.results(p, e.Rule, e.Object, e.Result)...)
		}
		res, err := marshalAll(objs)
		if err != nil {
			return nil, err
		}
		test, err := marshal(t)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: dir + "/kyverno-test.yaml", Data: test}, File{Path: dir + "/resources.yaml", Data: res})
	}
	_ = repo
	return files, nil
}

// rel returns the path of target relative to dir (both slash-separated, relative to the pack).
func rel(dir, target string) string {
	up := strings.Repeat("../", strings.Count(dir, "/")+1)
	return path.Clean(up + target)
}
