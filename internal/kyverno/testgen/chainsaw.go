package testgen

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/yaml"
)

// This file generates the in-cluster test of each policy: tests/<policy>/chainsaw-test.yaml, a
// kyverno chainsaw test that runs against a cluster with Kyverno's admission controller. It uses
// the same example objects as the Kyverno CLI test:
//
//  1. the pack is applied as Flux applies it (`kubectl apply -k` of the pack's directory) and the
//     policy under test reports ready;
//  2. the namespaces of the examples exist (with the Pod Security label their module declares),
//     and a test-only PolicyException in the exception namespace lifts the pack's other policies
//     from the example objects, so that each example meets the policy under test alone, as in the
//     Kyverno CLI test;
//  3. passing examples are admitted, failing ones are rejected with a message that names the
//     policy and the rule (Enforce), or admitted and reported in a PolicyReport (Audit), and the
//     objects of module exceptions are admitted through the compiled PolicyException.
//
// Apart from Audit violations, which must exist for Kyverno to report them, every example is
// sent as a server-side dry run: it passes through admission exactly like a create, but nothing is
// stored, so tests can run in parallel and the cluster is left as it was.

// ChainsawTestFile is the file name of a policy's in-cluster test in its test directory.
const ChainsawTestFile = "chainsaw-test.yaml"

// testLabel marks the example objects that a policy's in-cluster test sends, with the policy's
// name as value: its isolation exception matches them by it, so that tests running in parallel,
// whose examples may share names (a Namespace), never lift policies from each other's objects.
const testLabel = "chainsaw.polc.dev/test"

// marked returns a copy of an example object carrying testLabel for policy p.
func marked(obj map[string]any, p *kyverno.Policy) map[string]any {
	o := clone(obj)
	meta, _ := o["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		meta["labels"] = labels
	}
	labels[testLabel] = p.Name
	return o
}

// isolationName names the test-only PolicyException of a policy's in-cluster test.
func isolationName(p *kyverno.Policy) string {
	return kyverno.Shorten("polc-test-" + strings.TrimPrefix(p.Name, "polc-"))
}

