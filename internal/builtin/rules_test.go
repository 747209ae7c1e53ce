package builtin

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// idPattern is the rule ID syntax: <category>/<kebab-name>.
var idPattern = regexp.MustCompile(`^[a-z]+/[a-z0-9]+(-[a-z0-9]+)*$`)

// TestRulesWellFormed polices the registry: IDs, metadata, and one check function per rule that
// matches its scope.
func TestRulesWellFormed(t *testing.T) {
	all := All()
	require.NotEmpty(t, all)
	// The loader and the renderer report these two; they have no check function of their own.
	engineRules := map[string]bool{rule.MetadataRule: true, rule.RenderRule: true, rule.RemoteRule: true}
	seen := map[string]bool{}
	for i, ru := range all {
		t.Run(ru.ID, func(t *testing.T) {
			require.Regexp(t, idPattern, ru.ID)
			require.False(t, seen[ru.ID], "duplicate rule ID")
			seen[ru.ID] = true
			if i > 0 {
				require.Less(t, all[i-1].ID, ru.ID, "All() must be sorted by ID")
			}
			require.NotEmpty(t, ru.Title)
			require.False(t, strings.HasSuffix(ru.Title, "."), "a title is not a sentence")
			require.NotEmpty(t, ru.Doc)
			require.NotContains(t, ru.Doc, "\n", "the doc is one paragraph")
			require.Contains(t, []rule.Severity{rule.Error, rule.Warning}, ru.Severity)
			require.True(t, strings.HasSuffix(ru.Remediation, "."), "remediation %q must end with a period", ru.Remediation)
			require.NotContains(t, strings.TrimSuffix(ru.Remediation, "."), ". ", "remediation must be one sentence")

			checks := map[rule.Scope]bool{
				rule.RepoScope:     ru.CheckRepo != nil,
				rule.ModuleScope:   ru.CheckModule != nil,
				rule.ResourceScope: ru.CheckObject != nil,
			}
			n := 0
			for _, set := range checks {
				if set {
					n++
				}
			}
			require.Contains(t, checks, ru.Scope, "unknown scope")
			if engineRules[ru.ID] {
				require.Zero(t, n, "%s is reported by the engine and has no check", ru.ID)
				return
			}
			require.Equal(t, 1, n, "exactly one check function must be set")
			require.True(t, checks[ru.Scope], "the check function must match scope %s", ru.Scope)
			if ru.Scope != rule.ResourceScope {
				require.Empty(t, ru.Kinds, "Kinds only applies to resource rules")
			}
		})
	}
}

// testFiles is a repository as a map of slash-separated paths to contents.
type testFiles map[string]string

