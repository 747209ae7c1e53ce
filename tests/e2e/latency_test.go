//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/yaml"
)

// probeAnnotation is what the probe's updates change: an annotation that no policy looks at.
const probeAnnotation = "polc.dev/latency-probe"

// latencyOptions are the probe's settings, from the environment.
type latencyOptions struct {
	sizes   []int    // POLC_LATENCY_SIZES: modules of the generated repositories (default 10,200)
	targets []string // POLC_LATENCY_TARGETS: polc compile targets (default clusterpolicy,validatingpolicy)
	sample  int      // POLC_LATENCY_MODULES: modules whose objects are sent (default 10; one warms up)
	dryRuns int      // POLC_LATENCY_WARMUP: rounds of server-side dry-run creates in the warm-up (default 2)
	out     string   // POLC_LATENCY_OUT: a file to write the table to as well
}

func latencyOptionsFromEnv(t *testing.T) latencyOptions {
	o := latencyOptions{sizes: []int{10, 200}, targets: []string{"clusterpolicy", "validatingpolicy"}, sample: 10, dryRuns: 2,
		out: os.Getenv("POLC_LATENCY_OUT")}
	if s := os.Getenv("POLC_LATENCY_SIZES"); s != "" {
		o.sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(t, err, "POLC_LATENCY_SIZES=%s", s)
			require.Positive(t, n, "POLC_LATENCY_SIZES=%s", s)
			o.sizes = append(o.sizes, n)
		}
	}
	if s := os.Getenv("POLC_LATENCY_TARGETS"); s != "" {
		o.targets = strings.Split(s, ",")
	}
	for env, p := range map[string]*int{"POLC_LATENCY_MODULES": &o.sample, "POLC_LATENCY_WARMUP": &o.dryRuns} {
		if s := os.Getenv(env); s != "" {
			n, err := strconv.Atoi(s)
			require.NoError(t, err, "%s=%s", env, s)
			*p = n
		}
	}
	require.GreaterOrEqual(t, o.sample, 2, "POLC_LATENCY_MODULES: one module warms up, the others are measured")
	return o
}

// probeRepo is a generated repository and the objects the probe sends, as the cluster sees them.
type probeRepo struct {
	modules  int
	dir      string
	warmup   [][]map[string]any // per module, Namespaces first
	measured [][]map[string]any
}

// objects returns every object of the repository that the probe creates.
func (r *probeRepo) objects() []map[string]any {
	var out []map[string]any
	for _, objs := range append(slices.Clone(r.warmup), r.measured...) {
		out = append(out, objs...)
	}
	return out
}

// spread returns k indexes spread evenly over 0..n-1, first and last included.
func spread(n, k int) []int {
	if k >= n {
		k = n
	}
	if k == 1 {
		return []int{0}
	}
	out := make([]int, k)
	for i := range out {
		out[i] = int(math.Round(float64(i) * float64(n-1) / float64(k-1)))
	}
	return out
}

// generateProbeRepo writes the generated n-module repository and picks the objects to send: those
// of o.sample modules spread over the repository (by name), the last of which warms up.
func generateProbeRepo(t *testing.T, n int, o latencyOptions) *probeRepo {
	dir := t.TempDir()
	require.NoError(t, testutil.GenerateRepo(dir, n))
	res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All(), Now: time.Now()})
	require.NoError(t, err)
	errs := 0
	for _, f := range res.Findings {
		if f.Severity == rule.Error && !f.Excepted {
			errs++
		}
	}
	if errs > 0 {
		t.Logf("!! the generated %d-module repository has %d errors in polc check: some objects may be rejected", n, errs)
	}
	var mods []*module.Module
	for _, m := range res.Repo.Reported() {
		if m.Spec.Type != module.Component {
			mods = append(mods, m)
		}
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name() < mods[j].Name() })
	r := &probeRepo{modules: n, dir: dir}
	picked := spread(len(mods), o.sample)
	for i, idx := range picked {
		m := mods[idx]
		var objs []map[string]any
		for _, obj := range res.Repo.Objects[m.Name()] {
			doc, err := kyvernotest.AsCluster(res.Repo, m, obj)
			require.NoError(t, err)
			objs = append(objs, doc)
		}
		// Namespaces (and CRDs) first, as Flux applies them.
		sort.SliceStable(objs, func(a, b int) bool { return first(objs[a]) && !first(objs[b]) })
		if i == len(picked)-1 {
			r.warmup = append(r.warmup, objs)
		} else {
			r.measured = append(r.measured, objs)
		}
	}
	return r
}

