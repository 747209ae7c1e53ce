package parity

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
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
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// goldenInputs says, per input, how many modules load and render, how many objects and cluster
// entry-point objects there are, and whether the pack compiles: TestParityInputs fails when an
// input yields less (or more) than it records, so that an input cannot drop out of the comparison
// unnoticed.
const goldenInputs = "testdata/inputs.golden"

// goldenHeader starts the golden file.
const goldenHeader = "# What each parity input yields: units (modules, or corpus directories), those that render, objects,\n" +
	"# cluster entry-point Flux Kustomizations of modules. Written by `go test ./tests/parity -run TestParityInputs -update`."

// input is one repository whose objects are compared.
type input struct {
	name string
	repo *rule.Repo
	// loadErr is why the repository does not load (it is not compared).
	loadErr error
	// compileErr is why the pack does not compile from the repository's metadata (it is not compared).
	compileErr error
	// units is the number of units (modules, or corpus directories), failed those that did not
	// render or parse, by name, and why says why, one line each.
	units  int
	failed []string
	why    []string
}

// inputsOnce loads every input once per test binary: TestParityInputs checks them against the
// golden file and TestParity compares them.
var (
	inputsOnce sync.Once
	allInputs  []input
	inputsErr  error
	// scratch holds the corpus copies; TestMain removes it.
	scratch string
	// noCorpus says why the corpus is not compared, when it is not.
	noCorpus string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if scratch != "" {
		_ = os.RemoveAll(scratch)
	}
	os.Exit(code)
}

// loadInputs returns the test repositories (cluster entry points included), the repositories of
// testdata/repos, the synthetic Pod Security repository and the corpus, each loaded and rendered.
func loadInputs(t *testing.T) []input {
	inputsOnce.Do(func() {
		var out []input
		for _, d := range [][2]string{{"testdata/", filepath.Join("..", "testdata", "repos")}, {"parity/", filepath.Join("testdata", "repos")}} {
			in, err := repoInputs(d[0], d[1])
			if err != nil {
				inputsErr = err
				return
			}
			out = append(out, in...)
		}
		out = append(out, pssInput())
		corpus, err := corpusInputs()
		if err != nil {
			inputsErr = err
			return
		}
		allInputs = append(out, corpus...)
		for i := range allInputs {
			if allInputs[i].repo != nil {
				_, allInputs[i].compileErr = kyverno.Compile(allInputs[i].repo, builtin.All(), kyverno.Options{Target: kyverno.ClusterPolicy})
			}
		}
	})
	require.NoError(t, inputsErr)
	return allInputs
}

// repoInputs loads every repository under dir as polc check does, cluster entry points included,
// and names each prefix plus its directory's name.
func repoInputs(prefix, dir string) ([]input, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []input
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := prefix + e.Name()
		res, err := check.Run(context.Background(), check.Options{Root: filepath.Join(dir, e.Name()), Rules: builtin.All()})
		if err != nil {
			out = append(out, input{name: name, loadErr: err})
			continue
		}
		in := input{name: name, repo: res.Repo, units: len(res.Repo.Modules)}
		for _, f := range res.Findings {
			if f.Rule == rule.RenderRule && !slices.Contains(in.failed, f.Module) {
				in.failed = append(in.failed, f.Module)
				in.why = append(in.why, fmt.Sprintf("%s: %s", f.Pos, f.Message))
			}
		}
		sort.Strings(in.failed)
		out = append(out, in)
	}
	return out, nil
}

