// Package parity proves that the compiled policy pack gives polc's offline verdicts: for every
// resource rule, it renders the test repositories and the real-world corpus, runs polc's offline
// checks and `kyverno apply` of the compiled policies (both targets) on the same objects, and
// compares the verdict per (object, rule). It needs the pinned Kyverno CLI in bin/ (make kyverno)
// and skips, saying so loudly, without it.
package parity

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/rules"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kyvernoBin returns the pinned Kyverno CLI, or skips the test.
func kyvernoBin(t *testing.T) string {
	bin, err := filepath.Abs(filepath.Join("..", "..", "bin", "kyverno"))
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		t.Log("!!! PARITY NOT TESTED: bin/kyverno is missing. Build it with `make kyverno` (about 10 minutes).")
		t.Skip("bin/kyverno missing")
	}
	return bin
}

// corpusDir is the real-world corpus: POLC_CORPUS, or shared/corpus beside the checkout.
func corpusDir() string {
	if d := os.Getenv("POLC_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "corpus")
}

// input is one repository whose objects are compared.
type input struct {
	name string
	repo *rule.Repo
}

// totals count what was compared.
type totals struct {
	repos, objects, pairs, failing int
	disagreements                  []string
	perRule                        map[string]int
}

func TestParity(t *testing.T) {
	bin := kyvernoBin(t)
	inputs := testdataInputs(t)
	inputs = append(inputs, pssInput())
	inputs = append(inputs, corpusInputs(t)...)
	if only := os.Getenv("POLC_PARITY_ONLY"); only != "" {
		var keep []input
		for _, in := range inputs {
			if strings.Contains(in.name, only) {
				keep = append(keep, in)
			}
		}
		inputs = keep
	}
	require.NotEmpty(t, inputs)
	for _, target := range []kyverno.Target{kyverno.ClusterPolicy, kyverno.ValidatingPolicy} {
		target := target
		t.Run(string(target), func(t *testing.T) {
			t.Parallel()
			tot := &totals{perRule: map[string]int{}}
			for _, in := range inputs {
				compare(t, bin, in, target, tot)
			}
			t.Logf("%s: compared %d (object, rule) pairs (%d failing offline) over %d objects of %d repositories; %d disagreements",
				target, tot.pairs, tot.failing, tot.objects, tot.repos, len(tot.disagreements))
			var ids []string
			for id := range tot.perRule {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				t.Logf("  %-28s %d pairs", id, tot.perRule[id])
			}
			for _, d := range tot.disagreements {
				t.Error(d)
			}
		})
	}
}

// testdataInputs loads and renders every test repository whose metadata loads.
func testdataInputs(t *testing.T) []input {
	dir := filepath.Join("..", "testdata", "repos")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []input
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		repo, _, err := check.Load(filepath.Join(dir, e.Name()), rules.All())
		if err != nil {
			t.Logf("skip testdata %s: %v", e.Name(), err)
			continue
		}
		check.Render(context.Background(), repo)
		out = append(out, input{name: "testdata/" + e.Name(), repo: repo})
	}
	return out
}

