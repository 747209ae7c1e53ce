package rego

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/graph"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// testRepo builds a repository of two modules: media (application, depends on net-core) and
// net-core (infrastructure).
func testRepo(t *testing.T) *rule.Repo {
	t.Helper()
	media, err := module.ParseModule("modules/apps/media/module.yaml", []byte(`apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: media
spec:
  type: application
  version: 1.0.0
  owner: media-team
  namespaces: [{name: media}]
  dependsOn: [net-core]
`))
	require.NoError(t, err)
	net, err := module.ParseModule("modules/infrastructure/net-core/module.yaml", []byte(`apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: net-core
spec:
  type: infrastructure
  tier: core
  version: 0.1.0
  namespaces: [{name: net, podSecurity: privileged, reason: CNI}]
`))
	require.NoError(t, err)
	repo := &rule.Repo{Root: t.TempDir(), Config: module.DefaultConfig(), Modules: []*module.Module{media, net},
		ByName: map[string]*module.Module{"media": media, "net-core": net}}
	repo.Graph = graph.New([]graph.Node{{Name: "media", Type: "application"}, {Name: "net-core", Type: "infrastructure", Tier: "core"}},
		[]graph.Edge{{From: "media", To: "net-core", Kind: graph.Hard}})
	return repo
}

// object parses a manifest as if it were rendered from file at line 1.
func object(t *testing.T, file, src string) *manifest.Object {
	t.Helper()
	n, err := yaml.Parse(src)
	require.NoError(t, err)
	return &manifest.Object{Node: n, Ref: manifest.RefOf(n), Pos: module.Pos{File: file, Line: 1, Column: 1}, Source: n}
}

const service = `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: media
spec:
  type: LoadBalancer
  ports:
    - port: 80
`