// with returns a copy of files with more files added.
func (f testFiles) with(more testFiles) testFiles {
	out := testFiles{}
	for k, v := range f {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// moduleYAML returns a module.yaml whose spec lines follow type and version (lines 6 and 7), so
// the first extra spec line is line 8.
func moduleYAML(name, typ string, specLines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: %s\nspec:\n  type: %s\n  version: 1.0.0\n", name, typ)
	for _, l := range specLines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// testModule returns the files of a complete module in dir: module.yaml, a kustomization listing
// resources, a CHANGELOG.md for version 1.0.0 (not for components) and the resources.
func testModule(dir, typ string, resources testFiles, specLines ...string) testFiles {
	name := filepath.Base(dir)
	files := testFiles{dir + "/module.yaml": moduleYAML(name, typ, specLines...)}
	kust := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
	if typ == "component" {
		kust = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
	} else {
		files[dir+"/CHANGELOG.md"] = "# Changelog\n\n## [1.0.0] - 2026-01-01\n\n- First release.\n"
	}
	kust += "resources:\n"
	if len(resources) == 0 {
		kust = strings.Replace(kust, "resources:\n", "resources: []\n", 1)
	}
	for _, file := range slices.Sorted(maps.Keys(resources)) {
		kust += "  - " + file + "\n"
		files[dir+"/"+file] = resources[file]
	}
	files[dir+"/kustomization.yaml"] = kust
	return files
}

// namespaceYAML is a Namespace document with optional metadata lines (indented under metadata).
func namespaceYAML(name string, metadataLines ...string) string {
	s := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
	for _, l := range metadataLines {
		s += "  " + l + "\n"
	}
	return s
}

// configMapYAML is a ConfigMap document in namespace ns ("" for none).
func configMapYAML(name, ns string) string {
	s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
	if ns != "" {
		s += "  namespace: " + ns + "\n"
	}
	return s + "data:\n  key: value\n"
}

// loadTestRepo writes files to a temporary repository, loads it and renders every module, as
// `polc check` does before it runs the rules.
func loadTestRepo(t *testing.T, files testFiles) *rule.Repo {
	t.Helper()
	root := testutil.WriteRepo(t, files)
	repo, loadFindings, err := check.Load(root, All())
	require.NoError(t, err)
	require.Empty(t, loadFindings, "the test repository's metadata must load")
	check.Render(context.Background(), repo)
	return repo
}

// runRuleOn runs one rule over a repository and returns its findings as sorted
// "file:line: message" strings.
func runRuleOn(t *testing.T, ru rule.Rule, repo *rule.Repo) []string {
	t.Helper()
	findings, err := check.Evaluate(context.Background(), repo, []rule.Rule{ru}, nil)
	require.NoError(t, err)
	check.Sort(findings)
	out := make([]string, 0, len(findings))
	for _, f := range findings {
		require.Equal(t, ru.ID, f.Rule)
		require.Equal(t, ru.Severity, f.Severity)
		require.Equal(t, ru.Remediation, f.Hint)
		require.NotEmpty(t, f.Module)
		out = append(out, fmt.Sprintf("%s:%d: %s", f.Pos.File, f.Pos.Line, f.Message))
	}
	return out
}

// ruleCase is one repository and the findings one rule gives on it: each want entry must be a
// substring of the finding at the same index ("file:line: message").
type ruleCase struct {
	name  string
	files testFiles
	want  []string
}

// runRuleCases runs the cases of one rule.
func runRuleCases(t *testing.T, ru rule.Rule, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runRuleOn(t, ru, loadTestRepo(t, tc.files))
			require.Len(t, got, len(tc.want), "findings: %q", got)
			for i := range tc.want {
				require.Contains(t, got[i], tc.want[i])
			}
		})
	}
}

// media is a valid application module owning namespace media.
var media = testModule("modules/apps/media", "application",
	testFiles{"namespace.yaml": namespaceYAML("media"), "configmap.yaml": configMapYAML("settings", "media")},
	"namespaces:", "  - name: media")

func TestModuleName(t *testing.T) {
	long := strings.Repeat("a", 64)
	runRuleCases(t, ModuleName, []ruleCase{
		{name: "name equals directory", files: media},
		{name: "name differs from directory: free by default", files: testFiles{"modules/apps/music/app/module.yaml": moduleYAML("music", "application")}},
		{
			name: "name differs from directory, polc.yaml asks for directory names",
			files: testFiles{"modules/apps/music/module.yaml": moduleYAML("musik", "application"),
				"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  moduleNameIsDir: true\n"},
			want: []string{`modules/apps/music/module.yaml:4: metadata.name is "musik"; expected "music", the name of the module directory (polc.yaml spec.moduleNameIsDir)`},
		},
		{
			name:  "not a DNS-1123 label",
			files: testFiles{"modules/apps/Media_1/module.yaml": moduleYAML("Media_1", "application")},
			want:  []string{`modules/apps/Media_1/module.yaml:4: metadata.name "Media_1" is not a DNS-1123 label`},
		},
		{
			name:  "longer than 63 characters",
			files: testFiles{"modules/apps/" + long + "/module.yaml": moduleYAML(long, "application")},
			want:  []string{"is not a DNS-1123 label"},
		},
		{
			name: "duplicate names report each extra module.yaml",
			files: media.with(testFiles{
				"modules/legacy/media/module.yaml": moduleYAML("media", "application"),
				"modules/old/media/module.yaml":    moduleYAML("media", "application"),
			}),
			want: []string{
				`modules/legacy/media/module.yaml:4: module name "media" is already used by modules/apps/media/module.yaml`,
				`modules/old/media/module.yaml:4: module name "media" is already used by modules/apps/media/module.yaml`,
			},
		},
	})
}