// corpusInputs renders the corpus: each repository is copied into a temporary directory, each of
// its kustomization directories (or, without kustomizations, each directory of YAML files) becomes
// a synthetic module that declares the namespaces it creates.
func corpusInputs(t *testing.T) []input {
	corpus := corpusDir()
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Logf("!!! corpus not compared: no corpus at %s (set POLC_CORPUS): %v", corpus, err)
		return nil
	}
	var out []input
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		root := t.TempDir()
		require.NoError(t, os.CopyFS(root, os.DirFS(filepath.Join(corpus, e.Name()))))
		out = append(out, input{name: "corpus/" + e.Name(), repo: syntheticRepo(t, root)})
	}
	return out
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// syntheticRepo renders the units of a corpus repository as modules.
func syntheticRepo(t *testing.T, root string) *rule.Repo {
	var kdirs []string
	yamlDirs := map[string][]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch name := d.Name(); {
		case name == "kustomization.yaml" || name == "kustomization.yml":
			kdirs = append(kdirs, path.Dir(rel))
		case (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) && !strings.HasPrefix(name, "_"):
			yamlDirs[path.Dir(rel)] = append(yamlDirs[path.Dir(rel)], rel)
		}
		return nil
	}))
	sources := manifest.NewSources(root)
	type unit struct {
		dir  string
		objs []*manifest.Object
	}
	var units []unit
	if len(kdirs) == 0 {
		var dirs []string
		for d := range yamlDirs {
			dirs = append(dirs, d)
		}
		sort.Strings(dirs)
		for _, dir := range dirs {
			u := unit{dir: dir}
			for _, file := range yamlDirs[dir] {
				f := sources.Get(file)
				if f.Err != nil {
					continue
				}
				for _, d := range f.Docs {
					if d.Node.GetKind() == "" || d.Node.GetApiVersion() == "" || d.Node.GetName() == "" {
						continue
					}
					u.objs = append(u.objs, &manifest.Object{Node: d.Node, Module: dir, Ref: manifest.RefOf(d.Node), Pos: d.Pos, Source: d.Node})
				}
			}
			units = append(units, u)
		}
	} else {
		sort.Strings(kdirs)
		r := &manifest.Renderer{Root: root, Vars: map[string]string{}, Sources: sources}
		for _, dir := range kdirs {
			if f := sources.Get(path.Join(dir, "kustomization.yaml")); f.Err == nil && len(f.Docs) > 0 && f.Docs[0].Node.GetKind() == "Component" {
				continue
			}
			objs, _, _ := r.Render(context.Background(), dir, dir)
			units = append(units, unit{dir: dir, objs: objs})
		}
	}
	repo := &rule.Repo{Root: root, Config: module.DefaultConfig(), ByName: map[string]*module.Module{},
		Objects: map[string][]*manifest.Object{}, Rendered: map[string]bool{}, NamespaceOwners: map[string][]*module.Module{}}
	var nodes []graph.Node
	for i, u := range units {
		typ := module.Application
		for _, infra := range []string{"infrastructure", "flux-system", "bootstrap", "clusters", "components", "kube-system"} {
			if strings.Contains(u.dir, infra) {
				typ = module.Infrastructure
			}
		}
		name := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(u.dir), "-"), "-")
		name = fmt.Sprintf("u%03d-%s", i, name)
		if len(name) > 50 {
			name = strings.TrimRight(name[:50], "-")
		}
		m := &module.Module{APIVersion: module.APIVersion, Kind: "Module", Metadata: module.Metadata{Name: name},
			Spec: module.ModuleSpec{Type: typ, Version: "0.0.0"}, Dir: u.dir, File: u.dir + "/module.yaml"}
		for _, o := range u.objs {
			if o.Ref.Kind == "Namespace" && o.Ref.APIVersion == "v1" && dnsLabel.MatchString(o.Ref.Name) {
				m.Spec.Namespaces = append(m.Spec.Namespaces, module.Namespace{Name: o.Ref.Name})
				repo.NamespaceOwners[o.Ref.Name] = append(repo.NamespaceOwners[o.Ref.Name], m)
			}
		}
		repo.Modules = append(repo.Modules, m)
		repo.ByName[name] = m
		repo.Objects[name] = u.objs
		repo.Rendered[name] = true
		nodes = append(nodes, graph.Node{Name: name, Type: string(typ)})
	}
	repo.Graph = graph.New(nodes, nil)
	return repo
}

// maxVPModules bounds the repositories compared for the ValidatingPolicy target by default.
const maxVPModules = 40

// verdict is one engine's verdict on one (object, rule) pair.
type verdict struct {
	fail bool
	msg  string
}

// subject is one object of one module, as the cluster sees it.
type subject struct {
	m   *module.Module
	o   *manifest.Object
	key string
	doc map[string]any
}