// chainsawTest generates the in-cluster test of policy p of a pack made of all.
func chainsawTest(repo *rule.Repo, target kyverno.Target, p *kyverno.Policy, all []*kyverno.Policy) (Doc, error) {
	examples, err := examplesOf(p)
	if err != nil {
		return Doc{}, err
	}
	// Each test labels its examples, so that its isolation exception matches them and no other.
	var exs []exampleObject
	for _, e := range examples {
		if !inIgnoredNamespace(e.Object) {
			e.Object = marked(e.Object, p)
			exs = append(exs, e)
		}
	}
	dir := testDir(p.Name)
	steps := []any{
		step("the pack is applied as Flux applies it, and "+p.Name+" is ready",
			script(retryApply(rel(dir, "."))),
			readyAssert(target, p.Name)),
	}
	var setup []any
	if ns := exampleNamespaces(repo, exs); ns != "" {
		// Server-side apply: tests run in parallel and share namespaces, and a client-side apply
		// (get, then create) of a namespace that another test creates at the same moment fails
		// with AlreadyExists; a server-side apply creates or updates in one request.
		setup = append(setup, script("kubectl apply --server-side --force-conflicts --field-manager=polc-test -f - <<'EOF'\n"+ns+"EOF\n"))
	}
	if iso := isolation(target, p, all, exs); iso != nil {
		// Kyverno learns of a new PolicyException through its informers, which takes a moment and
		// has no status to wait for.
		setup = append(setup, map[string]any{"apply": map[string]any{"resource": iso}},
			map[string]any{"sleep": map[string]any{"duration": "5s"}})
	}
	if len(setup) > 0 {
		steps = append(steps, step("the examples' namespaces exist, and the pack's other policies do not apply to the examples", setup...))
	}
	var pass, reject, audit, auditReports, excepted []any
	for _, e := range exs {
		switch {
		case e.Result == "pass":
			pass = append(pass, dryRun(e.Object, nil))
		case e.Result == "skip":
			excepted = append(excepted, dryRun(e.Object, nil))
		case e.Rule.Action == module.Audit && e.Object["kind"] != "Namespace":
			// A real object: Kyverno reports only what was stored. Namespaces stay dry runs, as the
			// test's namespaces have the same names.
			audit = append(audit, map[string]any{"apply": map[string]any{"resource": e.Object}})
			auditReports = append(auditReports, reportAssert(target, p, e))
		case e.Rule.Action == module.Audit:
			audit = append(audit, dryRun(e.Object, nil))
		default:
			reject = append(reject, dryRun(e.Object, rejectCheck(target, p, e.Rule)))
		}
	}
	if len(pass) > 0 {
		steps = append(steps, step("passing examples are admitted", pass...))
	}
	if len(reject) > 0 {
		steps = append(steps, step("failing examples are rejected, naming the policy and the rule", reject...))
	}
	if len(audit) > 0 {
		steps = append(steps, step("failing examples that the policy audits (Audit action) are admitted and reported in a PolicyReport", append(audit, auditReports...)...))
	}
	if len(excepted) > 0 {
		steps = append(steps, step("the objects of module exceptions are admitted through the compiled PolicyException", excepted...))
	}
	test := map[string]any{
		"apiVersion": "chainsaw.kyverno.io/v1alpha1",
		"kind":       "Test",
		"metadata":   map[string]any{"name": p.Name},
		"spec": map[string]any{
			"description": fmt.Sprintf("In-cluster test of %s (polc rule %s): its examples meet the Kyverno admission controller. "+
				"Examples in %s are left out: Kyverno's default resourceFilters leave those namespaces alone.", p.Name, p.Rule.ID, strings.Join(IgnoredNamespaces, ", ")),
			"steps": steps,
			// Resources are sent as they are: chainsaw would otherwise evaluate string values in
			// parentheses, such as a CEL expression, as JMESPath.
			"template": false,
		},
	}
	return Doc{Path: dir + "/" + ChainsawTestFile, Objects: []any{test}}, nil
}

func step(name string, ops ...any) map[string]any {
	return map[string]any{"name": name, "try": ops}
}

// scriptTimeout bounds a script: `kubectl apply -k` of a large pack takes longer than chainsaw's
// default of 5 seconds.
const scriptTimeout = "2m"

func script(content string) map[string]any {
	return map[string]any{"script": map[string]any{"content": content, "timeout": scriptTimeout}}
}

// IgnoredNamespaces are the namespaces that Kyverno's default resourceFilters (the kyverno
// ConfigMap) leave alone: its admission controller never sees their objects, so an in-cluster
// test cannot judge examples there. The Kyverno CLI tests still cover them.
var IgnoredNamespaces = []string{"kube-node-lease", "kube-public", "kube-system", kyverno.ExceptionNamespace}

// inIgnoredNamespace reports whether Kyverno leaves obj alone by default: a Namespace of that
// name, or an object in one.
func inIgnoredNamespace(obj map[string]any) bool {
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	if obj["kind"] == "Namespace" {
		ns, _ = meta["name"].(string)
	}
	return slices.Contains(IgnoredNamespaces, ns)
}

// dryRun sends obj as a server-side dry run; check, when set, expects it to fail that way.
//
// A Namespace example goes through `kubectl create --dry-run=server`: the namespace may exist
// already (the tests create the examples' namespaces), and chainsaw would then patch it, merging
// the example into the existing object, while a create request carries the example as it is.
// Admission runs before the API server finds that the object exists, so "already exists" means
// admitted.
func dryRun(obj map[string]any, check map[string]any) map[string]any {
	if obj["kind"] == "Namespace" {
		y, err := yaml.Marshal(obj)
		if err != nil {
			panic(err) // example objects are plain data
		}
		if check == nil {
			check = map[string]any{"($error == null || contains($stderr, 'AlreadyExists'))": true}
		} else {
			check = stderrCheck(check)
		}
		return map[string]any{"script": map[string]any{
			"content": "kubectl create --dry-run=server -f - <<'EOF'\n" + string(y) + "EOF\n",
			"check":   check,
			"timeout": scriptTimeout,
		}}
	}
	op := map[string]any{"dryRun": true, "resource": obj}
	if check != nil {
		op["expect"] = []any{map[string]any{"check": check}}
	}
	return map[string]any{"apply": op}
}