func TestCheckObject(t *testing.T) {
	tests := []struct {
		name   string
		policy map[string]string
		module string
		want   []rule.Finding
	}{
		{
			name: "string message in package main",
			policy: map[string]string{"main.rego": `package main
deny contains msg if {
	input.kind == "Service"
	msg := sprintf("%s in %s", [input.metadata.name, data.polc.module.name])
}`},
			module: "media",
			want: []rule.Finding{{Rule: "rego/main/deny", Severity: rule.Error, Message: "web in media",
				Pos: module.Pos{File: "svc.yaml", Line: 1, Column: 1}, Hint: "See the rule in main.rego."}},
		},
		{
			name: "object message with field, warn, METADATA",
			policy: map[string]string{"lb.rego": `# METADATA
# title: No load balancers
# custom:
#   remediation: Use ClusterIP.
package polc.lb
warn contains {"msg": "LoadBalancer", "field": "spec.type"} if input.spec.type == "LoadBalancer"
`},
			module: "media",
			want: []rule.Finding{{Rule: "rego/polc.lb/warn", Severity: rule.Warning, Message: "LoadBalancer", Field: "spec.type",
				Pos: module.Pos{File: "svc.yaml", Line: 7, Column: 9}, Hint: "Use ClusterIP."}},
		},
		{
			name: "custom severity and module-aware data",
			policy: map[string]string{"dep.rego": `# METADATA
# custom:
#   severity: warning
package polc.deps
deny contains msg if {
	some dep in data.polc.module.dependsOn
	data.polc.modules[dep].type == "infrastructure"
	"media" in data.polc.modules[dep].dependents
	msg := sprintf("%s (%s) needs %s (%s)", [data.polc.module.name, data.polc.module.namespaces[0].podSecurity, dep, data.polc.modules[dep].namespaces[0].podSecurity])
}`},
			module: "media",
			want: []rule.Finding{{Rule: "rego/polc.deps/deny", Severity: rule.Warning, Message: "media (restricted) needs net-core (privileged)",
				Pos: module.Pos{File: "svc.yaml", Line: 1, Column: 1}, Hint: "See the rule in dep.rego."}},
		},
		{
			name: "other packages are libraries, not rules",
			policy: map[string]string{"lib.rego": `package lib.k8s
deny contains "never reported" if true`},
			module: "media",
		},
		{
			name: "typed paths through imports, libraries and the graph",
			policy: map[string]string{
				"lib/names.rego": "package polc.names\n\nlabel(m) := sprintf(\"%s/%s\", [m.type, m.name])\n",
				"deps.rego": `package polc.deps

import data.polc.names

deny contains msg if {
	some e in data.polc.graph.edges
	e.from == data.polc.module.name
	e.kind == "hard"
	some wave in data.polc.graph.waves
	e.to in wave
	input.metadata.namespace == data.polc.module.namespaces[0].name
	msg := sprintf("%s needs %s", [names.label(data.polc.module), names.label(data.polc.modules[e.to])])
}`,
			},
			module: "media",
			want: []rule.Finding{{Rule: "rego/polc.deps/deny", Severity: rule.Error, Message: "application/media needs infrastructure/net-core",
				Pos: module.Pos{File: "svc.yaml", Line: 1, Column: 1}, Hint: "See the rule in deps.rego."}},
		},
		{
			name: "no finding for another module",
			policy: map[string]string{"main.rego": `package main
deny contains "application" if data.polc.module.type == "application"`},
			module: "net-core",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := testutil.WriteRepo(t, tc.policy)
			p, err := Load(dir, dir)
			require.NoError(t, err)
			repo := testRepo(t)
			check, err := p.Bind(context.Background(), repo)
			require.NoError(t, err)
			o := object(t, "svc.yaml", service)
			got, err := check(repo.ByName[tc.module], o)
			require.NoError(t, err)
			for i := range tc.want {
				tc.want[i].Module = tc.module
				tc.want[i].Object = &o.Ref
			}
			if tc.want == nil {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// TestWarnings checks the warning about deny and warn rules in packages that polc does not
// evaluate, which never run.
func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		policy map[string]string
		want   []string
	}{
		{
			name:   "library package",
			policy: map[string]string{"lib.rego": "package lib.k8s\n\ndeny contains \"x\" if true\n"},
			want:   []string{"lib.rego:3:1: polc_warning: rule deny of package lib.k8s never runs: polc evaluates deny and warn rules only in package main and packages polc.<name>; rename the package, or use the rule from one of those"},
		},
		{
			name:   "nested polc package, reported once per rule",
			policy: map[string]string{"team/lb.rego": "package polc.team.lb\n\ndeny contains \"x\" if true\n\ndeny contains \"y\" if false\n\nwarn contains \"z\" if true\n"},
			want: []string{
				"team/lb.rego:3:1: polc_warning: rule deny of package polc.team.lb never runs: ",
				"team/lb.rego:7:1: polc_warning: rule warn of package polc.team.lb never runs: ",
			},
		},
		{
			name: "library rules used by an evaluated package",
			policy: map[string]string{
				"lib.rego":  "package lib.k8s\n\ndeny contains \"x\" if true\n",
				"main.rego": "package main\n\nimport data.lib.k8s\n\ndeny contains msg if some msg in k8s.deny\n",
			},
		},
		{
			name: "evaluated packages and helpers",
			policy: map[string]string{
				"main.rego": "package main\n\ndeny contains \"x\" if false\n",
				"lb.rego":   "package polc.lb\n\nwarn contains \"x\" if false\n",
				"lib.rego":  "package lib\n\nallow if true\n",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := testutil.WriteRepo(t, tc.policy)
			p, err := Load(dir, dir)
			require.NoError(t, err)
			got := p.Warnings()
			require.Len(t, got, len(tc.want), "%q", got)
			for i := range tc.want {
				require.True(t, strings.HasPrefix(got[i], tc.want[i]), "warning %q does not start with %q", got[i], tc.want[i])
			}
		})
	}
}

// TestWarningsFixture checks the warning on the policy that the CLI tests run.
func TestWarningsFixture(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", "tests", "testdata", "policies"))
	require.NoError(t, err)
	p, err := Load(filepath.Join(root, "ignored"), root)
	require.NoError(t, err)
	require.Equal(t, []string{"ignored/team.rego:4:1: polc_warning: rule deny of package team.rules never runs: polc evaluates deny and warn rules only in package main and packages polc.<name>; rename the package, or use the rule from one of those"}, p.Warnings())
	require.Equal(t, "rego/polc.owner/deny", p.Rules()[0].ID)
	require.Len(t, p.Rules(), 1)
}

func TestModuleDataNamespaceDefault(t *testing.T) {
	repo := testRepo(t)
	d := Data(repo)["modules"].(map[string]any)["media"].(map[string]any)
	require.Equal(t, []any{map[string]any{"name": "media", "podSecurity": "restricted", "reason": ""}}, d["namespaces"])
	require.Equal(t, []any{"net-core"}, d["dependsOn"])
	require.Equal(t, "media-team", d["owner"])
}

func TestRules(t *testing.T) {
	dir := testutil.WriteRepo(t, map[string]string{
		"a.rego":      "package main\ndeny contains 1 if false\nwarn contains 1 if false\n",
		"b.rego":      "# METADATA\n# title: B\n# description: Why B.\npackage polc.b\ndeny contains 1 if false\n",
		"b_test.rego": "package polc.b\ntest_x if true\n",
	})
	p, err := Load(dir, dir)
	require.NoError(t, err)
	var ids []string
	for _, r := range p.Rules() {
		ids = append(ids, r.ID)
		require.Equal(t, rule.ResourceScope, r.Scope)
	}
	require.Equal(t, []string{"rego/main/deny", "rego/main/warn", "rego/polc.b/deny"}, ids)
	require.Equal(t, "B", p.Rules()[2].Title)
	require.Equal(t, "Why B.", p.Rules()[2].Doc)
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name   string
		policy map[string]string
		want   string
	}{
		{
			name:   "syntax error",
			policy: map[string]string{"sub/bad.rego": "package main\n\ndeny contains msg if {\n\tinput.kind ==\n}\n"},
			want:   "sub/bad.rego:5:1: rego_parse_error:",
		},
		{
			name:   "rego v0 syntax",
			policy: map[string]string{"old.rego": "package main\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n"},
			want:   "old.rego:3:",
		},
		{
			name:   "unsafe variable",
			policy: map[string]string{"unsafe.rego": "package main\n\ndeny contains msg if {\n\tinput.kind == \"x\"\n}\n"},
			want:   "unsafe.rego:3:15: rego_unsafe_var_error: var msg is unsafe",
		},
		{
			name:   "misspelled field under data.polc.module",
			policy: map[string]string{"typo.rego": "package main\n\ndeny contains \"x\" if {\n\tdata.polc.module.spec.type == \"application\"\n}\n"},
			want:   `typo.rego:4:2: rego_type_error: undefined ref: data.polc.module.spec.type: "spec" is not one of dependents, dependsOn, description, dir, exceptions, name, namespaces, owner, provides, softDependsOn, tier, type, version`,
		},
		{
			name:   "misspelled document of data.polc",
			policy: map[string]string{"typo.rego": "package polc.lb\n\ndeny contains \"x\" if data.polc.modul.type == \"application\"\n"},
			want:   `typo.rego:3:22: rego_type_error: undefined ref: data.polc.modul.type: "modul" is not one of graph, lb, module, modules`,
		},
		{
			name:   "field that modules do not have",
			policy: map[string]string{"typo.rego": "package main\n\nwarn contains \"x\" if {\n\tdata.polc.module.kind == \"Module\"\n}\n"},
			want:   `typo.rego:4:2: rego_type_error: undefined ref: data.polc.module.kind: "kind" is not one of`,
		},
		{
			name:   "misspelled metadata field of input",
			policy: map[string]string{"typo.rego": "package main\n\ndeny contains input.metadata.nmae if true\n"},
			want:   `typo.rego:3:15: rego_type_error: undefined ref: input.metadata.nmae: "nmae" is not one of annotations,`,
		},
		{
			name: "misspelled field through an import, a variable, an else and a function",
			policy: map[string]string{"typo.rego": `package polc.x

import data.polc.module as mod

deny contains "a" if mod.typ == "application"

deny contains "b" if {
	some ns in data.polc.module.namespaces
	ns.level == "privileged"
}

level := "a" if input.kind == "Pod" else := "b" if data.polc.module.tiers == "core"

owner(m) := data.polc.modules[m].owner if data.polc.graph.edge
`},
			want: `typo.rego:5:22: rego_type_error: undefined ref: data.polc.module.typ: "typ" is not one of dependents, dependsOn, description, dir, exceptions, name, namespaces, owner, provides, softDependsOn, tier, type, version
  typo.rego:9:2: rego_type_error: undefined ref: ns.level: "level" is not one of name, podSecurity, reason
  typo.rego:12:37: rego_type_error: undefined ref: data.polc.module.tiers: "tiers" is not one of dependents, dependsOn, description, dir, exceptions, name, namespaces, owner, provides, softDependsOn, tier, type, version
  typo.rego:14:43: rego_type_error: undefined ref: data.polc.graph.edge: "edge" is not one of edges, waves`,
		},
		{
			name:   "reserved package",
			policy: map[string]string{"m.rego": "package polc.modules\n\nx := 1\n"},
			want:   "m.rego:1:1: polc_error: package polc.modules shadows data.polc.modules",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := testutil.WriteRepo(t, tc.policy)
			_, err := Load(dir, dir)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing"), "")
	require.ErrorContains(t, err, "read policy directory")
}

func TestBadMessage(t *testing.T) {
	dir := testutil.WriteRepo(t, map[string]string{"main.rego": "package main\ndeny contains {\"message\": \"x\"} if true\n"})
	p, err := Load(dir, dir)
	require.NoError(t, err)
	repo := testRepo(t)
	check, err := p.Bind(context.Background(), repo)
	require.NoError(t, err)
	_, err = check(repo.ByName["media"], object(t, "svc.yaml", service))
	require.ErrorContains(t, err, "evaluate rego/main/deny on Service/media/web: message")
}

func TestValue(t *testing.T) {
	n, err := yaml.Parse("a: 1\nb: 1.5\nc: true\nd: null\ne: \"1\"\nf: [x, 2]\ng: 2026-01-01\nh: &x {k: v}\ni: *x\n")
	require.NoError(t, err)
	want := ast.MustParseTerm(`{"a": 1, "b": 1.5, "c": true, "d": null, "e": "1", "f": ["x", 2], "g": "2026-01-01", "h": {"k": "v"}, "i": {"k": "v"}}`).Value
	require.Equal(t, 0, want.Compare(Value(n.YNode())), "got %v", Value(n.YNode()))
}

// TestExamples runs the example policies' Rego tests, as `opa test policy/examples` does.
func TestExamples(t *testing.T) {
	ctx := context.Background()
	mods, store, err := tester.LoadWithRegoVersion([]string{"../../policy/examples"}, nil, ast.RegoV1)
	require.NoError(t, err)
	ch, err := tester.NewRunner().SetStore(store).SetModules(mods).RunTests(ctx, nil)
	require.NoError(t, err)
	n := 0
	for r := range ch {
		n++
		require.NoError(t, r.Error, r.Name)
		require.False(t, r.Fail, "%s.%s failed", r.Package, r.Name)
	}
	require.GreaterOrEqual(t, n, 7, "the examples' tests did not run")
	// The examples also load as a polc policy.
	p, err := Load("../../policy/examples", "")
	require.NoError(t, err)
	require.Len(t, p.Rules(), 2)
}

// TestConcurrentEval evaluates one prepared policy from many goroutines, as polc check does
// (run with -race).
func TestConcurrentEval(t *testing.T) {
	p, err := Load("../../policy/examples", "")
	require.NoError(t, err)
	repo := testRepo(t)
	check, err := p.Bind(context.Background(), repo)
	require.NoError(t, err)
	o := object(t, "svc.yaml", service)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 20 {
				f, err := check(repo.ByName["media"], o)
				if err == nil && len(f) != 1 {
					err = fmt.Errorf("got %d findings, expected the LoadBalancer one", len(f))
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}