func first(doc map[string]any) bool {
	return doc["kind"] == "Namespace" || doc["kind"] == "CustomResourceDefinition"
}

// latencyConfig is one measured configuration: a pack (none for the baseline) and the objects sent.
type latencyConfig struct {
	name   string // "no pack", "10-module pack"
	target string // "" for no pack
	repo   *probeRepo
	floor  bool // Kyverno's own floor: one trivial policy of target matching every kind, not polc's pack
}

// latencyRow is one line of the table.
type latencyRow struct {
	latencyConfig
	policies  int
	packBytes int
	requests  int
	refused   int
	durations []time.Duration
	load      string // the load average over the last minute, after measuring
}

// percentile returns the nearest-rank percentile p (0 < p <= 100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// TestAdmissionLatency measures admission latency at the API server: it creates and updates the
// rendered objects of generated repositories (10 and 200 modules) one request at a time, with no
// policy pack (the baseline) and with each target of the repository's compiled pack loaded, and
// prints p50, p99 and mean per configuration. It measures, it does not judge: run it with
// POLC_LATENCY=1 (make e2e-latency, hack/e2e/latency.sh).
func TestAdmissionLatency(t *testing.T) {
	if os.Getenv("POLC_LATENCY") == "" {
		t.Skip("set POLC_LATENCY=1 to measure admission latency (make e2e-latency)")
	}
	requireCluster(t)
	o := latencyOptionsFromEnv(t)
	c, err := newAPIClient(os.Getenv("KUBECONFIG"))
	require.NoError(t, err)
	polc := filepath.Join(root, "bin", "polc")
	require.FileExists(t, polc, "build it with: go build -o bin/polc ./cmd/polc")
	start := time.Now()
	logf := func(format string, args ...any) {
		t.Logf("[+%3.0fs] %s", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	removePolicies(t)
	base, hooks := waitWebhooks(t, c, "", false)
	logf("no polc policy in the cluster; Kyverno's webhook configurations: %s", hooks)

	repos := map[int]*probeRepo{}
	repoOf := func(n int) *probeRepo {
		if repos[n] == nil {
			t0 := time.Now()
			repos[n] = generateProbeRepo(t, n, o)
			logf("generated the %d-module repository and rendered it in %s", n, time.Since(t0).Round(100*time.Millisecond))
		}
		return repos[n]
	}
	configs := []latencyConfig{{name: "no pack", repo: repoOf(slices.Min(o.sizes))}}
	for _, target := range o.targets {
		configs = append(configs, latencyConfig{name: "1 trivial policy", target: target, repo: configs[0].repo, floor: true})
		for _, n := range o.sizes {
			configs = append(configs, latencyConfig{name: fmt.Sprintf("%d-module pack", n), target: target, repo: repoOf(n)})
		}
	}
	configs = append(configs, latencyConfig{name: "no pack (again)", repo: configs[0].repo})

	var rows []latencyRow
	for _, cfg := range configs {
		rows = append(rows, measureConfig(t, c, polc, cfg, o, base, logf))
	}
	table := latencyTable(rows)
	fmt.Print("\n" + table)
	if o.out != "" {
		require.NoError(t, os.WriteFile(o.out, []byte(table), 0o644))
	}
	for _, r := range rows {
		if r.refused > 0 {
			t.Errorf("%s %s: %d requests refused: the measured objects must pass the policies", r.name, r.target, r.refused)
		}
	}
}

// measureConfig loads the pack of cfg (none for the baseline), waits until Kyverno serves it, warms
// up, measures, and removes the objects and the pack again.
func measureConfig(t *testing.T, c *apiClient, polc string, cfg latencyConfig, o latencyOptions, base string,
	logf func(string, ...any)) latencyRow {
	label := cfg.name
	if cfg.target != "" {
		label += ", " + cfg.target
	}
	row := latencyRow{latencyConfig: cfg}
	if cfg.target != "" {
		dir := floorPack(t, cfg.target)
		if !cfg.floor {
			dir = compilePack(t, polc, cfg.repo.dir, cfg.target)
		}
		t0 := time.Now()
		row.policies, row.packBytes = loadPack(t, dir)
		logf("%s: %d policies (%d KiB as YAML) applied server-side and ready in %s", label, row.policies, row.packBytes>>10,
			time.Since(t0).Round(time.Second))
		defer func() {
			t0 := time.Now()
			mustKubectl(t, nil, "delete", "-k", dir, "--ignore-not-found", "--wait=true", "--timeout=300s")
			_, hooks := waitWebhooks(t, c, base, false)
			logf("%s: pack deleted, webhooks back to no pack (%s) in %s", label, hooks, time.Since(t0).Round(time.Second))
		}()
	}
	t0 := time.Now()
	_, hooks := waitWebhooks(t, c, base, cfg.target != "")
	logf("%s: webhook configurations updated and unchanged for 5 s (%s) after %s", label, hooks, time.Since(t0).Round(time.Second))

	defer deleteObjects(t, c, cfg.repo.objects(), label, logf)
	ctx := context.Background()
	t0 = time.Now()
	warm := 0
	for _, objs := range cfg.repo.warmup {
		for _, doc := range objs {
			_, _, err := createAndUpdate(ctx, c, doc)
			require.NoError(t, err, "%s: warm-up", label)
			warm += 2
		}
		for range o.dryRuns {
			for _, doc := range objs {
				require.NoError(t, dryRunCreate(ctx, c, doc), "%s: warm-up", label)
				warm++
			}
		}
	}
	logf("%s: warmed up with %d requests in %s", label, warm, time.Since(t0).Round(100*time.Millisecond))

	t0 = time.Now()
	byRequest := map[string][]time.Duration{}
	for _, objs := range cfg.repo.measured {
		for _, doc := range objs {
			d, n, err := createAndUpdate(ctx, c, doc)
			row.requests += n
			row.durations = append(row.durations, d...)
			for i, x := range d {
				key := fmt.Sprintf("%s %s", []string{"create", "update"}[i], doc["kind"])
				byRequest[key] = append(byRequest[key], x)
			}
			if err != nil {
				row.refused++
				if row.refused <= 3 {
					t.Logf("  %s: %v", label, err)
				}
			}
		}
	}
	slices.Sort(row.durations)
	row.load = loadAverage()
	logf("%s: %d requests in %s: p50 %s, p99 %s", label, row.requests, time.Since(t0).Round(100*time.Millisecond),
		ms(percentile(row.durations, 50)), ms(percentile(row.durations, 99)))
	for _, key := range slices.Sorted(maps.Keys(byRequest)) {
		d := byRequest[key]
		slices.Sort(d)
		logf("  %-24s %3d requests: p50 %s, p99 %s, max %s", key, len(d), ms(percentile(d, 50)), ms(percentile(d, 99)), ms(percentile(d, 100)))
	}
	return row
}

// floorPacks are Kyverno's floor for each target: one policy that matches every object the pack can
// and never denies, so that what Kyverno costs any policy set is told apart from what polc's adds.
var floorPacks = map[string]string{
	"clusterpolicy": `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: polc-latency-floor
spec:
  background: false
  rules:
  - name: floor
    match:
      any:
      - resources:
          kinds: ["*"]
    validate:
      failureAction: Enforce
      message: never denies
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.name || '' }}"
            operator: Equals
            value: polc-latency-floor-never
`,
	"validatingpolicy": `apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: polc-latency-floor
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: ["*"]
  validations:
  - expression: object.metadata.name != "polc-latency-floor-never"
    message: never denies
`,
}

// floorPack writes the floor pack of target into a new directory.
func floorPack(t *testing.T, target string) string {
	policy, ok := floorPacks[target]
	require.True(t, ok, "no floor policy for target %s", target)
	dir := filepath.Join(t.TempDir(), "floor")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "floor.yaml"), []byte(policy), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"),
		[]byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- floor.yaml\n"), 0o644))
	return dir
}

// compilePack runs polc compile on repo for target into a new directory.
func compilePack(t *testing.T, polc, repo, target string) string {
	dir := filepath.Join(t.TempDir(), "pack")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, polc, "compile", "--repo", repo, "--target", target, "--out", dir).CombinedOutput()
	require.NoError(t, err, "polc compile --target %s: %s", target, out)
	return dir
}