// corpusDir is the real-world corpus: POLC_CORPUS, or shared/corpus beside the checkout.
func corpusDir() string {
	if d := os.Getenv("POLC_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "corpus")
}

// corpusInputs renders the corpus: each repository is copied into a scratch directory, each of
// its kustomization directories (or, without kustomizations, each directory of YAML files) becomes
// a synthetic module that declares the namespaces it creates. Without a corpus it returns none and
// says so.
func corpusInputs() ([]input, error) {
	corpus := corpusDir()
	entries, err := os.ReadDir(corpus)
	if err != nil {
		noCorpus = fmt.Sprintf("the corpus is not compared: no corpus at %s (%v): put it at ../shared/corpus beside the repository or set POLC_CORPUS to its directory", corpus, err)
		return nil, nil
	}
	if scratch, err = os.MkdirTemp("", "polc-parity-"); err != nil {
		return nil, err
	}
	var out []input
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		root := filepath.Join(scratch, e.Name())
		if err := os.CopyFS(root, os.DirFS(filepath.Join(corpus, e.Name()))); err != nil {
			return nil, fmt.Errorf("copy corpus %s: %w", e.Name(), err)
		}
		in, err := syntheticRepo(root)
		if err != nil {
			return nil, fmt.Errorf("corpus %s: %w", e.Name(), err)
		}
		in.name = "corpus/" + e.Name()
		out = append(out, in)
	}
	return out, nil
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// unit is a directory of a corpus repository that becomes one synthetic module.
type unit struct {
	dir  string
	objs []*manifest.Object
	err  error
}

// syntheticRepo renders the units of a corpus repository as modules.
func syntheticRepo(root string) (input, error) {
	var kdirs []string
	yamlDirs := map[string][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
	})
	if err != nil {
		return input{}, err
	}
	sources := manifest.NewSources(root)
	var units []unit
	if len(kdirs) == 0 {
		units = parsedUnits(sources, yamlDirs)
	} else {
		units = renderedUnits(root, sources, kdirs)
	}
	return unitRepo(root, units), nil
}

// parsedUnits reads each directory of YAML files as one unit, keeping the documents that are
// objects with a kind, an apiVersion and a name.
func parsedUnits(sources *manifest.Sources, yamlDirs map[string][]string) []unit {
	var dirs []string
	for d := range yamlDirs {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var units []unit
	for _, dir := range dirs {
		u := unit{dir: dir}
		for _, file := range yamlDirs[dir] {
			f := sources.Get(file)
			if f.Err != nil {
				u.err = fmt.Errorf("%s: %w", file, f.Err)
				continue
			}
			for _, d := range f.Docs {
				if d.Node.GetKind() == "" || d.Node.GetApiVersion() == "" || d.Node.GetName() == "" {
					continue
				}
				n, err := deAnchored(d.Node)
				if err != nil {
					u.err = fmt.Errorf("%s: %w", d.Pos, err)
					continue
				}
				u.objs = append(u.objs, &manifest.Object{Node: n, Module: dir, Ref: manifest.RefOf(n), Pos: d.Pos, Source: d.Node})
			}
		}
		units = append(units, u)
	}
	return units
}

// deAnchored returns an independent copy of a parsed document whose YAML aliases (and merge keys)
// are replaced by what they refer to, as kustomize and the API server read it.
func deAnchored(n *yaml.RNode) (*yaml.RNode, error) {
	s, err := n.String()
	if err != nil {
		return nil, err
	}
	c, err := yaml.Parse(s)
	if err != nil {
		return nil, err
	}
	return c, c.DeAnchor()
}

// renderedUnits renders each kustomization directory that is not a Component as one unit.
func renderedUnits(root string, sources *manifest.Sources, kdirs []string) []unit {
	sort.Strings(kdirs)
	r := &manifest.Renderer{Root: root, Vars: map[string]string{}, Sources: sources}
	var units []unit
	for _, dir := range kdirs {
		if f := sources.Get(path.Join(dir, "kustomization.yaml")); f.Err == nil && len(f.Docs) > 0 && f.Docs[0].Node.GetKind() == "Component" {
			continue
		}
		objs, _, err := r.Render(context.Background(), dir, dir)
		units = append(units, unit{dir: dir, objs: objs, err: err})
	}
	return units
}

// unitRepo makes each unit a module: infrastructure when its directory says so, else an
// application, owning the namespaces it creates.
func unitRepo(root string, units []unit) input {
	var mods []*module.Module
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
			if o.Ref.Kind == "Namespace" && o.Ref.APIVersion == "v1" && module.IsDNSLabel(o.Ref.Name) {
				m.Spec.Namespaces = append(m.Spec.Namespaces, module.Namespace{Name: o.Ref.Name})
			}
		}
		mods = append(mods, m)
	}
	repo := rule.NewRepo(root, module.DefaultConfig(), mods)
	in := input{repo: repo, units: len(units)}
	for i, u := range units {
		repo.Objects[mods[i].Name()] = u.objs
		repo.Rendered[mods[i].Name()] = u.err == nil
		if u.err != nil {
			in.failed = append(in.failed, mods[i].Name())
			in.why = append(in.why, fmt.Sprintf("%s: %v", u.dir, u.err))
		}
	}
	return in
}