// stderrCheck turns a check of an operation's $error into one of a script's $stderr.
func stderrCheck(check map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range check {
		out[strings.ReplaceAll(k, "contains($error,", "contains($stderr,")] = v
	}
	return out
}

// readyAssert waits until the policy reports ready: a Ready condition for ClusterPolicy,
// status.conditionStatus.ready for ValidatingPolicy.
func readyAssert(target kyverno.Target, name string) map[string]any {
	if target == kyverno.ValidatingPolicy {
		return map[string]any{"assert": map[string]any{"resource": map[string]any{
			"apiVersion": "policies.kyverno.io/v1", "kind": "ValidatingPolicy", "metadata": map[string]any{"name": name},
			"status": map[string]any{"conditionStatus": map[string]any{"ready": true}},
		}}}
	}
	return map[string]any{"assert": map[string]any{"resource": map[string]any{
		"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": map[string]any{"name": name},
		"status": map[string]any{"(conditions[?type == 'Ready'])": []any{map[string]any{"status": "True"}}},
	}}}
}

// rejectCheck is what a rejection says: Kyverno's webhook denied the request, and its message
// names the policy and (ClusterPolicy) the rule, as "<policy>:\n  <rule>: <message>".
func rejectCheck(target kyverno.Target, p *kyverno.Policy, r *kyverno.ModuleRule) map[string]any {
	if target == kyverno.ValidatingPolicy {
		return map[string]any{
			"($error != null)": true,
			"(contains($error, 'vpol.validate.kyverno.svc-fail'))": true,
			"(contains($error, 'Policy " + p.Name + " failed'))":   true,
		}
	}
	return map[string]any{
		"($error != null)": true,
		"(contains($error, 'validate.kyverno.svc-fail'))":   true,
		"(contains($error, '" + p.Name + ":'))":             true,
		"(contains($error, '  " + p.CPRuleName(r) + ": '))": true,
	}
}

