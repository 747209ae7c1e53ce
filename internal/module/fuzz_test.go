package module

import (
	"slices"
	"strings"
	"testing"
)

// seeds are valid and invalid metadata samples that start the fuzzers off.
var seeds = []string{
	validModule,
	minimalModule,
	"---\n" + minimalModule + "---\n",
	minimalModule + "  dependson: [a]\n",
	minimalModule + "  type: component\n",
	minimalModule + "  dependsOn: security-core\n",
	minimalModule + "  tier: premium\n",
	minimalModule + "  namespaces:\n    - name: media\n      podSecurity: root\n",
	minimalModule + "  exceptions:\n    - rule: labels/module\n      resources: []\n",
	minimalModule + "  ? [a]\n  : b\n",
	minimalModule + "---\n" + minimalModule,
	minimalModule + "---\n[\n",
	strings.Replace(minimalModule, "name: media", "name: true", 1),
	strings.Replace(minimalModule, "name: media", `name: ""`, 1),
	"apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata: ~\nspec: {}\n",
	"apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata: &m\n  name: media\nspec: *m\n",
	billionLaughs("  dependsOn: *i\n"),
	"apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modulesDir: src/modules\n  substitute: {cluster_domain: example.com}\n  kyverno: {target: ValidatingPolicy, action: Audit, tierActions: {core: Enforce}}\n  rules: {labels/module: {severity: warning}}\n",
	"apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modulesDir: ../x\n",
	"apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  fluxPrefixes: {app: apps}\n  substitute: {replicas: 3}\n",
	"",
	"---\n",
	"- a\n",
	"a: [\n",
	"\t- a\n",
	"{a: 1, a: 2}\n",
	"!!binary aGVsbG8=\n",
}

// FuzzParseModule checks that no input makes ParseModule panic, and that an accepted module holds
// the facts its required fields promise.
func FuzzParseModule(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseModule(moduleFile, data)
		if err != nil {
			if m != nil {
				t.Fatalf("module returned together with error %v", err)
			}
			de, ok := err.(*DecodeError)
			if !ok || len(de.Errors) == 0 {
				t.Fatalf("error is not a non-empty *DecodeError: %T %v", err, err)
			}
			for _, fe := range de.Errors {
				if fe.Pos.File != moduleFile || fe.Pos.Line < 1 || fe.Message == "" {
					t.Fatalf("error without a position or message: %#v", fe)
				}
			}
			return
		}
		if m.APIVersion != APIVersion || m.Kind != "Module" {
			t.Fatalf("accepted apiVersion %q kind %q", m.APIVersion, m.Kind)
		}
		if m.Name() == "" || m.Spec.Version == "" {
			t.Fatalf("accepted a module with an empty required field: name %q version %q", m.Name(), m.Spec.Version)
		}
		if !slices.Contains(Type("").Allowed(), string(m.Spec.Type)) {
			t.Fatalf("accepted type %q", m.Spec.Type)
		}
		if m.Spec.Tier != "" && !slices.Contains(Tier("").Allowed(), string(m.Spec.Tier)) {
			t.Fatalf("accepted tier %q", m.Spec.Tier)
		}
		for _, ns := range m.Spec.Namespaces {
			if ns.Name == "" || !slices.Contains(Level("").Allowed(), string(ns.Level())) {
				t.Fatalf("accepted namespace %+v", ns)
			}
		}
		for _, ex := range m.Spec.Exceptions {
			if ex.Rule == "" || len(ex.Resources) == 0 {
				t.Fatalf("accepted exception %+v", ex)
			}
		}
		if p := m.Pos("metadata.name"); p.File != moduleFile || p.Line < 1 {
			t.Fatalf("metadata.name has no position: %v", p)
		}
		// Round trip: the same bytes load to the same facts.
		again, err := ParseModule(moduleFile, data)
		if err != nil || again.Name() != m.Name() || again.Spec.Type != m.Spec.Type || !slices.Equal(again.Spec.DependsOn, m.Spec.DependsOn) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

// FuzzParseConfig checks that no input makes ParseConfig panic, and that an accepted config has
// every default filled and directories that stay inside the repository.
func FuzzParseConfig(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(ConfigFile, data)
		if err != nil {
			if c != nil {
				t.Fatalf("config returned together with error %v", err)
			}
			if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("error is not a *DecodeError: %T %v", err, err)
			}
			return
		}
		s := c.Spec
		if s.ModulesDir == "" || s.PoliciesDir == "" || s.Domain == "" || s.Substitute == nil || s.Rules == nil || s.FluxPrefixes == nil {
			t.Fatalf("default missing: %+v", s)
		}
		if !slices.Contains(Target("").Allowed(), string(s.Kyverno.Target)) || !slices.Contains(Action("").Allowed(), string(s.Kyverno.Action)) {
			t.Fatalf("accepted kyverno %+v", s.Kyverno)
		}
		for _, dir := range []string{s.ModulesDir, s.PoliciesDir} {
			if _, err := Resolve("/repo", dir); err != nil && strings.Contains(err.Error(), "leaves the repository") {
				t.Fatalf("accepted directory %q: %v", dir, err)
			}
		}
		for name := range s.Substitute {
			if !IsVarName(name) {
				t.Fatalf("accepted substitute variable %q", name)
			}
		}
		for id, rc := range s.Rules {
			if !slices.Contains(RuleSeverity("").Allowed(), string(rc.Severity)) {
				t.Fatalf("accepted severity %q for %s", rc.Severity, id)
			}
		}
	})
}
