package check

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/rule"
)

func TestApplySeverities(t *testing.T) {
	cfg := module.DefaultConfig()
	cfg.Spec.Rules = map[string]module.RuleConfig{
		"labels/module":   {Severity: "warning"},
		"labels/app-name": {Severity: "off"},
		"deps/direction":  {Severity: "error"},
	}
	in := []rule.Finding{
		{Rule: "labels/module", Severity: rule.Error, Message: "a"},
		{Rule: "labels/app-name", Severity: rule.Error, Message: "b"},
		{Rule: "deps/direction", Severity: rule.Warning, Message: "c"},
		{Rule: "deps/cycle", Severity: rule.Error, Message: "d"},
		{Rule: "labels/app-name", Severity: rule.Warning, Message: "e"},
	}
	got := applySeverities(cfg, slices.Clone(in))
	require.Equal(t, []rule.Finding{
		{Rule: "labels/module", Severity: rule.Warning, Message: "a"},
		{Rule: "deps/direction", Severity: rule.Error, Message: "c"},
		{Rule: "deps/cycle", Severity: rule.Error, Message: "d"},
	}, got, "overrides applied, off rules dropped, others untouched, order kept")
}

// fakeRepo builds a loaded repository by hand from module names.
func fakeRepo(names ...string) *rule.Repo {
	repo := &rule.Repo{Config: module.DefaultConfig(), ByName: map[string]*module.Module{}}
	for _, n := range names {
		m := &module.Module{Metadata: module.Metadata{Name: n}}
		repo.Modules = append(repo.Modules, m)
		repo.ByName[n] = m
	}
	return repo
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		want    map[string]bool
		wantErr string
	}{
		{name: "no names selects all", names: nil, want: nil},
		{name: "known names", names: []string{"media", "sso"}, want: map[string]bool{"media": true, "sso": true}},
		{name: "unknown module lists the known ones", names: []string{"media", "jellyfin"}, wantErr: `unknown module "jellyfin"; known modules: home-automation, media, sso, storage-core`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := fakeRepo("home-automation", "media", "sso", "storage-core")
			err := Select(repo, tc.names)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				var ce *ConfigError
				require.True(t, errors.As(err, &ce), "a usage error, exit code 2")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, repo.Selected)
		})
	}
}

func TestSort(t *testing.T) {
	pos := func(file string, line, col int) module.Pos { return module.Pos{File: file, Line: line, Column: col} }
	want := []rule.Finding{
		{Rule: "module/metadata", Pos: pos("modules/apps/media/kustomization.yaml", 0, 0), Message: "a"},
		{Rule: "labels/module", Pos: pos("modules/apps/media/kustomization.yaml", 2, 1), Message: "a"},
		{Rule: "labels/module", Pos: pos("modules/apps/media/kustomization.yaml", 10, 1), Message: "a"},
		{Rule: "labels/module", Pos: pos("modules/apps/media/kustomization.yaml", 10, 5), Message: "a"},
		{Rule: "deps/cycle", Pos: pos("modules/apps/media/module.yaml", 3, 1), Message: "z"},
		{Rule: "labels/module", Pos: pos("modules/apps/media/module.yaml", 3, 1), Message: "a"},
		{Rule: "labels/module", Pos: pos("modules/apps/media/module.yaml", 3, 1), Message: "b"},
		{Rule: "labels/module", Pos: pos("modules/apps/sso/module.yaml", 1, 1), Message: "a"},
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		got := slices.Clone(want)
		r.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		Sort(got)
		require.Equal(t, want, got)
	}

	t.Run("findings equal in every key keep their order", func(t *testing.T) {
		tied := []rule.Finding{
			{Rule: "labels/module", Pos: pos("a.yaml", 1, 1), Message: "m", Module: "first"},
			{Rule: "labels/module", Pos: pos("a.yaml", 1, 1), Message: "m", Module: "second"},
			{Rule: "labels/module", Pos: pos("a.yaml", 1, 1), Message: "m", Module: "third"},
		}
		got := []rule.Finding{{Rule: "z", Pos: pos("b.yaml", 1, 1)}}
		got = append(got, tied...)
		Sort(got)
		require.Equal(t, append(slices.Clone(tied), rule.Finding{Rule: "z", Pos: pos("b.yaml", 1, 1)}), got)
	})
}

// writeRepo creates files (slash-separated path to content) under a new temporary repository.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return root
}

// kindRule reports every object of a kind, at its metadata.name.
func kindRule(id, kind string, sev rule.Severity) rule.Rule {
	return rule.Rule{ID: id, Title: "test", Severity: sev, Scope: rule.ResourceScope, Remediation: "Fix it.", Kinds: []string{kind},
		CheckObject: func(_ *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
			return []rule.Violation{{Message: kind + " " + o.Ref.Name, Field: "metadata.name"}}
		}}
}

