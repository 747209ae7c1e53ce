// Package parity proves that the compiled policy pack gives polc's offline verdicts: for every
// resource rule, it renders the test repositories and the real-world corpus, runs polc's offline
// checks and `kyverno apply` of the compiled policies (both targets) on the same objects, the
// Flux Kustomizations of the cluster entry points included, and compares the verdict per (object,
// rule). Every compiled rule must have failing and passing pairs, and a mutant policy that never
// rejects must be caught. It needs the pinned Kyverno CLI in bin/ (make kyverno) and skips, saying
// so loudly, without it.
package parity

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/kyverno/pack"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kyvernoBin returns the pinned Kyverno CLI, or skips the test.
func kyvernoBin(t *testing.T) string {
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin", "kyverno"))
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		testutil.SkipOrFail(t, "PARITY NOT TESTED: bin/kyverno is missing: build it with `make kyverno` (about 10 minutes)")
	}
	return bin
}

// targets are the compiled targets that parity compares.
var targets = []kyverno.Target{kyverno.ClusterPolicy, kyverno.ValidatingPolicy}

// ruleCount counts the compared (object, rule) pairs of one rule by offline verdict.
type ruleCount struct{ failing, passing int }

// totals count what was compared.
type totals struct {
	repos, objects, entries, pairs int
	disagreements                  []string
	perRule                        map[string]*ruleCount
}

func newTotals() *totals { return &totals{perRule: map[string]*ruleCount{}} }

// count records one compared pair of rule id.
func (tot *totals) count(id string, fail bool) {
	c := tot.perRule[id]
	if c == nil {
		c = &ruleCount{}
		tot.perRule[id] = c
	}
	tot.pairs++
	if fail {
		c.failing++
	} else {
		c.passing++
	}
}

// uncovered names the rules with a compiled form that lack a failing or a passing compared pair:
// parity has not shown that their policies reject what the offline check rejects, or admit what
// it admits.
func uncovered(all []rule.Rule, tot *totals) []string {
	var out []string
	for _, r := range all {
		if r.Policy == nil {
			continue
		}
		c := tot.perRule[r.ID]
		if c == nil {
			c = &ruleCount{}
		}
		if c.failing == 0 || c.passing == 0 {
			out = append(out, fmt.Sprintf("%s (%d failing, %d passing)", r.ID, c.failing, c.passing))
		}
	}
	return out
}

// TestParity compares the offline verdicts with kyverno apply of each compiled target on every
// input (POLC_PARITY_ONLY=TEXT keeps the inputs whose name contains TEXT), and requires that every
// rule with a compiled form has failing and passing pairs.
func TestParity(t *testing.T) {
	bin := kyvernoBin(t)
	want, _, err := readGolden()
	require.NoError(t, err)
	var inputs []input
	only := os.Getenv("POLC_PARITY_ONLY")
	if only != "" {
		testutil.MissingOrFail(t, "POLC_PARITY_ONLY="+only+" narrows the compared inputs; unset it to compare all of them")
	}
	for _, in := range loadInputs(t) {
		switch {
		case in.loadErr != nil || in.compileErr != nil:
			// Only inputs that inputs.golden says do not load or compile may stay out.
			if line := want[in.name]; !strings.HasSuffix(line, "does not load") && !strings.HasSuffix(line, "does not compile") {
				t.Errorf("%s is not compared: it does not load or compile: %v%v", in.name, in.loadErr, in.compileErr)
			}
		case strings.Contains(in.name, only):
			inputs = append(inputs, in)
		}
	}
	require.NotEmpty(t, inputs)
	for _, target := range targets {
		t.Run(string(target), func(t *testing.T) {
			t.Parallel()
			tot := newTotals()
			for _, in := range inputs {
				compare(t, bin, in, target, tot)
			}
			logTotals(t, target, tot)
			for _, d := range tot.disagreements {
				t.Error(d)
			}
			if only != "" {
				t.Logf("!!! POLC_PARITY_ONLY=%s: not checking that every compiled rule has failing and passing pairs", only)
				return
			}
			if miss := uncovered(builtin.All(), tot); len(miss) > 0 {
				t.Errorf("%s: compiled rules without both a failing and a passing compared (object, rule) pair: %s; add inputs that exercise them (tests/parity/testdata/repos)",
					target, strings.Join(miss, ", "))
			}
		})
	}
}

