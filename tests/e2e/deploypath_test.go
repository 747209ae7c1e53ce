//go:build e2e

// Package e2e holds the in-cluster tests that need a running API server with Kyverno's admission
// controller. hack/e2e/run.sh (make e2e) starts one, sets KUBECONFIG, and runs them with
// `go test -tags e2e ./tests/e2e/`.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/kyverno/pack"
	"polc.dev/polc/internal/kyverno/testgen"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/yaml"
)

// root is the repository root, relative to this package.
const root = "../.."

// policyHost is the starter module that installs Kyverno: the pack is applied after it.
const policyHost = "security-core"

// kubectl runs bin/kubectl with stdin and returns its standard output and error.
func kubectl(stdin []byte, args ...string) (string, string, error) {
	cmd := exec.Command(filepath.Join(root, "bin", "kubectl"), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func mustKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	out, stderr, err := kubectl(stdin, args...)
	require.NoError(t, err, "kubectl %s: %s", strings.Join(args, " "), stderr)
	return out
}

func requireCluster(t *testing.T) {
	if os.Getenv("KUBECONFIG") == "" {
		t.Fatal("KUBECONFIG is not set: these tests need the stack that hack/e2e/run.sh (make e2e) starts")
	}
}

// object is one object to send, in its in-cluster form.
type object struct {
	key    string // group/kind/namespace/name
	module string
	doc    map[string]any
}

func keyOf(group, kind, ns, name string) string { return group + "/" + kind + "/" + ns + "/" + name }

func (o object) kind() string { s, _ := o.doc["kind"].(string); return s }

func (o object) namespace() string {
	meta, _ := o.doc["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	if o.kind() == "Namespace" {
		ns, _ = meta["name"].(string)
	}
	return ns
}

// objectsOf returns the objects that Flux applies for module m, in their in-cluster form.
func objectsOf(t *testing.T, repo *rule.Repo, m *module.Module) []object {
	var out []object
	for _, o := range repo.Objects[m.Name()] {
		doc, err := kyvernotest.AsCluster(repo, m, o)
		require.NoError(t, err)
		// Two modules may render an object of the same name (a shared Namespace): the module tells them apart.
		out = append(out, object{key: keyOf(o.Ref.Group(), o.Ref.Kind, o.Ref.Namespace, o.Ref.Name) + "#" + m.Name(), module: m.Name(), doc: doc})
	}
	return out
}

// stream writes objects as one YAML stream; first puts Namespaces and CRDs before the rest.
func stream(t *testing.T, objs []object, first bool) []byte {
	var b bytes.Buffer
	for _, o := range objs {
		isFirst := o.kind() == "Namespace" || o.kind() == "CustomResourceDefinition"
		if isFirst != first {
			continue
		}
		y, err := yaml.Marshal(o.doc)
		require.NoError(t, err)
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

// applyModule applies a module's objects for real, Namespaces and CRDs first, as Flux would; every
// object must be admitted.
func applyModule(t *testing.T, name string, objs []object) {
	t.Helper()
	for _, first := range []bool{true, false} {
		if data := stream(t, objs, first); len(data) > 0 {
			if _, stderr, err := kubectl(data, "apply", "-f", "-"); err != nil {
				t.Errorf("module %s: not every object was admitted:\n%s", name, stderr)
			}
		}
	}
}

// removePolicies deletes every polc policy and PolicyException from the cluster.
func removePolicies(t *testing.T) {
	t.Helper()
	mustKubectl(t, nil, "delete", "--ignore-not-found", "-l", "app.kubernetes.io/managed-by=polc",
		"clusterpolicies.kyverno.io,validatingpolicies.policies.kyverno.io")
	mustKubectl(t, nil, "delete", "--ignore-not-found", "-A", "-l", "app.kubernetes.io/managed-by=polc",
		"policyexceptions.kyverno.io,policyexceptions.policies.kyverno.io")
}

// applyPack applies a pack with `kubectl apply -k`, as Flux does, and waits until every policy is
// ready; then it waits a moment more, for Kyverno's informers to see the PolicyExceptions (they
// have no status to wait for) and its webhook configuration to follow the new policies.
func applyPack(t *testing.T, dir string) {
	t.Helper()
	out := mustKubectl(t, nil, "apply", "-k", dir, "-o", "name")
	// A ClusterPolicy has a Ready condition; a ValidatingPolicy has status.conditionStatus.ready.
	cp := []string{"wait", "--for", "condition=Ready", "--timeout", "90s"}
	vp := []string{"wait", "--for", "jsonpath={.status.conditionStatus.ready}=true", "--timeout", "90s"}
	for _, name := range strings.Fields(out) {
		switch {
		case strings.HasPrefix(name, "clusterpolicy.kyverno.io/"):
			cp = append(cp, name)
		case strings.HasPrefix(name, "validatingpolicy.policies.kyverno.io/"):
			vp = append(vp, name)
		}
	}
	for _, args := range [][]string{cp, vp} {
		if len(args) > 5 {
			mustKubectl(t, nil, args...)
		}
	}
	time.Sleep(2 * time.Second)
}

// ensureNamespaces creates the namespaces that objects live in and that do not exist yet, plain,
// before any polc policy is in place.
func ensureNamespaces(t *testing.T, objs []object) {
	t.Helper()
	existing := map[string]bool{}
	for _, n := range strings.Fields(mustKubectl(t, nil, "get", "namespaces", "-o", "name")) {
		existing[strings.TrimPrefix(n, "namespace/")] = true
	}
	for _, o := range objs {
		meta, _ := o.doc["metadata"].(map[string]any)
		if ns, _ := meta["namespace"].(string); ns != "" && !existing[ns] {
			mustKubectl(t, nil, "create", "namespace", ns)
			existing[ns] = true
		}
	}
}

// verdict is what admission said of one object.
type verdict struct {
	rejected bool
	policies []string // the polc policies that the rejection names
	// apiServer is the API server's own refusal (object validation or a built-in admission
	// plugin such as PodSecurity's label check), which comes before Kyverno's webhooks.
	apiServer string
	err       string // any other error
}

// policyNamed finds the policies that a rejection names: "<policy>:" lines (ClusterPolicy, one
// webhook lists every failing policy) or "Policy <policy> failed" (ValidatingPolicy).
var policyNamed = regexp.MustCompile(`(?m)^(polc-[a-z0-9-]+):$|Policy (polc-[a-z0-9-]+) failed`)

// admit sends obj as a server-side dry-run create: it passes through admission as a create does
// and nothing is stored. "already exists" comes after admission, so it means admitted. It runs on
// worker goroutines, so it reports every problem in the verdict, never through the test.
func admit(o object) verdict {
	y, err := yaml.Marshal(o.doc)
	if err != nil {
		return verdict{err: "not sent: " + err.Error()}
	}
	_, stderr, err := kubectl(y, "create", "--dry-run=server", "-f", "-")
	switch {
	case err == nil, strings.Contains(stderr, "AlreadyExists"):
		return verdict{}
	case strings.Contains(stderr, "validate.kyverno.svc-fail") && strings.Contains(stderr, "denied the request"):
		var v verdict
		v.rejected = true
		for _, m := range policyNamed.FindAllStringSubmatch(stderr, -1) {
			v.policies = append(v.policies, m[1]+m[2])
		}
		sort.Strings(v.policies)
		return v
	case strings.Contains(stderr, " is invalid: ") || strings.Contains(stderr, " is forbidden: "):
		return verdict{rejected: true, apiServer: strings.TrimSpace(stderr)}
	}
	return verdict{err: "the API server answered: " + strings.TrimSpace(stderr)}
}

// TestDeploymentPath deploys the starter catalog as Flux would, then checks, on every test
// repository whose metadata loads, that admission rejects exactly the objects that polc check
// flags with an enforced, compiled rule, naming the same policies.
func TestDeploymentPath(t *testing.T) {
	requireCluster(t)
	t.Run("starter catalog", testStarterCatalog)
	for _, target := range []kyverno.Target{kyverno.ClusterPolicy, kyverno.ValidatingPolicy} {
		t.Run("test repositories/"+string(target), func(t *testing.T) { testRepositories(t, target) })
	}
}

func testStarterCatalog(t *testing.T) {
	repo, _, err := check.Load(root, builtin.All())
	require.NoError(t, err)
	require.Empty(t, check.Render(context.Background(), repo), "the starter catalog renders")
	waves, stuck := repo.Graph.Waves()
	require.Empty(t, stuck)
	removePolicies(t)

	host := repo.ByName[policyHost]
	require.NotNil(t, host, "the starter catalog has no module %s", policyHost)
	objs := objectsOf(t, repo, host)
	applyModule(t, host.Name(), objs)
	applied := len(objs)
	t.Logf("applied %s (%d objects: its namespaces and CRDs first)", host.Name(), len(objs))
	applyPack(t, filepath.Join(root, repo.Config.Spec.PoliciesDir))
	t.Logf("applied the policy pack %s/ with kubectl apply -k; every policy is ready", repo.Config.Spec.PoliciesDir)

	modules := 1
	for i, wave := range waves {
		for _, name := range wave {
			if name == policyHost {
				continue
			}
			objs := objectsOf(t, repo, repo.ByName[name])
			applyModule(t, name, objs)
			applied += len(objs)
			modules++
			t.Logf("wave %d: applied %s (%d objects)", i+1, name, len(objs))
		}
	}
	t.Logf("starter catalog: %d modules, %d objects applied in dependency order, all admitted: %v", modules, applied, !t.Failed())
}

// expected returns, per object key, the policies that must reject it: those of compiled rules
// whose findings polc check reports as errors (not excepted) for modules that enforce.
func expected(t *testing.T, res *check.Result) map[string][]string {
	compiled := map[string]bool{}
	for _, r := range builtin.All() {
		compiled[r.ID] = r.Policy != nil
	}
	out := map[string][]string{}
	for _, f := range res.Findings {
		if f.Object == nil || f.Excepted || f.Severity != rule.Error || !compiled[f.Rule] {
			continue
		}
		if m := res.Repo.ByName[f.Module]; m == nil || res.Repo.Config.ActionFor(m) != module.Enforce {
			continue
		}
		k := keyOf(f.Object.Group(), f.Object.Kind, f.Object.Namespace, f.Object.Name) + "#" + f.Module
		for _, c := range res.Repo.Config.Spec.Clusters {
			if strings.HasPrefix(f.Pos.File, strings.TrimSuffix(c, "/")+"/") {
				k = keyOf(f.Object.Group(), f.Object.Kind, f.Object.Namespace, f.Object.Name) + "@" + f.Pos.File
			}
		}
		p := kyverno.PolicyName(f.Rule)
		if !slices.Contains(out[k], p) {
			out[k] = append(out[k], p)
			sort.Strings(out[k])
		}
	}
	return out
}

// named reports whether a rejection names the policies it should: a ClusterPolicy rejection lists
// every failing policy; ValidatingPolicies may each have their own webhook, called in parallel, so
// the rejection names the one that answered first, which must be one of them.
func named(target kyverno.Target, got, want []string) bool {
	if target == kyverno.ClusterPolicy {
		return strings.Join(got, ",") == strings.Join(want, ",")
	}
	if len(got) == 0 {
		return false
	}
	for _, p := range got {
		if !slices.Contains(want, p) {
			return false
		}
	}
	return true
}

func testRepositories(t *testing.T, target kyverno.Target) {
	dir := filepath.Join(root, "tests", "testdata", "repos")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var repos, sent, rejected, flagged, ignored int
	var disagreements []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		start := time.Now()
		res, err := check.Run(context.Background(), check.Options{Root: path, Rules: builtin.All(), Now: time.Now()})
		if err != nil {
			t.Logf("%s: skipped, its metadata does not load: %v", e.Name(), firstLine(err.Error()))
			continue
		}
		pk, err := pack.Build(res.Repo, builtin.All(), kyverno.Options{Target: target})
		if err != nil {
			t.Logf("%s: skipped, polc compile refuses it: %v", e.Name(), strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		if len(pk.Policies) == 0 {
			t.Logf("%s: skipped, no rule compiles for it", e.Name())
			continue
		}
		packDir := t.TempDir()
		require.NoError(t, pk.Write(packDir))

		var objs []object
		for _, m := range res.Repo.Modules {
			if res.Repo.ByName[m.Name()] == m && m.Spec.Type != module.Component {
				objs = append(objs, objectsOf(t, res.Repo, m)...)
			}
		}
		for _, o := range res.Repo.Clusters {
			doc, err := kyvernotest.EntryPointAsCluster(o)
			require.NoError(t, err)
			// Entry points of several clusters may hold objects of the same name: the file tells them apart.
			objs = append(objs, object{key: keyOf(o.Ref.Group(), o.Ref.Kind, o.Ref.Namespace, o.Ref.Name) + "@" + o.Pos.File, doc: doc})
		}
		removePolicies(t)
		ensureNamespaces(t, objs)
		applyPack(t, packDir)
		want := expected(t, res)

		verdicts := make([]verdict, len(objs))
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					verdicts[i] = admit(objs[i])
				}
			}()
		}
		for i := range objs {
			if !slices.Contains(testgen.IgnoredNamespaces, objs[i].namespace()) {
				next <- i
			}
		}
		close(next)
		wg.Wait()

		repos++
		var r, f, d int
		for i, o := range objs {
			if slices.Contains(testgen.IgnoredNamespaces, o.namespace()) {
				ignored++
				continue
			}
			sent++
			v, w := verdicts[i], want[o.key]
			if len(w) > 0 {
				f++
			}
			if v.rejected {
				r++
			}
			if v.apiServer != "" {
				t.Logf("  %s: %s: refused by the API server before Kyverno's webhooks (polc check flags it with %v): %s", e.Name(), o.key, w, firstLine(v.apiServer))
			}
			switch {
			case v.err != "":
				d++
				disagreements = append(disagreements, fmt.Sprintf("%s: %s: %s", e.Name(), o.key, v.err))
			case v.rejected != (len(w) > 0) || (v.rejected && v.apiServer == "" && !named(target, v.policies, w)):
				d++
				disagreements = append(disagreements, fmt.Sprintf("%s: %s: polc check flags it with %v; admission rejected=%v naming %v",
					e.Name(), o.key, w, v.rejected, v.policies))
			}
		}
		rejected += r
		flagged += f
		t.Logf("%-40s %3d objects, %2d flagged by polc check, %2d rejected at admission, %d disagreements (%s)",
			e.Name(), len(objs), f, r, d, time.Since(start).Round(100*time.Millisecond))
		for _, x := range disagreements[len(disagreements)-d:] {
			t.Log("  " + x)
		}
	}
	removePolicies(t)
	for _, d := range disagreements {
		t.Error(d)
	}
	t.Logf("deployment path (%s): %d repositories, %d objects sent through admission (%d in namespaces Kyverno ignores by default were not), "+
		"%d flagged by polc check, %d rejected, %d disagreements", target, repos, sent, ignored, flagged, rejected, len(disagreements))
	require.Positive(t, flagged, "no test repository has an object that polc check flags: the comparison proves nothing")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