// policyReady maps the kinds of Kyverno policies to what `kubectl wait --for` waits for.
var policyReady = map[string]string{
	"clusterpolicy.kyverno.io":                            "condition=Ready",
	"policy.kyverno.io":                                   "condition=Ready",
	"globalcontextentry.kyverno.io":                       "condition=Ready",
	"validatingpolicy.policies.kyverno.io":                "jsonpath={.status.conditionStatus.ready}=true",
	"namespacedvalidatingpolicy.policies.kyverno.io":      "jsonpath={.status.conditionStatus.ready}=true",
	"mutatingpolicy.policies.kyverno.io":                  "jsonpath={.status.conditionStatus.ready}=true",
	"imagevalidatingpolicy.policies.kyverno.io":           "jsonpath={.status.conditionStatus.ready}=true",
	"namespacedimagevalidatingpolicy.policies.kyverno.io": "jsonpath={.status.conditionStatus.ready}=true",
}

// loadPack applies the pack in dir with server-side apply (some policies of large packs exceed
// the annotation that client-side apply writes), after creating the namespaces its namespaced
// objects live in, and waits until every policy is ready. It returns the number of policies and
// the size of the pack as kustomize builds it.
func loadPack(t *testing.T, dir string) (policies, size int) {
	built := mustKubectl(t, nil, "kustomize", dir)
	for _, ns := range packNamespaces(t, built) {
		if _, _, err := kubectl(nil, "get", "namespace", ns); err != nil {
			mustKubectl(t, nil, "create", "namespace", ns)
		}
	}
	out := mustKubectl(t, nil, "apply", "--server-side", "--force-conflicts", "--field-manager", "polc-latency",
		"-k", dir, "-o", "name")
	waits := map[string][]string{}
	for _, name := range strings.Fields(out) {
		kind, _, _ := strings.Cut(name, "/")
		if cond, ok := policyReady[kind]; ok {
			waits[cond] = append(waits[cond], name)
			if kind != "globalcontextentry.kyverno.io" {
				policies++
			}
		}
	}
	for _, cond := range []string{"condition=Ready", "jsonpath={.status.conditionStatus.ready}=true"} {
		if len(waits[cond]) > 0 {
			mustKubectl(t, nil, append([]string{"wait", "--for", cond, "--timeout", "300s"}, waits[cond]...)...)
		}
	}
	return policies, len(built)
}