func TestModuleTier(t *testing.T) {
	runRuleCases(t, ModuleTier, []ruleCase{
		{
			name: "tiers match names",
			files: testFiles{
				"modules/infrastructure/storage-core/module.yaml":  moduleYAML("storage-core", "infrastructure", "tier: core"),
				"modules/infrastructure/storage-extra/module.yaml": moduleYAML("storage-extra", "infrastructure", "tier: extra"),
				"modules/apps/media/module.yaml":                   moduleYAML("media", "application"),
				"modules/components/sso/module.yaml":               moduleYAML("sso", "component"),
			},
		},
		{
			name:  "name without the tier suffix",
			files: testFiles{"modules/infrastructure/storage/module.yaml": moduleYAML("storage", "infrastructure", "tier: core")},
			want:  []string{`modules/infrastructure/storage/module.yaml:8: module name "storage" does not end in "-core"`},
		},
		{
			name:  "suffix of the other tier",
			files: testFiles{"modules/infrastructure/storage-core/module.yaml": moduleYAML("storage-core", "infrastructure", "tier: extra")},
			want:  []string{`:8: module name "storage-core" does not end in "-extra"`},
		},
		{
			name:  "infrastructure without a tier",
			files: testFiles{"modules/infrastructure/net-extra/module.yaml": moduleYAML("net-extra", "infrastructure")},
			want:  []string{`modules/infrastructure/net-extra/module.yaml:6: spec.tier is missing; expected extra`},
		},
		{
			name: "application and component with a tier",
			files: testFiles{
				"modules/apps/media/module.yaml":     moduleYAML("media", "application", "tier: core"),
				"modules/components/sso/module.yaml": moduleYAML("sso", "component", "tier: extra"),
			},
			want: []string{
				`modules/apps/media/module.yaml:8: spec.tier is "core"; expected no tier for a module of type application`,
				`modules/components/sso/module.yaml:8: spec.tier is "extra"; expected no tier for a module of type component`,
			},
		},
	})
}

func TestModuleExtraNeedsCore(t *testing.T) {
	core := testFiles{"modules/infrastructure/storage-core/module.yaml": moduleYAML("storage-core", "infrastructure", "tier: core")}
	runRuleCases(t, ModuleExtraNeedsCore, []ruleCase{
		{
			name: "extra depends on its core",
			files: core.with(testFiles{"modules/infrastructure/storage-extra/module.yaml": moduleYAML("storage-extra", "infrastructure",
				"tier: extra", "dependsOn: [storage-core]")}),
		},
		{
			name:  "no core module",
			files: testFiles{"modules/infrastructure/storage-extra/module.yaml": moduleYAML("storage-extra", "infrastructure", "tier: extra")},
			want:  []string{`modules/infrastructure/storage-extra/module.yaml:4: extra module "storage-extra" has no core module; expected a module named "storage-core"`},
		},
		{
			name: "core only as a soft dependency",
			files: core.with(testFiles{"modules/infrastructure/storage-extra/module.yaml": moduleYAML("storage-extra", "infrastructure",
				"tier: extra", "dependsOn: [net-core]", "softDependsOn: [storage-core]"),
				"modules/infrastructure/net-core/module.yaml": moduleYAML("net-core", "infrastructure", "tier: core")}),
			want: []string{`modules/infrastructure/storage-extra/module.yaml:9: spec.dependsOn is [net-core]; expected it to include "storage-core"`},
		},
		{
			name:  "application named -extra is not an area",
			files: testFiles{"modules/apps/media-extra/module.yaml": moduleYAML("media-extra", "application")},
		},
	})
}

func TestModuleFiles(t *testing.T) {
	runRuleCases(t, ModuleFiles, []ruleCase{
		{name: "complete application", files: media},
		{
			name: "complete component without changelog",
			files: testModule("modules/components/sso", "component",
				testFiles{"configmap.yaml": configMapYAML("sso", "")}),
		},
		{
			name:  "missing changelog and kustomization",
			files: testFiles{"modules/apps/media/module.yaml": moduleYAML("media", "application")},
			want: []string{
				"modules/apps/media/module.yaml:1: modules/apps/media/CHANGELOG.md is missing; expected a CHANGELOG.md in every application module directory",
				"modules/apps/media/module.yaml:1: modules/apps/media/kustomization.yaml is missing",
			},
		},
		{
			name: "component of kind Kustomization that owns a namespace",
			files: testFiles{
				"modules/components/sso/module.yaml":        moduleYAML("sso", "component", "namespaces:", "  - name: sso"),
				"modules/components/sso/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
			},
			want: []string{
				`modules/components/sso/kustomization.yaml:2: kustomization kind is "Kustomization"; expected "Component"`,
				`modules/components/sso/module.yaml:9: component module declares namespaces [sso]; expected none`,
			},
		},
		{
			name: "component without kind",
			files: testFiles{
				"modules/components/sso/module.yaml":        moduleYAML("sso", "component"),
				"modules/components/sso/kustomization.yaml": "resources: []\n",
			},
			want: []string{`modules/components/sso/kustomization.yaml:1: kustomization kind is ""; expected "Component"`},
		},
		{
			name: "application of kind Component",
			files: media.with(testFiles{"modules/apps/media/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n" +
				"kind: Component\nresources: [namespace.yaml]\n"}),
			want: []string{`modules/apps/media/kustomization.yaml:2: kustomization kind is "Component"; expected "Kustomization" for a module of type application`},
		},
		{
			name:  "kustomization without kind is a Kustomization",
			files: media.with(testFiles{"modules/apps/media/kustomization.yaml": "resources: [namespace.yaml]\n"}),
		},
	})
}