// logTotals logs what was compared, per rule.
func logTotals(t *testing.T, target kyverno.Target, tot *totals) {
	t.Logf("%s: compared %d (object, rule) pairs over %d objects (%d of cluster entry points) of %d repositories; %d disagreements",
		target, tot.pairs, tot.objects, tot.entries, tot.repos, len(tot.disagreements))
	var ids []string
	for id := range tot.perRule {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t.Logf("  %-28s %d failing, %d passing", id, tot.perRule[id].failing, tot.perRule[id].passing)
	}
}

// maxVPModules bounds the repositories compared for the ValidatingPolicy target by default.
const maxVPModules = 40

// verdict is one engine's verdict on one (object, rule) pair.
type verdict struct {
	fail bool
	msg  string
}

// subject is one object as the cluster sees it, and the module whose rules judge it.
type subject struct {
	m   *module.Module
	o   *manifest.Object
	key string
	doc map[string]any
	// entry is true for a Flux Kustomization of a cluster entry point (polc.yaml spec.clusters)
	// that deploys module m: offline, only the rules with ClusterObjects judge it.
	entry bool
}

// entryPoint returns the module that a cluster entry-point object deploys, when it is the Flux
// Kustomization of a module, as polc check finds it; else nil.
func entryPoint(repo *rule.Repo, o *manifest.Object) *module.Module {
	if o.Ref.Group() != flux.Group || o.Ref.Kind != flux.Kind {
		return nil
	}
	return flux.ModuleOf(repo, o.Ref.Name)
}

