package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/report"
)

// inferenceRules are the rules whose findings, right after polc init --infer --write, would come
// from a wrong inference rather than from the repository: metadata that does not load, names
// that do not match their directories, dependencies on modules that do not exist, cycles the
// inference made, uses it failed to declare, and a layering it got backwards.
var inferenceRules = map[string]bool{"module/metadata": true, "module/name": true, "deps/unknown": true,
	"deps/cycle": true, "deps/undeclared": true, "deps/direction": true}

// corpusAdoption says how to adopt a corpus repository and what to expect.
type corpusAdoption struct {
	// modulesDir is the modules root to pass to --modules-dir.
	modulesDir string
	// modules is the number of modules init must propose.
	modules int
	// samples are findings (rule and a substring of file:line: message) that polc check must
	// report afterwards; each was checked by hand against the repository's files.
	samples [][2]string
}

// adoptions are the corpus repositories whose layout is known. Others (a held-out corpus) use
// kubernetes/ when present, else the repository root, and are only checked for artefacts.
var adoptions = map[string]corpusAdoption{
	// The modules are the directories Flux deploys (through the ArtifactGenerator's artifacts): the
	// apps/production and apps/staging overlays, not their base. The Gateway that
	// infrastructure/configs writes into controllers' namespace is declared in spec.uses.
	"fluxcd__flux2-kustomize-helm-example": {modulesDir: ".", modules: 4, samples: [][2]string{
		// The cert-manager OCIRepository follows a semver range.
		{"versions/chart-pinned", `infrastructure/controllers/cert-manager.yaml:21: spec.ref.semver is "1.x", a range`},
	}},
	// Kyverno's OCIRepository in flux-system is allowed by the default shared namespace.
	"fluxcd__flux2-multi-tenancy": {modulesDir: ".", modules: 4, samples: [][2]string{
		{"module/tier", `infrastructure/kyverno-policies/module.yaml:8: module name "kyverno-policies" does not end in "-core"`},
	}},
	"onedr0p__home-ops": {modulesDir: "kubernetes", modules: 93, samples: [][2]string{
		// No Namespace of the corpus has Pod Security labels.
		{"security/namespace-psa", `kubernetes/apps/default/kustomization.yaml: label pod-security.kubernetes.io/enforce is missing; expected "restricted"`},
	}},
	"bjw-s-labs__home-ops": {modulesDir: "kubernetes", modules: 118, samples: [][2]string{
		// The bootstrap kustomization creates the external-secrets namespace that
		// kubernetes/apps/external-secrets creates too (its Secrets there are declared in spec.uses).
		{"naming/namespace-ownership", `kubernetes/bootstrap/kustomize/kustomization.yaml: Namespace "external-secrets" is not declared by the module`},
	}},
	// No kustomization.yaml anywhere: Flux generates them, so there is no module to propose.
	"billimek__k8s-gitops": {modulesDir: "kubernetes", modules: 0},
	"GoogleCloudPlatform__microservices-demo": {modulesDir: "kustomize", modules: 16, samples: [][2]string{
		// The base relies on the default namespace of kubectl.
		{"naming/namespace-ownership", `kustomize/base/adservice.yaml:18: object has no namespace and the module declares none`},
		// Images are pinned by tag only.
		{"security/image-digest", `kustomize/base/adservice.yaml:46: container "server" image "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/adservice:v0.10.6" is not pinned by digest`},
	}},
}