func TestModuleVersion(t *testing.T) {
	withChangelog := func(version, changelog string) testFiles {
		return media.with(testFiles{
			"modules/apps/media/module.yaml":  strings.Replace(media["modules/apps/media/module.yaml"], "version: 1.0.0", "version: "+version, 1),
			"modules/apps/media/CHANGELOG.md": changelog,
		})
	}
	runRuleCases(t, ModuleVersion, []ruleCase{
		{name: "equals the newest heading", files: withChangelog("1.10.0", "# Changelog\n\n## [Unreleased]\n\n## [1.10.0] - 2026-02-01\n\n## [1.9.0] - 2026-01-01\n")},
		{name: "headings without brackets in any order", files: withChangelog("2.0.0", "## 1.0.0\n## 2.0.0 (2026-03-01)\n## 2.0.0-rc.1\n")},
		{name: "a release ranks above its pre-release", files: withChangelog("1.1.0", "## [1.1.0-rc.2]\n## [1.1.0]\n## [1.1.0-rc.10]\n")},
		{
			name:  "not semver",
			files: withChangelog("v1.0", "## [1.0.0]\n"),
			want:  []string{`modules/apps/media/module.yaml:7: spec.version "v1.0" is not a semantic version; expected MAJOR.MINOR.PATCH`},
		},
		{
			name:  "older than the changelog",
			files: withChangelog("1.0.0", "# Changelog\n\n## [1.1.0] - 2026-02-01\n\n## [1.0.0] - 2026-01-01\n"),
			want:  []string{"modules/apps/media/module.yaml:7: spec.version is 1.0.0; expected 1.1.0, the newest version in modules/apps/media/CHANGELOG.md (line 3)"},
		},
		{
			name:  "newer than the changelog",
			files: withChangelog("1.2.0", "## [1.1.0]\n### 1.2.0\n```\n## 1.3.0\n```\n"),
			want:  []string{"spec.version is 1.2.0; expected 1.1.0"},
		},
		{
			name:  "no version heading",
			files: withChangelog("1.0.0", "# Changelog\n\n## [Unreleased]\n"),
			want:  []string{"modules/apps/media/module.yaml:7: modules/apps/media/CHANGELOG.md has no version heading; expected one such as `## [1.0.0]`"},
		},
		{
			name:  "component without changelog",
			files: testFiles{"modules/components/sso/module.yaml": moduleYAML("sso", "component")},
		},
		{
			name:  "application without changelog is module/files' finding",
			files: testFiles{"modules/apps/media/module.yaml": moduleYAML("media", "application")},
		},
	})
}

func TestCompareSemver(t *testing.T) {
	// Each version ranks below the next one (semver.org, section 11).
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "10.0.0", "100000000000000000000.0.0"}
	for i := range order {
		for j := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			require.Equal(t, want, compareSemver(order[i], order[j]), "%s vs %s", order[i], order[j])
		}
	}
	require.Zero(t, compareSemver("1.0.0+build.1", "1.0.0+build.2"), "build metadata does not count")
}

// infraCore returns an infrastructure core module with the given extra spec lines.
func infraCore(name string, specLines ...string) testFiles {
	return testFiles{"modules/infrastructure/" + name + "/module.yaml": moduleYAML(name, "infrastructure", append([]string{"tier: core"}, specLines...)...)}
}