// subjects returns the rendered objects of every module, labelled as Flux labels what it applies,
// then the Flux Kustomizations of the cluster entry points that deploy a module, labelled as the
// entry point's own Kustomization labels them.
func subjects(in input) ([]subject, error) {
	var out []subject
	add := func(m *module.Module, o *manifest.Object, doc map[string]any, err error, entry bool) error {
		if err != nil {
			return fmt.Errorf("%s: %s %s: %w", in.name, o.Pos, o.Ref, err)
		}
		out = append(out, subject{m: m, o: o, doc: doc, entry: entry,
			key: identity(o.Ref.Group(), o.Ref.Kind, o.Ref.Namespace, o.Ref.Name)})
		return nil
	}
	for _, m := range in.repo.Modules {
		if in.repo.ByName[m.Name()] != m || m.Spec.Type == module.Component {
			continue
		}
		for _, o := range in.repo.Objects[m.Name()] {
			doc, err := kyvernotest.AsCluster(in.repo, m, o)
			if err := add(m, o, doc, err, false); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range in.repo.Clusters {
		if m := entryPoint(in.repo, o); m != nil {
			doc, err := kyvernotest.EntryPointAsCluster(o)
			if err := add(m, o, doc, err, true); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// batches splits subjects into batches without duplicate identities. Kyverno defaults the
// namespace of namespaced objects that have none, and keeps kinds it does not know as
// cluster-scoped: batch by group, kind and name alone.
func batches(subs []subject) [][]subject {
	var out [][]subject
	var seen []map[string]bool
	for _, s := range subs {
		key := identity(s.o.Ref.Group(), s.o.Ref.Kind, "*", s.o.Ref.Name)
		b := 0
		for b < len(out) && seen[b][key] {
			b++
		}
		if b == len(out) {
			out = append(out, nil)
			seen = append(seen, map[string]bool{})
		}
		out[b] = append(out[b], s)
		seen[b][key] = true
	}
	return out
}

// compare compiles one input for one target, applies the policies to its objects and compares
// the verdicts with polc's offline checks.
func compare(t *testing.T, bin string, in input, target kyverno.Target, tot *totals) {
	if n := len(in.repo.Modules); target == kyverno.ValidatingPolicy && n > maxVPModules && os.Getenv("POLC_PARITY_FULL") == "" {
		t.Logf("!!! %s not compared for %s: kyverno apply compiles a ValidatingPolicy's CEL for every object, and %d modules make that take many minutes; set POLC_PARITY_FULL=1 to compare it", in.name, target, n)
		return
	}
	now := time.Now()
	pk, err := pack.Build(in.repo, builtin.All(), kyverno.Options{Target: target, Now: now})
	if err != nil {
		t.Errorf("%s: %s pack does not compile: %v", in.name, target, err)
		return
	}
	comparePack(t, bin, in, target, pk, now, tot)
}

// comparePack applies a compiled pack to the objects of one input and compares the verdicts with
// polc's offline checks of the rules the pack compiles, adding to tot.
func comparePack(t *testing.T, bin string, in input, target kyverno.Target, pk *pack.Pack, now time.Time, tot *totals) {
	tot.repos++
	dir := t.TempDir()
	if keep := os.Getenv("POLC_PARITY_KEEP"); keep != "" {
		dir = filepath.Join(keep, string(target), strings.ReplaceAll(in.name, "/", "_"))
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	policyFiles, exceptionFiles := writePack(t, dir, pk)
	compiled := map[string]bool{}
	for _, p := range pk.Policies {
		compiled[p.Rule.ID] = true
	}
	var checked []rule.Rule
	for _, r := range builtin.All() {
		if compiled[r.ID] {
			checked = append(checked, r)
		}
	}
	subs, err := subjects(in)
	if err != nil {
		t.Errorf("%s %s: not compared: %v", in.name, target, err)
		return
	}
	for i, batch := range batches(subs) {
		start := time.Now()
		results := apply(t, bin, filepath.Join(dir, fmt.Sprintf("resources-%d.yaml", i)), batch, policyFiles, exceptionFiles, pk)
		t.Logf("%s: kyverno apply of %d policies on %d objects took %s", in.name, len(policyFiles), len(batch), time.Since(start).Round(time.Millisecond))
		for _, s := range batch {
			judge(in, target, s, checked, lookup(results, s), now, tot)
		}
	}
}

// writePack writes the policies and exceptions of a pack to dir and returns their files.
func writePack(t *testing.T, dir string, pk *pack.Pack) (policies, exceptions []string) {
	wanted := map[string]bool{}
	for _, p := range pk.Policies {
		wanted[p.Path] = true
		for _, ex := range p.Exceptions {
			wanted[ex.Path] = true
		}
	}
	for _, f := range pk.Files {
		if !wanted[f.Path] {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, f.Data, 0o644))
		if strings.HasPrefix(f.Path, "exceptions/") {
			exceptions = append(exceptions, p)
		} else {
			policies = append(policies, p)
		}
	}
	return policies, exceptions
}

// judge compares kyverno's verdicts on one subject (cluster) with the offline ones, rule by rule.
// An object of a kind a rule does not check offline must not fail in the cluster either. Cluster
// entry points are not modules: offline, only rules with ClusterObjects see them, so only those
// pairs are compared there.
func judge(in input, target kyverno.Target, s subject, checked []rule.Rule, cluster map[string]verdict, now time.Time, tot *totals) {
	tot.objects++
	if s.entry {
		tot.entries++
	}
	offline := offlineVerdicts(in.repo, s, checked, now)
	where := fmt.Sprintf("%s %s: %s of module %s", in.name, target, s.o.Ref, s.m.Name())
	if s.entry {
		where = fmt.Sprintf("%s %s: %s of cluster entry point %s, deploying module %s", in.name, target, s.o.Ref, s.o.Pos.File, s.m.Name())
	}
	for _, r := range checked {
		cl := cluster[r.ID]
		switch {
		case s.entry && !r.ClusterObjects:
			continue
		case len(r.Kinds) > 0 && !slices.Contains(r.Kinds, s.o.Ref.Kind):
			if cl.fail {
				tot.disagreements = append(tot.disagreements, fmt.Sprintf("%s [%s]: offline does not check this kind; %s fails it: %s",
					where, r.ID, target, cl.msg))
			}
			continue
		}
		off := offline[r.ID]
		tot.count(r.ID, off.fail)
		if off.fail != cl.fail {
			tot.disagreements = append(tot.disagreements, fmt.Sprintf("%s [%s]: offline fail=%v (%s); %s fail=%v (%s)",
				where, r.ID, off.fail, off.msg, target, cl.fail, cl.msg))
		}
	}
}

// identity names an object in kyverno's report. Kyverno's CLI keeps objects in a fake client,
// where two objects of the same group, kind, namespace and name collide, whatever their version.
func identity(group, kind, ns, name string) string {
	return group + "/" + kind + "/" + ns + "/" + name
}

// lookup returns kyverno's verdicts on an object. Kyverno's CLI reports objects of kinds it does
// not know in namespace default, and others without the namespace kustomize set on them: then the
// verdicts on the object of that group, kind and name in any namespace are used.
func lookup(results map[string]map[string]verdict, s subject) map[string]verdict {
	if v, ok := results[s.key]; ok {
		return v
	}
	return results[identity(s.o.Ref.Group(), s.o.Ref.Kind, "*", s.o.Ref.Name)]
}

// offlineVerdicts runs polc's offline checks of the compiled rules on one object, with the module's
// exceptions applied as polc check applies them.
func offlineVerdicts(repo *rule.Repo, s subject, checked []rule.Rule, now time.Time) map[string]verdict {
	out := map[string]verdict{}
	for _, f := range check.CheckObject(repo, s.m, s.o, checked) {
		excepted := false
		for _, ex := range s.m.Spec.Exceptions {
			if ex.Excuses(f.Rule, s.o.Ref.Kind, s.o.Ref.Namespace, s.o.Ref.Name, now) {
				excepted = true
			}
		}
		if !excepted {
			v := out[f.Rule]
			v.fail = true
			v.msg = strings.TrimPrefix(v.msg+"; "+f.Message, "; ")
			out[f.Rule] = v
		}
	}
	return out
}

// report is the part of kyverno's policy report that parity reads.
type report struct {
	Results []struct {
		Policy    string `json:"policy"`
		Rule      string `json:"rule"`
		Result    string `json:"result"`
		Message   string `json:"message"`
		Resources []struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Namespace  string `json:"namespace"`
			Name       string `json:"name"`
		} `json:"resources"`
	} `json:"results"`
}

// apply runs kyverno apply on a batch and returns the verdicts per object identity and rule ID: a
// fail or error result fails the pair.
func apply(t *testing.T, bin, file string, batch []subject, policies, exceptions []string, pk *pack.Pack) map[string]map[string]verdict {
	var b strings.Builder
	for i, s := range batch {
		if i > 0 {
			b.WriteString("---\n")
		}
		y, err := yaml.Marshal(s.doc)
		require.NoError(t, err)
		b.Write(y)
	}
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	args := append([]string{"apply"}, policies...)
	args = append(args, "--resource", file, "-p", "--output-format", "json")
	for _, e := range exceptions {
		args = append(args, "-e", e)
	}
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errorsAs(err, &ee) && ee.ExitCode() == 1) {
		require.NoError(t, err, "kyverno apply %s: %.300s\n%s", file, out, tail(stderr.String()))
	}
	// Kyverno prints no report when no rule applied to any object (all were skipped or excluded),
	// and then exits 0 with nothing on stderr.
	start := strings.Index(string(out), "{")
	var rep report
	if start >= 0 || err != nil || tail(stderr.String()) != "" {
		require.GreaterOrEqual(t, start, 0, "kyverno apply %s printed no report: %.300s\n%s", file, out, tail(stderr.String()))
		require.NoError(t, json.Unmarshal(out[start:], &rep), "kyverno report")
	}
	ruleOf := map[string]string{}
	for _, p := range pk.Policies {
		ruleOf[p.Name] = p.Rule.ID
	}
	res := map[string]map[string]verdict{}
	for _, r := range rep.Results {
		id := ruleOf[r.Policy]
		if id == "" || len(r.Resources) == 0 {
			continue
		}
		res0 := r.Resources[0]
		group, _, _ := strings.Cut(res0.APIVersion, "/")
		if !strings.Contains(res0.APIVersion, "/") {
			group = ""
		}
		key := identity(group, res0.Kind, res0.Namespace, res0.Name)
		for _, k := range []string{key, identity(group, res0.Kind, "*", res0.Name)} {
			if res[k] == nil {
				res[k] = map[string]verdict{}
			}
			v := res[k][id]
			if r.Result == "fail" || r.Result == "error" {
				v.fail = true
				v.msg = strings.TrimPrefix(v.msg+"; "+r.Result+": "+r.Message, "; ")
			}
			res[k][id] = v
		}
	}
	return res
}

// tail returns the last lines of kyverno's stderr, without its deprecation warnings.
func tail(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, "is deprecated") {
			if len(l) > 300 {
				l = l[:300] + "..."
			}
			keep = append(keep, l)
		}
	}
	if len(keep) > 30 {
		keep = keep[len(keep)-30:]
	}
	return strings.Join(keep, "\n")
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