// packNamespaces returns the namespaces of the namespaced objects in a YAML stream.
func packNamespaces(t *testing.T, stream string) []string {
	var out []string
	for _, doc := range strings.Split(stream, "\n---\n") {
		var obj struct {
			Metadata struct {
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj))
		if ns := obj.Metadata.Namespace; ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

// webhookFingerprint hashes what decides which requests reach Kyverno's webhooks (their rules and
// selectors, not their certificates), and describes them briefly.
func webhookFingerprint(c *apiClient) (string, string, error) {
	type webhook struct {
		Name              string          `json:"name"`
		Rules             json.RawMessage `json:"rules"`
		NamespaceSelector json.RawMessage `json:"namespaceSelector"`
		ObjectSelector    json.RawMessage `json:"objectSelector"`
		MatchConditions   json.RawMessage `json:"matchConditions"`
		FailurePolicy     string          `json:"failurePolicy"`
		SideEffects       string          `json:"sideEffects"`
		TimeoutSeconds    int             `json:"timeoutSeconds"`
	}
	type config struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Webhooks []webhook `json:"webhooks"`
	}
	var all []config
	for _, kind := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} {
		var list struct {
			Items []config `json:"items"`
		}
		if err := c.getJSON(context.Background(), "/apis/admissionregistration.k8s.io/v1/"+kind, &list); err != nil {
			return "", "", err
		}
		for _, item := range list.Items {
			if strings.HasPrefix(item.Metadata.Name, "kyverno-") {
				all = append(all, item)
			}
		}
	}
	b, err := json.Marshal(all)
	if err != nil {
		return "", "", err
	}
	hooks, rules := 0, 0
	sideEffects := map[string]bool{}
	for _, cfg := range all {
		for _, w := range cfg.Webhooks {
			hooks++
			var r []any
			_ = json.Unmarshal(w.Rules, &r)
			rules += len(r)
			sideEffects[w.SideEffects] = true
		}
	}
	se := make([]string, 0, len(sideEffects))
	for s := range sideEffects {
		se = append(se, s)
	}
	sort.Strings(se)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]),
		fmt.Sprintf("%d webhooks with %d rules, sideEffects %s", hooks, rules, strings.Join(se, ",")), nil
}