func TestDepsUnknown(t *testing.T) {
	runRuleCases(t, DepsUnknown, []ruleCase{
		{name: "known dependencies", files: infraCore("a-core").with(infraCore("b-core", "dependsOn: [a-core]", "softDependsOn: [a-core]"))},
		{
			name: "unknown hard and component soft dependencies",
			files: infraCore("a-core").with(infraCore("b-core", "dependsOn:", "  - a-core", "  - c-core", "softDependsOn: [sso]")).
				with(testFiles{"modules/components/sso/module.yaml": moduleYAML("sso", "component")}),
			want: []string{
				`modules/infrastructure/b-core/module.yaml:11: spec.dependsOn[1] names "c-core", which is not a module; expected the name of a module under modules`,
				`modules/infrastructure/b-core/module.yaml:12: spec.softDependsOn[0] names "sso", a component module`,
			},
		},
	})
}

func TestDepsCycle(t *testing.T) {
	runRuleCases(t, DepsCycle, []ruleCase{
		{name: "chain", files: infraCore("a-core").with(infraCore("b-core", "dependsOn: [a-core]"))},
		{name: "soft cycle is allowed", files: infraCore("a-core", "softDependsOn: [b-core]").with(infraCore("b-core", "dependsOn: [a-core]"))},
		{
			name: "three modules",
			files: infraCore("a-core", "dependsOn: [x-core, b-core]").with(infraCore("b-core", "dependsOn: [c-core]")).
				with(infraCore("c-core", "dependsOn: [a-core]")).with(infraCore("x-core")),
			want: []string{"modules/infrastructure/a-core/module.yaml:9: hard dependencies form a cycle: a-core -> b-core -> c-core -> a-core"},
		},
		{
			name:  "self dependency",
			files: infraCore("a-core", "dependsOn: [a-core]"),
			want:  []string{"modules/infrastructure/a-core/module.yaml:9: hard dependencies form a cycle: a-core -> a-core"},
		},
	})
}

func TestDepsDirection(t *testing.T) {
	extra := testFiles{"modules/infrastructure/a-extra/module.yaml": moduleYAML("a-extra", "infrastructure", "tier: extra", "dependsOn: [a-core]")}
	app := testFiles{"modules/apps/media/module.yaml": moduleYAML("media", "application", "dependsOn: [a-extra]")}
	runRuleCases(t, DepsDirection, []ruleCase{
		{name: "layers point down", files: infraCore("a-core", "softDependsOn: [a-extra]").with(extra).with(app)},
		{
			name:  "core hard-depends on extra",
			files: infraCore("a-core").with(extra).with(app).with(infraCore("b-core", "dependsOn: [a-extra]")),
			want:  []string{`modules/infrastructure/b-core/module.yaml:9: core module "b-core" hard-depends on extra module "a-extra"`},
		},
		{
			name: "infrastructure depends on an application",
			files: infraCore("a-core", "softDependsOn: [media]").with(app).with(testFiles{"modules/infrastructure/a-extra/module.yaml": moduleYAML("a-extra",
				"infrastructure", "tier: extra", "dependsOn: [a-core, media]")}),
			want: []string{
				`modules/infrastructure/a-core/module.yaml:9: infrastructure module "a-core" has a soft dependency on application module "media"`,
				`modules/infrastructure/a-extra/module.yaml:9: infrastructure module "a-extra" has a hard dependency on application module "media"`,
			},
		},
	})
}

// certs is an infrastructure module that provides cert-manager.io and owns namespace
// cert-manager, with a HelmRepository and an OCIRepository there.
var certs = testModule("modules/infrastructure/certs-core", "infrastructure", testFiles{
	"namespace.yaml": namespaceYAML("cert-manager"),
	"sources.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: jetstack\n  namespace: cert-manager\n" +
		"spec:\n  url: https://charts.jetstack.io\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n" +
		"  name: cert-manager\n  namespace: flux-system\nspec:\n  url: oci://quay.io/jetstack/charts/cert-manager\n",
}, "tier: core", "namespaces:", "  - name: cert-manager", "provides:", "  apis: [cert-manager.io]")

// mediaWith returns the media module with more resources and spec lines.
func mediaWith(resources testFiles, specLines ...string) testFiles {
	res := testFiles{"namespace.yaml": namespaceYAML("media")}
	for k, v := range resources {
		res[k] = v
	}
	return testModule("modules/apps/media", "application", res, append([]string{"namespaces:", "  - name: media"}, specLines...)...)
}