// TestInitInferCorpus adopts a temporary copy of every corpus repository with
// `polc init --infer --write`, then runs `polc check` on it: check must work (exit 0 or 1, never
// 2), report no finding that the inference caused, and report the sampled real findings. The
// modules, objects and findings per rule of each repository are logged (run with -v).
func TestInitInferCorpus(t *testing.T) {
	forEachCorpusRepo(t, func(t *testing.T, name, root string) {
		ad, known := adoptions[name]
		if !known {
			ad.modulesDir = "."
			if st, err := os.Stat(filepath.Join(root, "kubernetes")); err == nil && st.IsDir() {
				ad.modulesDir = "kubernetes"
			}
		}
		res := Polc(t, root, "init", "--infer", "--modules-dir", ad.modulesDir, "--write")
		require.Equal(t, 0, res.Code, "%s\n%s", res.Stdout, res.Stderr)
		proposed := strings.Count(res.Stdout, ": propose module ")
		if known {
			require.Equal(t, ad.modules, proposed, res.Stdout)
		}

		res = Polc(t, root, "check", "--format", "json")
		require.Contains(t, []int{0, 1}, res.Code, "polc check failed to run:\n%s", res.Stderr)
		var rep report.JSONReport
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep), res.Stdout)
		require.Equal(t, proposed, rep.Summary.Modules)

		byRule := map[string]int{}
		var lines []string
		for _, f := range rep.Findings {
			byRule[f.Rule]++
			line := fmt.Sprintf("%s: %s", position(f), f.Message)
			lines = append(lines, f.Rule+" "+line)
			require.False(t, inferenceRules[f.Rule], "finding caused by the inference: %s %s", f.Rule, line)
		}
		for _, s := range ad.samples {
			require.Contains(t, strings.Join(lines, "\n"), s[0]+" "+s[1], "sampled finding missing")
		}
		t.Logf("%s: modules root %s, %d modules, %d objects, %d errors, %d warnings; findings per rule: %s",
			name, ad.modulesDir, rep.Summary.Modules, rep.Summary.Objects, rep.Summary.Errors, rep.Summary.Warnings, countsText(byRule))

		// polc fix removes the mechanical findings; what it cannot fix it says on stderr.
		res = Polc(t, root, "fix", "--write")
		require.Equal(t, 0, res.Code, "%s\n%s", res.Stdout, res.Stderr)
		res = Polc(t, root, "check", "--format", "json")
		require.Contains(t, []int{0, 1}, res.Code, "polc check failed to run:\n%s", res.Stderr)
		rep = report.JSONReport{}
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep), res.Stdout)
		after := map[string]int{}
		for _, f := range rep.Findings {
			after[f.Rule]++
			require.False(t, fixedRules[f.Rule], "polc fix left a mechanical finding: %s %s: %s", f.Rule, position(f), f.Message)
		}
		t.Logf("%s after polc fix --write: %d errors, %d warnings; findings per rule: %s", name, rep.Summary.Errors, rep.Summary.Warnings, countsText(after))
		res = Polc(t, root, "fix", "--check")
		require.Equal(t, 0, res.Code, "polc fix is not idempotent:\n%s", res.Stdout)

		// A baseline holds the rest: the run passes until something new appears.
		res = Polc(t, root, "baseline", "baseline.yaml")
		require.Equal(t, 0, res.Code, res.Stderr)
		res = Polc(t, root, "check", "--baseline", "baseline.yaml")
		require.Equal(t, 0, res.Code, "%s\n%s", res.Stdout, res.Stderr)
	})
}

// fixedRules are the rules whose findings polc fix removes on the corpus.
var fixedRules = map[string]bool{"labels/module": true, "deps/namespace-annotation": true, "module/files": true}

// countsText renders findings per rule as sorted rule=count pairs.
func countsText(byRule map[string]int) string {
	var counts []string
	for r, n := range byRule {
		counts = append(counts, fmt.Sprintf("%s=%d", r, n))
	}
	sort.Strings(counts)
	return strings.Join(counts, ", ")
}

// position renders a JSON finding's file and line as file:line, or file when the line is unknown.
func position(f report.JSONFinding) string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

// TestInitInfer runs the command on the inference testdata repository: without --write nothing
// changes; --write creates the module.yaml files and polc.yaml; a second --write keeps them; bad
// usage exits 2.
func TestInitInfer(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.CopyFS(root, os.DirFS("../internal/infer/testdata/flux")))

	before := snapshot(t, root)
	res := Polc(t, root, "init", "--infer", "--modules-dir", ".")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "infrastructure/security-core/module.yaml: propose module security-core (infrastructure)")
	require.Contains(t, res.Stdout, "spec.version: 1.10.0  because the newest version heading of CHANGELOG.md  [infrastructure/security-core/CHANGELOG.md]")
	require.Contains(t, res.Stdout, "nothing written")
	require.Equal(t, before, snapshot(t, root), "init without --write changed files")

	res = Polc(t, root, "init", "--infer", "--modules-dir", ".", "--write")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "wrote infrastructure/security-core/module.yaml")
	require.Contains(t, res.Stdout, "wrote polc.yaml")
	require.FileExists(t, filepath.Join(root, "apps", "base", "media", "module.yaml"))
	require.NoFileExists(t, filepath.Join(root, "apps", "overlays", "prod", "module.yaml"))

	written := snapshot(t, root)
	res = Polc(t, root, "init", "--infer", "--write")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "keep existing module security-core")
	require.Contains(t, res.Stdout, "0 files written")
	require.Equal(t, written, snapshot(t, root), "a second init rewrote files")

	res = Polc(t, root, "check")
	require.Equal(t, 1, res.Code, res.Stderr)
	for r := range inferenceRules {
		require.NotContains(t, res.Stdout, " "+r+": ")
	}

	for _, args := range [][]string{
		{"init", "--write"},
		{"init", "--modules-dir", "."},
		{"init", "--infer", "--modules-dir", "nope"},
		{"init", "--infer", "--bogus"},
	} {
		res := Polc(t, root, args...)
		require.Equal(t, 2, res.Code, "%v: %s", args, res.Stdout)
	}
}

// freshRepo returns a new, empty git repository: no polc.yaml, no modules directory.
func freshRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("git", "init", "-q", dir).CombinedOutput()
	require.NoError(t, err, string(out))
	return dir
}