// waitWebhooks waits until Kyverno's webhook configurations have not changed for 5 s and, when
// changed is set, differ from base (those of no pack); without changed, it waits for base itself
// when base is set, for at most 60 s, then takes them as they are. It returns their fingerprint
// and description.
func waitWebhooks(t *testing.T, c *apiClient, base string, changed bool) (string, string) {
	const stable = 5
	deadline := time.Now().Add(3 * time.Minute)
	baseDeadline := time.Now().Add(time.Minute)
	last, same := "", 0
	for {
		fp, desc, err := webhookFingerprint(c)
		require.NoError(t, err)
		if fp == last {
			same++
		} else {
			last, same = fp, 0
		}
		if same >= stable {
			switch {
			case changed && fp != base:
				return fp, desc
			case !changed && (base == "" || fp == base || time.Now().After(baseDeadline)):
				return fp, desc
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Kyverno's webhook configurations did not settle within 3 minutes (changed from no pack: %v): %s", fp != base, desc)
		}
		time.Sleep(time.Second)
	}
}

// createAndUpdate creates doc and then updates it (one more annotation), timing each request. It
// returns the durations of the requests that succeeded, the number of requests sent, and the
// first refusal.
func createAndUpdate(ctx context.Context, c *apiClient, doc map[string]any) ([]time.Duration, int, error) {
	collection, item, err := c.objectPaths(ctx, doc)
	if err != nil {
		return nil, 0, err
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, 0, err
	}
	status, resp, d, err := c.do(ctx, http.MethodPost, collection, body)
	if err != nil {
		return nil, 1, err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return nil, 1, fmt.Errorf("create %s: %d %s", item, status, statusMessage(resp))
	}
	var created map[string]any
	if err := json.Unmarshal(resp, &created); err != nil {
		return nil, 1, fmt.Errorf("create %s: %w", item, err)
	}
	meta, _ := created["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
	}
	annotations[probeAnnotation] = "updated"
	meta["annotations"] = annotations
	if body, err = json.Marshal(created); err != nil {
		return []time.Duration{d}, 1, err
	}
	status, resp, u, err := c.do(ctx, http.MethodPut, item, body)
	if err != nil {
		return []time.Duration{d}, 2, err
	}
	if status != http.StatusOK {
		return []time.Duration{d}, 2, fmt.Errorf("update %s: %d %s", item, status, statusMessage(resp))
	}
	return []time.Duration{d, u}, 2, nil
}

// dryRunCreate sends doc as a server-side dry-run create: it passes through admission (Kyverno's
// webhooks declare no side effects) and nothing is stored. The API server finds that an object
// exists only after admission, so AlreadyExists means admitted.
func dryRunCreate(ctx context.Context, c *apiClient, doc map[string]any) error {
	collection, item, err := c.objectPaths(ctx, doc)
	if err != nil {
		return err
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	status, resp, _, err := c.do(ctx, http.MethodPost, collection+"?dryRun=All", body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated && status != http.StatusOK && status != http.StatusConflict {
		return fmt.Errorf("dry-run create %s: %d %s", item, status, statusMessage(resp))
	}
	return nil
}

// deleteObjects deletes what the probe created: the Namespaces (their objects go with them) and
// any other object outside them, and waits until they are gone.
func deleteObjects(t *testing.T, c *apiClient, objs []map[string]any, label string, logf func(string, ...any)) {
	ctx := context.Background()
	t0 := time.Now()
	namespaces := map[string]bool{}
	for _, doc := range objs {
		if doc["kind"] == "Namespace" {
			meta, _ := doc["metadata"].(map[string]any)
			name, _ := meta["name"].(string)
			namespaces[name] = true
		}
	}
	var items []string
	for _, doc := range objs {
		meta, _ := doc["metadata"].(map[string]any)
		if ns, _ := meta["namespace"].(string); ns != "" && namespaces[ns] {
			continue
		}
		_, item, err := c.objectPaths(ctx, doc)
		require.NoError(t, err)
		if status, resp, _, err := c.do(ctx, http.MethodDelete, item, nil); err != nil || (status >= 300 && status != http.StatusNotFound) {
			t.Errorf("%s: delete %s: %v %d %s", label, item, err, status, statusMessage(resp))
			continue
		}
		items = append(items, item)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for len(items) > 0 {
		status, _, _, err := c.do(ctx, http.MethodGet, items[0], nil)
		switch {
		case err == nil && status == http.StatusNotFound:
			items = items[1:]
			continue
		case time.Now().After(deadline):
			t.Fatalf("%s: %s still exists after 5 minutes", label, items[0])
		}
		time.Sleep(500 * time.Millisecond)
	}
	logf("%s: deleted the probe's objects (%d namespaces) in %s", label, len(namespaces), time.Since(t0).Round(100*time.Millisecond))
}

// loadAverage returns the machine's load average over the last minute, or "-": the latencies of a
// busy machine are not those of an idle one.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "-"
}

// latencyTable formats the rows and, per target, how the 200-module pack compares with the
// 10-module pack and with no pack (the goal of p99 within 2x and within a few milliseconds).
func latencyTable(rows []latencyRow) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "configuration\ttarget\tmodules\tpolicies\tpack KiB\trequests\trefused\tp50\tp99\tmean\tmax\tload")
	var noPack []time.Duration
	p99 := map[string]map[int]time.Duration{}
	floor := map[string]time.Duration{}
	for _, r := range rows {
		target, policies, size := "-", "-", "-"
		if r.floor {
			target, policies, size = r.target, strconv.Itoa(r.policies), strconv.Itoa(r.packBytes>>10)
			floor[r.target] = percentile(r.durations, 99)
		} else if r.target != "" {
			target, policies, size = r.target, strconv.Itoa(r.policies), strconv.Itoa(r.packBytes>>10)
			if p99[r.target] == nil {
				p99[r.target] = map[int]time.Duration{}
			}
			p99[r.target][r.repo.modules] = percentile(r.durations, 99)
		} else {
			noPack = append(noPack, percentile(r.durations, 99))
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", r.name, target, r.repo.modules, policies, size,
			r.requests, r.refused, ms(percentile(r.durations, 50)), ms(percentile(r.durations, 99)), ms(mean(r.durations)),
			ms(percentile(r.durations, 100)), r.load)
	}
	w.Flush()
	base := mean(noPack)
	targets := make([]string, 0, len(p99))
	for target := range p99 {
		targets = append(targets, target)
	}
	sort.Strings(targets)
	for _, target := range targets {
		sizes := slices.Sorted(maps.Keys(p99[target]))
		if len(sizes) < 2 {
			continue
		}
		lo, hi := sizes[0], sizes[len(sizes)-1]
		small, large := p99[target][lo], p99[target][hi]
		fmt.Fprintf(&b, "%s: p99 with the %d-module pack is %.2fx that with the %d-module pack (goal: at most 2x) and %+.1f ms from no pack (mean p99 %s; goal: a few ms)",
			target, hi, float64(large)/float64(small), lo, float64(large-base)/float64(time.Millisecond), ms(base))
		if f, ok := floor[target]; ok {
			fmt.Fprintf(&b, "; %+.1f ms from one trivial policy (p99 %s, what Kyverno costs any pack)", float64(large-f)/float64(time.Millisecond), ms(f))
		}
		b.WriteString("\n")
	}
	return b.String()
}