func TestRunExceptionsAndSeverities(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"polc.yaml": `apiVersion: polc.dev/v1alpha1
kind: Config
spec:
  rules:
    test/secret: {severity: warning}
    test/service: {severity: "off"}
`,
		"modules/apps/media/module.yaml": `apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: media
spec:
  type: application
  version: 1.0.0
  exceptions:
    - rule: test/configmap
      resources: [{kind: ConfigMap, name: excused}]
      reason: generated by the chart
      expires: 2027-06-30
    - rule: test/configmap
      resources: [{kind: ConfigMap, name: unexplained}]
      reason: "  "
`,
		"modules/apps/media/kustomization.yaml": "resources: [objects.yaml]\n",
		"modules/apps/media/objects.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: excused
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: checked
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: unexplained
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
---
apiVersion: v1
kind: Service
metadata:
  name: web
`,
	})
	rules := []rule.Rule{
		kindRule("test/configmap", "ConfigMap", rule.Error),
		kindRule("test/secret", "Secret", rule.Error),
		kindRule("test/service", "Service", rule.Error),
	}
	type row struct {
		rule, sev, at, msg string
		excepted           bool
	}
	run := func(now time.Time) ([]row, report.Summary) {
		res, err := Run(context.Background(), Options{Root: root, Rules: rules, Now: now})
		require.NoError(t, err)
		var out []row
		for _, f := range res.Findings {
			out = append(out, row{rule: f.Rule, sev: string(f.Severity), at: f.Pos.String(), msg: f.Message, excepted: f.Excepted})
		}
		return out, report.Summarize(res.Repo, res.Findings)
	}
	const file = "modules/apps/media/objects.yaml"

	got, sum := run(time.Date(2027, 6, 30, 12, 0, 0, 0, time.UTC))
	require.Equal(t, []row{
		{rule: "test/configmap", sev: "error", at: file + ":4:9", msg: "ConfigMap excused", excepted: true},
		{rule: "test/configmap", sev: "error", at: file + ":9:9", msg: "ConfigMap checked"},
		{rule: "test/configmap", sev: "error", at: file + ":14:9", msg: "ConfigMap unexplained"},
		{rule: "test/secret", sev: "warning", at: file + ":19:9", msg: "Secret creds"},
	}, got, "on its expiry day the exception still applies; a blank reason excuses nothing; overrides and off applied")
	require.Equal(t, report.Summary{Modules: 1, Objects: 5, Errors: 2, Warnings: 1, Excepted: 1,
		Coverage: report.Coverage{Objects: map[string]int{"kustomize": 5}, NotRendered: []report.Unrendered{}}}, sum)

	got, sum = run(time.Date(2027, 7, 1, 0, 0, 1, 0, time.UTC))
	require.False(t, got[0].excepted, "the day after the expiry the exception no longer applies")
	require.Equal(t, 3, sum.Errors)
	require.Zero(t, sum.Excepted)
}

func TestLoadRejectsUnknownRuleOverride(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"polc.yaml":                      "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  rules:\n    labels/modul: {severity: warning}\n",
		"modules/apps/media/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: media\nspec:\n  type: application\n  version: 1.0.0\n",
	})
	_, _, err := Load(root, []rule.Rule{kindRule("labels/module", "ConfigMap", rule.Error)})
	require.EqualError(t, err, "polc.yaml:5:19: spec.rules: unknown rule \"labels/modul\"; see `polc rules` for the 1 rules")
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
}

func TestLoadReportsBrokenMetadataAsFindings(t *testing.T) {
	root := writeRepo(t, map[string]string{
		"modules/apps/media/module.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: media\n  labels: {}\nspec:\n  type: app\n  version: 1.0.0\n",
		"modules/apps/sso/module.yaml":   "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: sso\nspec:\n  type: component\n  version: 1.0.0\n",
	})
	repo, findings, err := Load(root, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"sso"}, moduleNames(repo), "the broken module is left out")
	var got []string
	for _, f := range findings {
		require.Equal(t, rule.MetadataRule, f.Rule)
		require.Equal(t, "media", f.Module)
		got = append(got, f.Pos.String()+": "+f.Message)
	}
	require.Equal(t, []string{
		`modules/apps/media/module.yaml:5:3: metadata: unknown field "labels"; allowed fields: name`,
		`modules/apps/media/module.yaml:7:9: spec.type: invalid value "app"; allowed values: infrastructure, application, component`,
	}, got)
}

func TestComponentFindingsReportedOnce(t *testing.T) {
	app := func(name string) string {
		return "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + name + "\nspec:\n  type: application\n  version: 1.0.0\n  namespaces: [{name: " + name + "}]\n"
	}
	root := writeRepo(t, map[string]string{
		"modules/components/backup/module.yaml":        "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: backup\nspec:\n  type: component\n  version: 1.0.0\n",
		"modules/components/backup/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [secret.yaml]\n",
		"modules/components/backup/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: backup-creds\n",
		"modules/apps/media/module.yaml":               app("media"),
		"modules/apps/media/kustomization.yaml":        "namespace: media\ncomponents: [../../components/backup]\nresources: [cm.yaml]\n",
		"modules/apps/media/cm.yaml":                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n",
		"modules/apps/books/module.yaml":               app("books"),
		"modules/apps/books/kustomization.yaml":        "namespace: books\ncomponents: [../../components/backup]\n",
	})
	// A message that does not depend on the including module: the object's name only.
	secret := rule.Rule{ID: "test/secret", Title: "test", Severity: rule.Error, Scope: rule.ResourceScope, Remediation: "Fix it.", Kinds: []string{"Secret"},
		CheckObject: func(_ *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
			return []rule.Violation{{Message: "Secret " + o.Ref.Name, Field: "metadata.name"}}
		}}
	res, err := Run(context.Background(), Options{Root: root, Rules: []rule.Rule{secret, kindRule("test/configmap", "ConfigMap", rule.Warning)}})
	require.NoError(t, err)
	var got []string
	for _, f := range res.Findings {
		got = append(got, fmt.Sprintf("%s %s %s: %s [%s, %s]", f.Pos, f.Rule, f.Module, f.Message, f.Severity, f.Hint))
	}
	require.Equal(t, []string{
		"modules/apps/media/cm.yaml:4:9 test/configmap media: ConfigMap settings [warning, Fix it.]",
		"modules/components/backup/secret.yaml:4:9 test/secret backup: Secret backup-creds (component backup, included by modules books, media) [error, Fix it.]",
	}, got, "the component's object is reported once, at its file, naming the modules; the engine stamps rule, severity and hint")
	require.Equal(t, 1, report.Summarize(res.Repo, res.Findings).Errors)
}

func TestEngineStampsModuleAndRepoFindings(t *testing.T) {
	repo := rule.NewRepo("", module.DefaultConfig(), []*module.Module{{Metadata: module.Metadata{Name: "a"}}, {Metadata: module.Metadata{Name: "b"}}})
	var seen []string
	rules := []rule.Rule{
		{ID: "test/repo", Severity: rule.Warning, Scope: rule.RepoScope, Remediation: "Repo hint.",
			CheckRepo: func(r *rule.Repo) []rule.Finding {
				seen = slices.Sorted(maps.Keys(r.Rules))
				return []rule.Finding{{Message: "repo"}}
			}},
		{ID: "test/module", Severity: rule.Error, Scope: rule.ModuleScope, Remediation: "Module hint.",
			CheckModule: func(_ *rule.Repo, m *module.Module) []rule.Finding {
				return []rule.Finding{rule.ModuleFinding(m, "spec", "module")}
			}},
	}
	found, err := Evaluate(context.Background(), repo, rules, nil)
	require.NoError(t, err)
	found = Finalize(repo, found)
	var got []string
	for _, f := range found {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", f.Rule, f.Severity, f.Module, f.Message, f.Hint))
	}
	require.Equal(t, []string{
		"test/repo warning  repo Repo hint.",
		"test/module error a module Module hint.",
		"test/module error b module Module hint.",
	}, got)
	require.Equal(t, []string{"test/module", "test/repo"}, seen, "checks see the run's rules")
}

func TestFinalizeTakesEngineRulesFromTheRegistry(t *testing.T) {
	repo := rule.NewRepo("", module.DefaultConfig(), nil)
	repo.Rules = index([]rule.Rule{{ID: rule.RenderRule, Severity: rule.Warning, Remediation: "Registry hint."}})
	got := Finalize(repo, []rule.Finding{
		{Rule: rule.RenderRule, Message: "a"},
		{Rule: rule.RenderRule, Message: "b", Hint: "Specific hint."},
		{Rule: "test/unknown", Message: "c"},
		{Rule: rule.RenderRule, Severity: rule.Error, Message: "d"},
	})
	require.Equal(t, []rule.Finding{
		{Rule: rule.RenderRule, Severity: rule.Warning, Message: "a", Hint: "Registry hint."},
		{Rule: rule.RenderRule, Severity: rule.Warning, Message: "b", Hint: "Specific hint."},
		{Rule: rule.RenderRule, Severity: rule.Error, Message: "d"},
		{Rule: "test/unknown", Severity: rule.Error, Message: "c"},
	}, got, "severity and hint from the registry unless set; a rule the run lacks reports errors")
}