// summary is one line of the golden file: what an input yields.
func (in input) summary() string {
	if in.loadErr != nil {
		return in.name + ": does not load"
	}
	objects, entries, followed := 0, 0, map[manifest.OriginKind]int{}
	for _, objs := range in.repo.Objects {
		objects += len(objs)
		for _, o := range objs {
			if o.Origin.Kind != "" {
				followed[o.Origin.Kind]++
			}
		}
	}
	for _, o := range in.repo.Clusters {
		if entryPoint(in.repo, o) != nil {
			entries++
		}
	}
	s := fmt.Sprintf("%s: %d units, %d rendered, %d objects, %d cluster entry-point Kustomizations of modules", in.name,
		in.units, in.units-len(in.failed), objects, entries)
	for _, k := range []manifest.OriginKind{manifest.FromFluxKustomization, manifest.FromHelm} {
		if followed[k] > 0 {
			s += fmt.Sprintf("; %d objects from %s", followed[k], k)
		}
	}
	if len(in.failed) > 0 {
		s += "; not rendered: " + strings.Join(in.failed, ", ")
	}
	if in.compileErr != nil {
		s += "; does not compile"
	}
	return s
}

// readGolden returns the lines of the golden file by input name, and the names in file order.
func readGolden() (map[string]string, []string, error) {
	data, err := os.ReadFile(goldenInputs)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: run `go test ./tests/parity -run TestParityInputs -update` to create it", err)
	}
	want := map[string]string{}
	var order []string
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, _, ok := strings.Cut(line, ": ")
		if !ok {
			return nil, nil, fmt.Errorf("%s:%d: want `NAME: summary`, got %q", goldenInputs, i+1, line)
		}
		want[name] = line
		order = append(order, name)
	}
	return want, order, nil
}

// TestParityInputs checks that every input of the parity test loads, renders and compiles as
// testdata/inputs.golden records (run with -update to rewrite it): an input that yields fewer
// objects, or stops compiling, fails here instead of silently leaving the comparison. Corpus
// repositories that the golden file does not name (another corpus, through POLC_CORPUS) are only
// required to load and yield objects; those it names but the corpus lacks are reported.
func TestParityInputs(t *testing.T) {
	start := time.Now()
	inputs := loadInputs(t)
	t.Logf("loading, rendering and compiling %d inputs took %s", len(inputs), time.Since(start).Round(time.Millisecond))
	if noCorpus != "" {
		testutil.MissingOrFail(t, noCorpus)
	}
	for _, in := range inputs {
		if in.loadErr != nil {
			t.Logf("%s does not load: %v", in.name, in.loadErr)
		}
		if in.compileErr != nil {
			t.Logf("%s does not compile: %.300v", in.name, in.compileErr)
		}
		for _, why := range in.why {
			t.Logf("%s: not rendered: %.300s", in.name, why)
		}
	}
	if testutil.Updating() {
		require.Empty(t, noCorpus, "%s keeps the corpus's lines: update it with the corpus", goldenInputs)
		lines := []string{goldenHeader}
		for _, in := range inputs {
			lines = append(lines, in.summary())
		}
		require.NoError(t, os.WriteFile(goldenInputs, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
		return
	}
	want, order, err := readGolden()
	require.NoError(t, err)
	got := map[string]bool{}
	for _, in := range inputs {
		got[in.name] = true
		line, known := want[in.name]
		switch {
		case known:
			if line != in.summary() {
				t.Errorf("%s: input %s changed (if that is intended, run with -update):\nwant %s\ngot  %s", goldenInputs, in.name, line, in.summary())
			}
		case strings.HasPrefix(in.name, "corpus/"):
			require.NoError(t, in.loadErr, in.name)
			require.Less(t, len(in.failed), in.units, "%s: no unit renders: %s", in.name, in.summary())
			t.Logf("not in %s: %s", goldenInputs, in.summary())
		default:
			t.Errorf("%s: new input %s (%s): run with -update", goldenInputs, in.name, in.summary())
		}
	}
	for _, name := range order {
		switch {
		case got[name]:
		case strings.HasPrefix(name, "corpus/"):
			t.Logf("!!! %s not compared: it is not in the corpus at %s", name, corpusDir())
		default:
			t.Errorf("%s: input %s is gone: run with -update", goldenInputs, name)
		}
	}
}