// reportAssert waits for the PolicyReport entry of an audited example: Kyverno's reports
// controller writes one per object, with a fail result for the policy (and rule).
func reportAssert(target kyverno.Target, p *kyverno.Policy, e exampleObject) map[string]any {
	meta, _ := e.Object["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	filter := "policy == '" + p.Name + "' && result == 'fail'"
	if target == kyverno.ClusterPolicy {
		filter += " && rule == '" + p.CPRuleName(e.Rule) + "'"
	}
	res := map[string]any{
		"apiVersion": "wgpolicyk8s.io/v1alpha2",
		"kind":       "ClusterPolicyReport",
		"scope":      map[string]any{"kind": e.Object["kind"], "name": meta["name"]},
		"(length(results[?" + filter + "]) > `0`)": true,
	}
	if ns != "" {
		res["kind"] = "PolicyReport"
		res["metadata"] = map[string]any{"namespace": ns}
	}
	return map[string]any{"assert": map[string]any{"timeout": "90s", "resource": res}}
}

// exampleNamespaces returns the Namespace objects (YAML) that the namespaced examples live in,
// each labelled with the Pod Security level that its owning module declares, so that creating
// them meets security/namespace-psa. Namespaces are created once and left in place: examples of
// several tests share them.
func exampleNamespaces(repo *rule.Repo, exs []exampleObject) string {
	levels := map[string]module.Level{}
	for _, m := range repo.Deployable() {
		for _, n := range m.Spec.Namespaces {
			if _, ok := levels[n.Name]; !ok {
				levels[n.Name] = n.Level()
			}
		}
	}
	seen := map[string]bool{}
	var names []string
	for _, e := range exs {
		meta, _ := e.Object["metadata"].(map[string]any)
		if ns, _ := meta["namespace"].(string); ns != "" && !seen[ns] {
			seen[ns] = true
			names = append(names, ns)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for i, ns := range names {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
		if l, ok := levels[ns]; ok {
			fmt.Fprintf(&b, "  labels:\n    pod-security.kubernetes.io/enforce: %s\n", l)
		}
	}
	return b.String()
}

// isolation is the test-only PolicyException that lifts every other policy of the pack from the
// examples of p (nil when the pack has no other policy). It lives in the exception namespace next
// to the compiled exceptions, and chainsaw deletes it when the test ends.
func isolation(target kyverno.Target, p *kyverno.Policy, all []*kyverno.Policy, exs []exampleObject) any {
	var others []string
	for _, o := range all {
		if o.Name != p.Name {
			others = append(others, o.Name)
		}
	}
	if len(others) == 0 {
		return nil
	}
	type ref struct{ kind, ns, name string }
	seen := map[ref]bool{}
	var refs []ref
	for _, e := range exs {
		meta, _ := e.Object["metadata"].(map[string]any)
		kind, _ := e.Object["kind"].(string)
		ns, _ := meta["namespace"].(string)
		name, _ := meta["name"].(string)
		if r := (ref{kind, ns, name}); !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	meta := map[string]any{"name": isolationName(p), "namespace": kyverno.ExceptionNamespace,
		"annotations": map[string]any{"polc.dev/reason": "test only: each example meets " + p.Name + " alone, as in its Kyverno CLI test"}}
	if target == kyverno.ValidatingPolicy {
		var objs []string
		for _, r := range refs {
			c := `object.kind == ` + expr.CELString(r.kind) + ` && object.metadata.name == ` + expr.CELString(r.name) +
				` && has(object.metadata.labels) && ` + expr.CELString(testLabel) + ` in object.metadata.labels && object.metadata.labels[` +
				expr.CELString(testLabel) + `] == ` + expr.CELString(p.Name)
			if r.ns != "" {
				c += ` && ` + expr.CELNamespaceIs(r.ns)
			}
			objs = append(objs, "("+c+")")
		}
		var pr []any
		for _, o := range others {
			pr = append(pr, map[string]any{"name": o, "kind": "ValidatingPolicy"})
		}
		return map[string]any{"apiVersion": "policies.kyverno.io/v1", "kind": "PolicyException", "metadata": meta,
			"spec": map[string]any{"policyRefs": pr, "matchConditions": []any{map[string]any{
				"name": "examples", "expression": strings.Join(objs, " || ")}}}}
	}
	var filters []any
	for _, r := range refs {
		d := map[string]any{"kinds": []any{r.kind}, "names": []any{r.name},
			"selector": map[string]any{"matchLabels": map[string]any{testLabel: p.Name}}}
		if r.ns != "" {
			d["namespaces"] = []any{r.ns}
		}
		filters = append(filters, map[string]any{"resources": d})
	}
	var ex []any
	for _, o := range others {
		ex = append(ex, map[string]any{"policyName": o, "ruleNames": []any{"*"}})
	}
	return map[string]any{"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": meta,
		"spec": map[string]any{"exceptions": ex, "match": map[string]any{"any": filters}}}
}

// retryApply is a script that applies the kustomization dir, polling for up to 60 s while the API
// server refuses it (the policy CRDs or Kyverno's webhooks may still be starting), so a test never
// waits a fixed time nor fails on a transient refusal.
func retryApply(dir string) string {
	return "for i in $(seq 60); do kubectl apply -k " + dir + " && exit 0; sleep 1; done; exit 1"
}