// compare compiles one input for one target, applies the policies to its objects and compares
// the verdicts with polc's offline checks.
func compare(t *testing.T, bin string, in input, target kyverno.Target, tot *totals) {
	if n := len(in.repo.Modules); target == kyverno.ValidatingPolicy && n > maxVPModules && os.Getenv("POLC_PARITY_FULL") == "" {
		t.Logf("!!! %s not compared for %s: kyverno apply compiles a ValidatingPolicy's CEL for every object, and %d modules make that take many minutes; set POLC_PARITY_FULL=1 to compare it", in.name, target, n)
		return
	}
	now := time.Now()
	all := rules.All()
	pack, err := kyverno.Compile(in.repo, all, kyverno.Options{Target: target, Now: now})
	if err != nil {
		t.Logf("skip %s: does not compile: %.200v", in.name, err)
		return
	}
	tot.repos++
	dir := t.TempDir()
	if keep := os.Getenv("POLC_PARITY_KEEP"); keep != "" {
		dir = filepath.Join(keep, string(target), strings.ReplaceAll(in.name, "/", "_"))
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	var policyFiles, exceptionFiles []string
	wanted := map[string]bool{}
	compiled := map[string]*rule.Rule{}
	for _, p := range pack.Policies {
		wanted[p.Path] = true
		compiled[p.Rule.ID] = p.Rule
		for _, ex := range p.Exceptions {
			wanted[ex.Path] = true
			exceptionFiles = append(exceptionFiles, filepath.Join(dir, filepath.FromSlash(ex.Path)))
		}
	}
	for _, f := range pack.Files {
		if !wanted[f.Path] {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, f.Data, 0o644))
		if !strings.HasPrefix(f.Path, "exceptions/") {
			policyFiles = append(policyFiles, p)
		}
	}
	var checked []rule.Rule
	for _, r := range all {
		if compiled[r.ID] != nil {
			checked = append(checked, r)
		}
	}
	// The objects, labelled as Flux labels what it applies, in batches without duplicate identities.
	var batches [][]subject
	var seen []map[string]bool
	for _, m := range in.repo.Modules {
		if in.repo.ByName[m.Name()] != m || m.Spec.Type == module.Component {
			continue
		}
		for _, o := range in.repo.Objects[m.Name()] {
			doc, err := kyverno.AsCluster(in.repo, m, o)
			if err != nil {
				continue
			}
			s := subject{m: m, o: o, key: identity(o.Ref.Group(), o.Ref.Kind, o.Ref.Namespace, o.Ref.Name), doc: doc}
			// Kyverno defaults the namespace of namespaced objects that have none, and keeps
			// kinds it does not know as cluster-scoped: batch by group, kind and name alone.
			batchKey := identity(o.Ref.Group(), o.Ref.Kind, "*", o.Ref.Name)
			b := 0
			for b < len(batches) && seen[b][batchKey] {
				b++
			}
			if b == len(batches) {
				batches = append(batches, nil)
				seen = append(seen, map[string]bool{})
			}
			batches[b] = append(batches[b], s)
			seen[b][batchKey] = true
		}
	}
	for i, batch := range batches {
		start := time.Now()
		results := apply(t, bin, filepath.Join(dir, fmt.Sprintf("resources-%d.yaml", i)), batch, policyFiles, exceptionFiles, pack)
		t.Logf("%s: kyverno apply of %d policies on %d objects took %s", in.name, len(policyFiles), len(batch), time.Since(start).Round(time.Millisecond))
		for _, s := range batch {
			tot.objects++
			offline := offlineVerdicts(in.repo, s, checked, now)
			for _, r := range checked {
				if len(r.Kinds) > 0 && !contains(r.Kinds, s.o.Ref.Kind) {
					if cl := lookup(results, s)[r.ID]; cl.fail {
						tot.disagreements = append(tot.disagreements, fmt.Sprintf("%s %s: %s [%s]: offline does not check this kind; %s fails it: %s",
							in.name, target, s.o.Ref, r.ID, target, cl.msg))
					}
					continue
				}
				tot.pairs++
				tot.perRule[r.ID]++
				off, cl := offline[r.ID], lookup(results, s)[r.ID]
				if off.fail {
					tot.failing++
				}
				if off.fail != cl.fail {
					tot.disagreements = append(tot.disagreements, fmt.Sprintf("%s %s: %s of module %s [%s]: offline fail=%v (%s); %s fail=%v (%s)",
						in.name, target, s.o.Ref, s.m.Name(), r.ID, off.fail, off.msg, target, cl.fail, cl.msg))
				}
			}
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// offlineVerdicts runs polc's offline checks of the compiled rules on one object, with the module's
// exceptions applied as polc check applies them.
func offlineVerdicts(repo *rule.Repo, s subject, checked []rule.Rule, now time.Time) map[string]verdict {
	out := map[string]verdict{}
	for _, f := range check.CheckObject(repo, s.m, s.o, checked) {
		excepted := false
		for _, ex := range s.m.Spec.Exceptions {
			if check.Excuses(ex, f.Rule, s.o.Ref, now) {
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
func apply(t *testing.T, bin, file string, batch []subject, policies, exceptions []string, pack *kyverno.Pack) map[string]map[string]verdict {
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
	start := strings.Index(string(out), "{")
	require.GreaterOrEqual(t, start, 0, "kyverno apply %s printed no report: %.300s\n%s", file, out, tail(stderr.String()))
	var rep report
	require.NoError(t, json.Unmarshal(out[start:], &rep), "kyverno report")
	ruleOf := map[string]string{}
	for _, p := range pack.Policies {
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