func TestDepsUndeclared(t *testing.T) {
	certificate := "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: tls\n  namespace: media\nspec:\n  secretName: tls\n"
	release := "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\n  namespace: media\nspec:\n" +
		"  chart:\n    spec:\n      chart: app\n      sourceRef:\n        kind: HelmRepository\n        name: jetstack\n        namespace: cert-manager\n"
	chartRef := "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: app\n  namespace: media\nspec:\n" +
		"  chartRef:\n    kind: OCIRepository\n    name: cert-manager\n    namespace: flux-system\n  dependsOn:\n    - name: other\n" +
		"    - name: cert-manager\n      namespace: cert-manager\n"
	runRuleCases(t, DepsUndeclared, []ruleCase{
		{name: "declared hard", files: certs.with(mediaWith(testFiles{"certificate.yaml": certificate, "release.yaml": release}, "dependsOn: [certs-core]"))},
		{name: "declared soft", files: certs.with(mediaWith(testFiles{"certificate.yaml": certificate, "release.yaml": release}, "softDependsOn: [certs-core]"))},
		{
			name:  "provided API group",
			files: certs.with(mediaWith(testFiles{"certificate.yaml": certificate})),
			want:  []string{`modules/apps/media/certificate.yaml:1: Certificate uses API group cert-manager.io, which belongs to module "certs-core"; expected "certs-core" in spec.dependsOn or spec.softDependsOn, which are []`},
		},
		{
			name:  "HelmRelease sourceRef into another module's namespace",
			files: certs.with(mediaWith(testFiles{"release.yaml": release})),
			want:  []string{`modules/apps/media/release.yaml:13: HelmRelease spec.chart.spec.sourceRef points at HelmRepository cert-manager/jetstack, which belongs to module "certs-core"`},
		},
		{
			name:  "HelmRelease chartRef to another module's object and dependsOn into its namespace, one finding",
			files: certs.with(mediaWith(testFiles{"release.yaml": chartRef})),
			want:  []string{`modules/apps/media/release.yaml:10: HelmRelease spec.chartRef points at OCIRepository flux-system/cert-manager, which belongs to module "certs-core"`},
		},
		{
			name:  "spec.uses names another module's namespace",
			files: certs.with(mediaWith(nil, "uses:", "  - namespace: cert-manager", "    kinds: [Certificate]")),
			want:  []string{`modules/apps/media/module.yaml:11: spec.uses names namespace cert-manager, which belongs to module "certs-core"; expected "certs-core" in spec.dependsOn or spec.softDependsOn, which are []`},
		},
		{name: "spec.uses with the owner declared", files: certs.with(mediaWith(nil, "dependsOn: [certs-core]", "uses:", "  - namespace: cert-manager"))},
		{
			name: "object of a shared kind in a shared namespace another module owns needs nothing of it",
			files: mediaWith(testFiles{"repo.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: flux-system\nspec:\n  url: https://charts.example.com\n"}).
				with(testModule("modules/infrastructure/flux-core", "infrastructure", testFiles{"ns.yaml": namespaceYAML("flux-system")}, "tier: core", "namespaces:", "  - name: flux-system")),
		},
		{
			name: "object in another module's namespace",
			files: certs.with(mediaWith(testFiles{"configmap.yaml": configMapYAML("ca", "cert-manager")}, "softDependsOn: [misc-core]")).
				with(infraCore("misc-core")),
			want: []string{`modules/apps/media/configmap.yaml:5: ConfigMap is placed in namespace cert-manager, which belongs to module "certs-core"; expected "certs-core" in spec.dependsOn or spec.softDependsOn, which are [misc-core]`},
		},
	})
}

