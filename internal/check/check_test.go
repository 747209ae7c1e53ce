package check

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

func TestMatches(t *testing.T) {
	ex := module.Exception{Rule: "security/pod-security", Reason: "needed", Resources: []module.ResourceRef{
		{Kind: "DaemonSet", Name: "longhorn-manager"},
		{Kind: "Deployment", Name: "csi-attacher", Namespace: "longhorn-system"},
	}}
	tests := []struct {
		name string
		ref  rule.ObjectRef
		want bool
	}{
		{name: "kind and name, any namespace", ref: rule.ObjectRef{Kind: "DaemonSet", Name: "longhorn-manager", Namespace: "longhorn-system"}, want: true},
		{name: "kind and name, cluster-scoped", ref: rule.ObjectRef{Kind: "DaemonSet", Name: "longhorn-manager"}, want: true},
		{name: "second resource with its namespace", ref: rule.ObjectRef{Kind: "Deployment", Name: "csi-attacher", Namespace: "longhorn-system"}, want: true},
		{name: "namespace differs", ref: rule.ObjectRef{Kind: "Deployment", Name: "csi-attacher", Namespace: "default"}, want: false},
		{name: "kind differs", ref: rule.ObjectRef{Kind: "Deployment", Name: "longhorn-manager"}, want: false},
		{name: "name differs", ref: rule.ObjectRef{Kind: "DaemonSet", Name: "longhorn-driver"}, want: false},
		{name: "kind is case-sensitive", ref: rule.ObjectRef{Kind: "daemonset", Name: "longhorn-manager"}, want: false},
		{name: "name is matched exactly, not as a prefix", ref: rule.ObjectRef{Kind: "DaemonSet", Name: "longhorn-manager-2"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Matches(ex, tc.ref))
		})
	}
	require.False(t, Matches(module.Exception{Rule: "x"}, rule.ObjectRef{Kind: "DaemonSet", Name: "longhorn-manager"}), "no resources match nothing")
}

func TestExpired(t *testing.T) {
	ex := module.Exception{Expires: "2027-06-30"}
	tests := []struct {
		name string
		ex   module.Exception
		now  time.Time
		want bool
	}{
		{name: "well before", ex: ex, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), want: false},
		{name: "start of the expiry day", ex: ex, now: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), want: false},
		{name: "end of the expiry day is still valid", ex: ex, now: time.Date(2027, 6, 30, 23, 59, 59, 999, time.UTC), want: false},
		{name: "midnight after the expiry day", ex: ex, now: time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), want: false},
		{name: "just past midnight after the expiry day", ex: ex, now: time.Date(2027, 7, 1, 0, 0, 1, 0, time.UTC), want: true},
		{name: "a year later", ex: ex, now: time.Date(2028, 7, 1, 0, 0, 0, 0, time.UTC), want: true},
		{name: "the day is a UTC day", ex: ex, now: time.Date(2027, 7, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), want: false},
		{name: "no expiry never expires", ex: module.Exception{}, now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), want: false},
		{name: "malformed expiry is not expired here (exceptions/valid reports it)", ex: module.Exception{Expires: "30.06.2027"}, now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Expired(tc.ex, tc.now))
		})
	}
}

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
	got := applySeverities(cfg, nil, slices.Clone(in))
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
	run := func(now time.Time) ([]row, Summary) {
		res, err := Run(context.Background(), Options{Root: root, Rules: rules, Now: now})
		require.NoError(t, err)
		var out []row
		for _, f := range res.Findings {
			out = append(out, row{rule: f.Rule, sev: string(f.Severity), at: f.Pos.String(), msg: f.Message, excepted: f.Excepted})
		}
		return out, res.Summary
	}
	const file = "modules/apps/media/objects.yaml"

	got, sum := run(time.Date(2027, 6, 30, 12, 0, 0, 0, time.UTC))
	require.Equal(t, []row{
		{rule: "test/configmap", sev: "error", at: file + ":4:9", msg: "ConfigMap excused", excepted: true},
		{rule: "test/configmap", sev: "error", at: file + ":9:9", msg: "ConfigMap checked"},
		{rule: "test/configmap", sev: "error", at: file + ":14:9", msg: "ConfigMap unexplained"},
		{rule: "test/secret", sev: "warning", at: file + ":19:9", msg: "Secret creds"},
	}, got, "on its expiry day the exception still applies; a blank reason excuses nothing; overrides and off applied")
	require.Equal(t, Summary{Modules: 1, Objects: 5, Errors: 2, Warnings: 1, Excepted: 1}, sum)

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
		require.Equal(t, MetadataRule, f.Rule)
		require.Equal(t, "media", f.Module)
		got = append(got, f.Pos.String()+": "+f.Message)
	}
	require.Equal(t, []string{
		`modules/apps/media/module.yaml:5:3: metadata: unknown field "labels"; allowed fields: name`,
		`modules/apps/media/module.yaml:7:9: spec.type: invalid value "app"; allowed values: infrastructure, application, component`,
	}, got)
}