// requireModeline asserts that the first line of file (repository-relative) is a
// yaml-language-server modeline whose $schema path exists in the repository.
func requireModeline(t *testing.T, root, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(data), "\n")
	ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
	require.True(t, ok, "%s: no modeline: %q", file, first)
	require.FileExists(t, filepath.Join(root, filepath.FromSlash(path.Join(path.Dir(file), ref))), "%s: $schema=%s", file, ref)
}

// TestNewUserPath walks the README's first steps in a fresh repository: polc new module works
// without a modules directory or polc.yaml, its module.yaml's $schema exists, polc check passes;
// polc init adds a starter polc.yaml that loads and keeps the check passing; polc compile --flux
// warns while no module provides kyverno.io (the entry point would never deploy the pack), and
// stops warning once one does.
func TestNewUserPath(t *testing.T) {
	root := freshRepo(t)
	res := Polc(t, root, "new", "module", "web", "--type", "application")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "created modules/apps/web/module.yaml\n")
	require.Contains(t, res.Stdout, "created schemas/module.schema.json\n")
	require.Empty(t, res.Stderr)
	requireModeline(t, root, "modules/apps/web/module.yaml")
	res = Polc(t, root, "check", "--fail-on", "warning")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)

	res = Polc(t, root, "init")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Equal(t, "skipped schemas/module.schema.json: it exists and is never overwritten\n"+
		"created polc.yaml\ncreated schemas/polc.schema.json\n"+
		"next: polc new module NAME --type application|infrastructure|component, then polc check\n", res.Stdout)
	_, err := module.LoadConfig(root)
	require.NoError(t, err)
	requireModeline(t, root, "polc.yaml")
	res = Polc(t, root, "check", "--fail-on", "warning")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
	before := snapshot(t, root)
	res = Polc(t, root, "init")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Equal(t, before, snapshot(t, root), "a second polc init changed files")

	const warning = "warning: no module provides the kyverno.io API, so clusters/home/generated deploys no policy pack"
	res = Polc(t, root, "compile", "--flux", "clusters/home/generated")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stderr, warning)
	res = Polc(t, root, "compile", "--flux", "clusters/home/generated", "--check")
	require.Equal(t, 0, res.Code, res.Stdout)
	require.Contains(t, res.Stderr, warning)

	res = Polc(t, root, "new", "module", "security-core", "--type", "infrastructure")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.NotContains(t, res.Stdout, "schemas/", "the schema exists: polc new leaves it alone")
	meta := filepath.Join(root, "modules", "infrastructure", "security-core", "module.yaml")
	data, err := os.ReadFile(meta)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(meta, append(data, "  provides:\n    apis: [kyverno.io]\n"...), 0o644))
	res = Polc(t, root, "compile", "--flux", "clusters/home/generated")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Empty(t, res.Stderr)
	data, err = os.ReadFile(filepath.Join(root, "clusters", "home", "generated", "security-core.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(data), "name: infra-security-core-policies")
	res = Polc(t, root, "compile", "--flux", "clusters/lab", "web")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stderr, "note: clusters/lab deploys no policy pack: module security-core")
	res = Polc(t, root, "check", "--fail-on", "warning")
	require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
}

// TestNewModuleFreshLayouts: polc new creates the configured modules directory, however deep,
// and the module.yaml modeline reaches the schema from there.
func TestNewModuleFreshLayouts(t *testing.T) {
	for _, tc := range []struct {
		name, config, file string
		args               []string
	}{
		{name: "default", file: "modules/components/audit/module.yaml", args: []string{"audit", "--type", "component"}},
		{name: "nested modulesDir", config: "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modulesDir: kubernetes/catalog\n",
			file: "kubernetes/catalog/infrastructure/dns-core/module.yaml", args: []string{"dns-core", "--type", "infrastructure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := freshRepo(t)
			if tc.config != "" {
				require.NoError(t, os.WriteFile(filepath.Join(root, "polc.yaml"), []byte(tc.config), 0o644))
			}
			res := Polc(t, root, append([]string{"new", "module"}, tc.args...)...)
			require.Equal(t, 0, res.Code, res.Stderr)
			requireModeline(t, root, tc.file)
			res = Polc(t, root, "check", "--fail-on", "warning")
			require.Equal(t, 0, res.Code, res.Stdout+res.Stderr)
		})
	}
}

// TestNewModuleSymlinkedSchemas: a schemas directory that is a symlink is never written through;
// polc new creates the module, and warns that the schema is missing.
func TestNewModuleSymlinkedSchemas(t *testing.T) {
	root, outside := freshRepo(t), t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "schemas")))
	res := Polc(t, root, "new", "module", "web", "--type", "application")
	require.Equal(t, 0, res.Code, res.Stderr)
	require.Contains(t, res.Stdout, "created modules/apps/web/module.yaml")
	require.Contains(t, res.Stderr, "warning: schemas/module.schema.json not written")
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries)
	res = Polc(t, root, "init")
	require.Equal(t, 2, res.Code, res.Stdout)
	require.Contains(t, res.Stderr, "symlink")
	require.NoFileExists(t, filepath.Join(root, "polc.yaml"))
}