func TestDepsNamespaceAnnotation(t *testing.T) {
	withNamespace := func(ns string, specLines ...string) testFiles {
		return infraCore("a-core").with(infraCore("b-core")).with(mediaWith(testFiles{"namespace.yaml": ns}, specLines...))
	}
	runRuleCases(t, DepsNamespaceAnnotation, []ruleCase{
		{name: "no dependencies, no annotation", files: withNamespace(namespaceYAML("media"))},
		{name: "no dependencies, empty annotation", files: withNamespace(namespaceYAML("media", "annotations:", `  polc.dev/depends-on: ""`))},
		{
			name:  "sorted hard dependencies",
			files: withNamespace(namespaceYAML("media", "annotations:", "  polc.dev/depends-on: a-core,b-core"), "dependsOn: [b-core, a-core]", "softDependsOn: [c-core]"),
		},
		{
			name:  "missing",
			files: withNamespace(namespaceYAML("media"), "dependsOn: [a-core]"),
			want:  []string{`modules/apps/media/namespace.yaml:4: annotation polc.dev/depends-on is missing; expected "a-core", the module's hard dependencies`},
		},
		{
			name:  "unsorted",
			files: withNamespace(namespaceYAML("media", "annotations:", "  polc.dev/depends-on: b-core,a-core"), "dependsOn: [a-core, b-core]"),
			want:  []string{`modules/apps/media/namespace.yaml:6: annotation polc.dev/depends-on is "b-core,a-core"; expected "a-core,b-core"`},
		},
		{
			name:  "namespace the module does not declare is not checked",
			files: withNamespace(namespaceYAML("media")+"---\n"+namespaceYAML("other"), "dependsOn: [a-core]"),
			want:  []string{`modules/apps/media/namespace.yaml:4: annotation polc.dev/depends-on is missing`},
		},
	})
}

func TestNamingNamespaceOwnership(t *testing.T) {
	music := testModule("modules/apps/music", "application", testFiles{"namespace.yaml": namespaceYAML("music") + "---\n" + namespaceYAML("shared")},
		"namespaces:", "  - name: music", "  - name: shared")
	clusterRole := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n"
	runRuleCases(t, NamingNamespaceOwnership, []ruleCase{
		{name: "objects in own namespace, cluster-scoped exempt", files: mediaWith(testFiles{"configmap.yaml": configMapYAML("a", "media"), "role.yaml": clusterRole})},
		{
			name:  "no namespace",
			files: mediaWith(testFiles{"configmap.yaml": configMapYAML("a", "")}),
			want:  []string{`modules/apps/media/configmap.yaml:4: object has no namespace; expected one of [media]`},
		},
		{
			name:  "no namespace and none declared",
			files: testModule("modules/apps/media", "application", testFiles{"configmap.yaml": configMapYAML("a", "")}),
			want:  []string{`modules/apps/media/configmap.yaml:4: object has no namespace and the module declares none`},
		},
		{
			name:  "another module's namespace",
			files: music.with(mediaWith(testFiles{"configmap.yaml": configMapYAML("a", "music")})),
			want:  []string{`modules/apps/media/configmap.yaml:5: namespace "music" is not one of the module's namespaces; expected one of [media] (music belongs to module "music": declare {namespace: music, kinds: [ConfigMap]} in spec.uses to write there)`},
		},
		{
			name:  "another module's namespace, declared in spec.uses for the kind",
			files: music.with(mediaWith(testFiles{"configmap.yaml": configMapYAML("a", "music")}, "softDependsOn: [music]", "uses:", "  - namespace: music", "    kinds: [ConfigMap]")),
		},
		{
			name:  "another module's namespace, spec.uses for other kinds",
			files: music.with(mediaWith(testFiles{"configmap.yaml": configMapYAML("a", "music")}, "uses:", "  - namespace: music", "    kinds: [Secret]")),
			want:  []string{`(music belongs to module "music": declare {namespace: music, kinds: [ConfigMap]} in spec.uses to write there)`},
		},
		{
			name:  "Flux sources in flux-system are shared by default; other kinds are not",
			files: mediaWith(testFiles{"repo.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: charts\n  namespace: flux-system\nspec:\n  url: https://charts.example.com\n", "configmap.yaml": configMapYAML("a", "flux-system")}),
			want:  []string{`modules/apps/media/configmap.yaml:5: namespace "flux-system" is not one of the module's namespaces; expected one of [media] (polc.yaml spec.sharedNamespaces does not list kind ConfigMap for flux-system)`},
		},
		{
			name: "a namespace polc.yaml shares for every kind",
			files: mediaWith(testFiles{"configmap.yaml": configMapYAML("a", "kube-system")}).with(testFiles{
				"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  sharedNamespaces:\n  - name: kube-system\n"}),
		},
		{
			name:  "undeclared Namespace object",
			files: mediaWith(testFiles{"extra.yaml": namespaceYAML("extra")}),
			want:  []string{`modules/apps/media/extra.yaml:4: Namespace "extra" is not declared by the module; expected one of spec.namespaces [media]`},
		},
		{
			name: "two owners: the second owner's Namespace is reported",
			files: music.with(testModule("modules/apps/media", "application", testFiles{"namespace.yaml": namespaceYAML("media") + "---\n" + namespaceYAML("shared")},
				"namespaces:", "  - name: media", "  - name: shared")),
			want: []string{`modules/apps/music/namespace.yaml:9: namespace "shared" is also declared by module "media" (modules/apps/media/module.yaml); expected a single owner`},
		},
	})
}

// fluxKs is a Flux Kustomization in flux-system named name, deploying path.
func fluxKs(name, path string) string {
	return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: " + name + "\n  namespace: flux-system\n" +
		"spec:\n  interval: 10m\n  path: " + path + "\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: platform\n"
}

// platform is the platform-core module, owning flux-system, with docs in its flux.yaml.
func platform(docs ...string) testFiles {
	return testModule("modules/infrastructure/platform-core", "infrastructure", testFiles{"flux.yaml": strings.Join(docs, "---\n")},
		"tier: core", "namespaces:", "  - name: flux-system")
}

func TestNamingFluxKustomization(t *testing.T) {
	runRuleCases(t, NamingFluxKustomization, []ruleCase{
		{
			name: "named after the modules",
			files: media.with(platform(fluxKs("apps-media", "./modules/apps/media"), fluxKs("infra-platform-core", "modules/infrastructure/platform-core/"),
				fluxKs("anything", "./clusters/home"))),
		},
		{
			name:  "wrong name",
			files: media.with(platform(fluxKs("media", "./modules/apps/media"))),
			want:  []string{`modules/infrastructure/platform-core/flux.yaml:4: Flux Kustomization for module "media" is named "media"; expected "apps-media"`},
		},
		{
			name:  "path under a prefix, prefixes from polc.yaml",
			files: media.with(platform(fluxKs("apps-media", "./platform/modules/apps/media"))).with(testFiles{"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  fluxPrefixes: {application: app}\n"}),
			want:  []string{`Flux Kustomization for module "media" is named "apps-media"; expected "app-media"`},
		},
	})
}

func TestLabelsAppName(t *testing.T) {
	service := func(labels ...string) string {
		s := "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: media\n"
		if len(labels) > 0 {
			s += "  labels:\n"
			for _, l := range labels {
				s += "    " + l + "\n"
			}
		}
		return s + "spec:\n  ports:\n    - port: 80\n"
	}
	runRuleCases(t, LabelsAppName, []ruleCase{
		{name: "labelled, and ConfigMaps are not checked", files: mediaWith(testFiles{"service.yaml": service("app.kubernetes.io/name: web"), "cm.yaml": configMapYAML("a", "media")})},
		{
			name:  "missing",
			files: mediaWith(testFiles{"service.yaml": service("app: web")}),
			want:  []string{`modules/apps/media/service.yaml:7: label app.kubernetes.io/name is missing; expected the application's name, such as "web"`},
		},
		{
			name:  "empty",
			files: mediaWith(testFiles{"service.yaml": service(`app.kubernetes.io/name: ""`)}),
			want:  []string{`modules/apps/media/service.yaml:7: label app.kubernetes.io/name is empty`},
		},
	})
}

// TestOneClockPerRun checks that the run's clock (Options.Now) decides both whether an exception
// excuses a finding and whether rule exceptions/valid reports it expired: before its expiry date
// the exception excuses and is not reported, after it the opposite, never both at once.
func TestOneClockPerRun(t *testing.T) {
	root := filepath.Join("..", "..", "tests", "testdata", "repos", "bad-exceptions-expired")
	tests := []struct {
		name        string
		now         time.Time
		wantExpired bool
	}{
		{name: "before the expiry date", now: time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC), wantExpired: false},
		{name: "after the expiry date", now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), wantExpired: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := check.Run(context.Background(), check.Options{Root: root, Rules: All(), Now: tc.now})
			require.NoError(t, err)
			var expired, excepted bool
			for _, f := range res.Findings {
				if f.Rule == ExceptionsValid.ID && strings.Contains(f.Message, "expired") {
					expired = true
				}
				if f.Rule == SecurityPodSecurity.ID && f.Excepted {
					excepted = true
				}
			}
			require.Equal(t, tc.wantExpired, expired, "exceptions/valid reports the exception expired")
			require.Equal(t, !tc.wantExpired, excepted, "the exception excuses the finding")
		})
	}
}
