package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// testRules is a small registry: what SARIF turns into tool.driver.rules.
var testRules = []rule.Rule{
	{ID: "deps/cycle", Title: "Hard dependencies form no cycle", Severity: rule.Error, Scope: rule.RepoScope,
		Doc: "Modules deploy in dependency order; a cycle has no order.", Remediation: "Remove one dependency of the cycle."},
	{ID: "labels/module", Title: "Objects carry the module labels", Severity: rule.Error, Scope: rule.ResourceScope,
		Doc: "Every rendered object carries <domain>/module and <domain>/module-type.", Remediation: "Add a kustomize labels transformer."},
	{ID: "security/image-digest", Title: "Images are pinned by digest", Severity: rule.Warning, Scope: rule.ResourceScope,
		Doc: "Tags move; digests do not.", Remediation: "Pin the image by digest."},
}

// testFindings covers what the formats must handle: an error on an object with line and column,
// a warning without a column, an excepted finding, a repository-wide finding without a line, a
// rule outside the registry, and text that needs escaping in every format.
var testFindings = []rule.Finding{
	{Rule: "deps/cycle", Severity: rule.Error, Pos: rule.Pos{File: "modules/apps/a/module.yaml", Line: 9, Column: 5},
		Field: "spec.dependsOn[0]", Message: "dependency cycle: a -> b -> a", Hint: "Remove one dependency of the cycle."},
	{Rule: "labels/module", Severity: rule.Error, Module: "media", Pos: rule.Pos{File: "modules/apps/media/deployment.yaml", Line: 3, Column: 1},
		Object: &rule.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "media", Name: "jellyfin"},
		Field:  "metadata.labels[polc.dev/module]", Message: `label polc.dev/module is missing; expected "media"`, Hint: "Add a kustomize labels transformer."},
	{Rule: "security/image-digest", Severity: rule.Warning, Module: "media", Pos: rule.Pos{File: "modules/apps/media/deployment.yaml", Line: 21},
		Object: &rule.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "media", Name: "jellyfin"},
		Field:  "spec.template.spec.containers[0].image", Message: `image "jellyfin/jellyfin:10.9" has no digest; expected <image>@sha256:<digest>`, Hint: "Pin the image by digest."},
	{Rule: "security/image-digest", Severity: rule.Warning, Module: "storage-core", Pos: rule.Pos{File: "modules/infrastructure/storage-core/daemonset.yaml", Line: 30, Column: 11},
		Object:  &rule.ObjectRef{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "longhorn-system", Name: "longhorn-manager"},
		Message: "image has no digest", Hint: "Pin the image by digest.", Excepted: true, Reason: "upstream publishes tags only, 100% checked by renovate"},
	{Rule: "custom/no-hostpath", Severity: rule.Error, Module: "odd", Pos: rule.Pos{File: "modules/apps/odd,name/with space:colon.yaml"},
		Message: "line one: 50% of \"volumes\" use <hostPath> & more\nline two,\r\nline three"},
}

var testSummary = Summary{Modules: 4, Objects: 37, Errors: 3, Warnings: 1, Excepted: 1}

func render(t *testing.T, format string, findings []rule.Finding, s Summary) []byte {
	t.Helper()
	return renderWith(t, format, Wrap(findings), s, false)
}

// renderWith renders reported findings; baseline says whether the run applied a baseline.
func renderWith(t *testing.T, format string, findings []Finding, s Summary, baseline bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	f, err := New(&buf, format, Options{Rules: testRules, Version: "1.2.3", Baseline: baseline})
	require.NoError(t, err)
	require.NoError(t, Write(f, findings, s))
	return buf.Bytes()
}

// baselined returns testFindings with the labels/module error and the media warning baselined.
func baselined() []Finding {
	out := Wrap(testFindings)
	out[1].Baselined, out[2].Baselined = true, true
	return out
}

// cases are the inputs every format is rendered from; each gives one golden file per format.
var cases = []struct {
	name     string
	findings []Finding
	summary  Summary
	// baseline is true when the run applied a baseline.
	baseline bool
}{
	{name: "findings", findings: Wrap(testFindings), summary: testSummary},
	{name: "baselined", findings: baselined(), baseline: true,
		summary: Summary{Modules: 4, Objects: 37, Errors: 2, Warnings: 0, Excepted: 1, Baselined: 2}},
	{name: "clean", findings: nil, summary: Summary{Modules: 4, Objects: 37, HelmReleases: 2, Coverage: Coverage{
		Objects: map[string]int{"kustomize": 37}, RemoteReferences: 1, NotRendered: []Unrendered{
			{Kind: "HelmRelease", Module: "media", Namespace: "media", Name: "jellyfin", File: "modules/apps/media/helmrelease.yaml", Line: 9, Reason: "not rendered"},
			{Kind: "HelmRelease", Module: "media", Namespace: "media", Name: "sonarr", File: "modules/apps/media/helmrelease.yaml", Line: 30, Reason: "not rendered"},
			{Kind: "FluxKustomization", Module: "apps", Namespace: "flux-system", Name: "apps-tools", File: "modules/apps/apps/ks.yaml", Line: 8, Reason: "not followed"},
		}}}},
}

func TestFormatsGolden(t *testing.T) {
	for _, format := range Formats() {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				got := renderWith(t, format, tc.findings, tc.summary, tc.baseline)
				testutil.Golden(t, filepath.Join("testdata", format+"-"+tc.name+".golden"), got)
				// Rendering twice gives the same bytes: no timestamps, no map order.
				require.Equal(t, string(got), string(renderWith(t, format, tc.findings, tc.summary, tc.baseline)))
			})
		}
	}
}

func TestNewUnknownFormat(t *testing.T) {
	_, err := New(&bytes.Buffer{}, "xml", Options{})
	require.EqualError(t, err, `unknown format "xml"; valid formats: github, json, junit, sarif, text`)
}

// sarifSchema compiles the official SARIF 2.1.0 JSON schema kept in testdata, with format
// assertions on (uri, uri-reference), which the schema's draft leaves to the validator.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("sarif-schema-2.1.0.json", doc))
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	require.NoError(t, err)
	return sch
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	sch := sarifSchema(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(renderWith(t, "sarif", tc.findings, tc.summary, tc.baseline)))
			require.NoError(t, err)
			require.NoError(t, sch.Validate(doc))
		})
	}
	t.Run("the real rule registry", func(t *testing.T) {
		var buf bytes.Buffer
		f, err := New(&buf, "sarif", Options{Rules: builtin.All(), Version: "0.0.0-test"})
		require.NoError(t, err)
		require.NoError(t, Write(f, Wrap(testFindings), testSummary))
		doc, err := jsonschema.UnmarshalJSON(&buf)
		require.NoError(t, err)
		require.NoError(t, sch.Validate(doc))
	})
	t.Run("the schema rejects an invalid log", func(t *testing.T) {
		// Guards the test itself: a region without startLine's minimum and a bad level must fail.
		bad := `{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"polc"}},"results":[{"message":{"text":"x"},"level":"fatal","locations":[{"physicalLocation":{"artifactLocation":{"uri":"a"},"region":{"startLine":0}}}]}]}]}`
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		require.NoError(t, err)
		require.Error(t, sch.Validate(doc))
	})
}

func TestSARIFResults(t *testing.T) {
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Name, Version string
					Rules         []struct {
						ID                   string
						DefaultConfiguration struct{ Level string }
					}
				}
			}
			Results []struct {
				RuleID              string
				RuleIndex           int
				Level               string
				PartialFingerprints map[string]string
				Suppressions        []struct{ Kind, Justification string }
				Locations           []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI, URIBaseID string }
						Region           *struct{ StartLine, StartColumn int }
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(render(t, "sarif", testFindings, testSummary), &log))
	require.Len(t, log.Runs, 1)
	run := log.Runs[0]
	require.Equal(t, "polc", run.Tool.Driver.Name)
	require.Equal(t, "1.2.3", run.Tool.Driver.Version)
	require.Equal(t, "warning", run.Tool.Driver.Rules[2].DefaultConfiguration.Level)
	require.Len(t, run.Results, len(testFindings))
	for i, res := range run.Results {
		f := testFindings[i]
		require.Equal(t, f.Rule, res.RuleID)
		require.Equal(t, f.Rule, run.Tool.Driver.Rules[res.RuleIndex].ID, "ruleIndex of %s", f.Rule)
		require.Equal(t, string(f.Severity), res.Level)
		require.Equal(t, "%SRCROOT%", res.Locations[0].PhysicalLocation.ArtifactLocation.URIBaseID)
		require.NotNil(t, res.Locations[0].PhysicalLocation.Region, "every result in a file has a region")
		require.Equal(t, max(f.Pos.Line, 1), res.Locations[0].PhysicalLocation.Region.StartLine)
		require.Equal(t, f.Pos.Column, res.Locations[0].PhysicalLocation.Region.StartColumn)
		require.Len(t, res.PartialFingerprints["polc/v1"], 32)
		require.NotNil(t, res.Suppressions, "suppressions on every result or on none")
		if f.Excepted {
			require.Equal(t, []struct{ Kind, Justification string }{{"external", f.Reason}}, res.Suppressions)
		} else {
			require.Empty(t, res.Suppressions)
		}
	}
	require.Equal(t, "modules/apps/odd,name/with%20space:colon.yaml", run.Results[4].Locations[0].PhysicalLocation.ArtifactLocation.URI)
}

// sarifOne renders one finding as SARIF and returns its result.
func sarifOne(t *testing.T, f rule.Finding) sarifResult {
	t.Helper()
	var log sarifLog
	require.NoError(t, json.Unmarshal(render(t, "sarif", []rule.Finding{f}, testSummary), &log))
	require.Len(t, log.Runs[0].Results, 1)
	return log.Runs[0].Results[0]
}

// TestSARIFRegion: every result in a file has a region with a startLine, which GitHub code
// scanning needs to show it; an unknown line is line 1, without a column.
func TestSARIFRegion(t *testing.T) {
	tests := []struct {
		name string
		pos  rule.Pos
		want *sarifRegion // nil: no location at all
	}{
		{name: "line and column", pos: rule.Pos{File: "a.yaml", Line: 9, Column: 5}, want: &sarifRegion{StartLine: 9, StartColumn: 5}},
		{name: "line only", pos: rule.Pos{File: "a.yaml", Line: 9}, want: &sarifRegion{StartLine: 9}},
		{name: "no line is line 1", pos: rule.Pos{File: "a.yaml"}, want: &sarifRegion{StartLine: 1}},
		{name: "a column without a line is dropped", pos: rule.Pos{File: "a.yaml", Column: 3}, want: &sarifRegion{StartLine: 1}},
		{name: "no file, no location", pos: rule.Pos{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := sarifOne(t, rule.Finding{Rule: "deps/cycle", Severity: rule.Error, Pos: tc.pos, Message: "m"})
			if tc.want == nil {
				require.Empty(t, res.Locations)
				return
			}
			require.Len(t, res.Locations, 1)
			require.Equal(t, tc.want, res.Locations[0].PhysicalLocation.Region)
		})
	}
}

// TestSARIFFingerprints: a finding keeps its partial fingerprint when only its position (or its
// object's apiVersion) changes, and gets another one when what it says or is about changes.
func TestSARIFFingerprints(t *testing.T) {
	base := rule.Finding{Rule: "security/image-digest", Severity: rule.Warning, Module: "media",
		Pos:    rule.Pos{File: "modules/apps/media/deployment.yaml", Line: 21, Column: 9},
		Object: &rule.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "media", Name: "jellyfin"},
		Field:  "spec.template.spec.containers[0].image", Message: "image has no digest", Hint: "Pin it."}
	fp := func(f rule.Finding) string {
		got := sarifOne(t, f).PartialFingerprints
		require.Len(t, got, 1, "one partial fingerprint, polc's")
		require.Regexp(t, `^[0-9a-f]{32}$`, got["polc/v1"])
		return got["polc/v1"]
	}
	with := func(change func(f *rule.Finding)) rule.Finding {
		f := base
		obj := *base.Object
		f.Object = &obj
		change(&f)
		return f
	}
	want := fp(base)
	tests := []struct {
		name   string
		change func(f *rule.Finding)
		same   bool
	}{
		{name: "line moves", change: func(f *rule.Finding) { f.Pos.Line = 121 }, same: true},
		{name: "column moves", change: func(f *rule.Finding) { f.Pos.Column = 1 }, same: true},
		{name: "line becomes unknown", change: func(f *rule.Finding) { f.Pos.Line, f.Pos.Column = 0, 0 }, same: true},
		{name: "object moves to another file", change: func(f *rule.Finding) { f.Pos.File = "modules/apps/media/app.yaml" }, same: true},
		{name: "apiVersion changes", change: func(f *rule.Finding) { f.Object.APIVersion = "apps/v1beta2" }, same: true},
		{name: "excepted", change: func(f *rule.Finding) { f.Excepted, f.Reason = true, "r" }, same: true},
		{name: "hint changes", change: func(f *rule.Finding) { f.Hint = "other" }, same: true},
		{name: "message changes", change: func(f *rule.Finding) { f.Message = "image has no tag" }},
		{name: "rule changes", change: func(f *rule.Finding) { f.Rule = "security/image-tag" }},
		{name: "module changes", change: func(f *rule.Finding) { f.Module = "media2" }},
		{name: "field changes", change: func(f *rule.Finding) { f.Field = "spec.template.spec.containers[1].image" }},
		{name: "object name changes", change: func(f *rule.Finding) { f.Object.Name = "jellyseerr" }},
		{name: "object namespace changes", change: func(f *rule.Finding) { f.Object.Namespace = "other" }},
		{name: "object kind changes", change: func(f *rule.Finding) { f.Object.Kind = "StatefulSet" }},
		{name: "no object", change: func(f *rule.Finding) { f.Object = nil }},
		{name: "parts do not run together", change: func(f *rule.Finding) { f.Field, f.Message = base.Field+base.Message, "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fp(with(tc.change))
			if tc.same {
				require.Equal(t, want, got)
			} else {
				require.NotEqual(t, want, got)
			}
		})
	}
	t.Run("findings without an object differ by file", func(t *testing.T) {
		a := rule.Finding{Rule: "module/files", Module: "m", Pos: rule.Pos{File: "modules/m/a.yaml", Line: 3}, Message: "m"}
		b := a
		b.Pos = rule.Pos{File: "modules/m/b.yaml", Line: 3}
		require.NotEqual(t, fp(a), fp(b))
		a2 := a
		a2.Pos.Line = 30
		require.Equal(t, fp(a), fp(a2))
	})
}

// junitReport is the JUnit shape as a CI parser reads it.
type junitReport struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Skipped  int         `xml:"skipped,attr"`
		Cases    []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

// parseJUnit reads a JUnit report with one suite.
func parseJUnit(t *testing.T, out []byte) (cases []junitCase, failures, skipped int) {
	t.Helper()
	var rep junitReport
	require.NoError(t, xml.Unmarshal(out, &rep))
	require.Len(t, rep.Suites, 1)
	s := rep.Suites[0]
	require.Equal(t, "polc", s.Name)
	require.Len(t, s.Cases, s.Tests)
	return s.Cases, s.Failures, s.Skipped
}

// renderJUnit renders findings as JUnit with the given --fail-on level.
func renderJUnit(t *testing.T, failOn rule.Severity, findings []rule.Finding) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(newJUnitFailOn(&buf, failOn), Wrap(findings), testSummary))
	return buf.Bytes()
}

func TestJUnitParses(t *testing.T) {
	tests := []struct {
		name                          string
		findings                      []rule.Finding
		tests, failures, skipped      int
		firstClassname, firstCaseName string
	}{
		{name: "findings", findings: testFindings, tests: 5, failures: 3, skipped: 1,
			firstClassname: "repository", firstCaseName: "deps/cycle modules/apps/a/module.yaml spec.dependsOn[0]"},
		{name: "clean run shows one passing case", findings: nil, tests: 1,
			firstClassname: "repository", firstCaseName: "polc check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cases, failures, skipped := parseJUnit(t, render(t, "junit", tc.findings, testSummary))
			require.Len(t, cases, tc.tests)
			require.Equal(t, tc.failures, failures)
			require.Equal(t, tc.skipped, skipped)
			require.Equal(t, tc.firstClassname, cases[0].Classname)
			require.Equal(t, tc.firstCaseName, cases[0].Name)
			for i, f := range tc.findings {
				c := cases[i]
				require.Equal(t, f.Pos.File, c.File)
				require.Equal(t, f.Pos.Line, c.Line)
				switch {
				case f.Excepted:
					require.Nil(t, c.Failure)
					require.Equal(t, "excepted: "+f.Reason, c.Skipped.Message)
				case f.Severity == rule.Error:
					require.Nil(t, c.Skipped)
					require.Equal(t, string(f.Severity), c.Failure.Type)
					require.Equal(t, f.Message, c.Failure.Message, "attribute round-trips newlines and quotes")
				default:
					require.Nil(t, c.Failure, "%s does not fail the run", f.Severity)
					require.Nil(t, c.Skipped)
					require.Contains(t, c.SystemOut, f.Message)
				}
			}
		})
	}
}

// TestJUnitFailures: a test case fails exactly when its finding fails the run, so the report and
// the exit code agree.
func TestJUnitFailures(t *testing.T) {
	warning := rule.Finding{Rule: "security/image-digest", Severity: rule.Warning, Module: "media",
		Pos:     rule.Pos{File: "modules/apps/media/deployment.yaml", Line: 21},
		Object:  &rule.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "media", Name: "jellyfin"},
		Message: "image has no digest", Hint: "Pin the image by digest."}
	errorF := rule.Finding{Rule: "labels/module", Severity: rule.Error, Module: "media",
		Pos: rule.Pos{File: "modules/apps/media/deployment.yaml", Line: 3}, Message: "label missing"}
	excepted := errorF
	excepted.Excepted, excepted.Reason = true, "migrating"
	tests := []struct {
		name                       string
		failOn                     rule.Severity
		findings                   []rule.Finding
		failures, skipped, passing int
	}{
		{name: "a warning-only run has no failures", failOn: rule.Error, findings: []rule.Finding{warning}, passing: 1},
		{name: "the default fail level is error", failOn: "", findings: []rule.Finding{warning, errorF}, failures: 1, passing: 1},
		{name: "--fail-on warning fails on warnings", failOn: rule.Warning, findings: []rule.Finding{warning, errorF}, failures: 2},
		{name: "an excepted error is skipped", failOn: rule.Error, findings: []rule.Finding{excepted}, skipped: 1},
		{name: "an excepted finding is skipped at any fail level", failOn: rule.Warning, findings: []rule.Finding{excepted}, skipped: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cases, failures, skipped := parseJUnit(t, renderJUnit(t, tc.failOn, tc.findings))
			require.Equal(t, tc.failures, failures)
			require.Equal(t, tc.skipped, skipped)
			require.Len(t, cases, tc.failures+tc.skipped+tc.passing)
			for _, c := range cases {
				if c.Failure == nil && c.Skipped == nil {
					require.Equal(t, "warning: modules/apps/media/deployment.yaml:21: image has no digest\nhint: Pin the image by digest.", c.SystemOut,
						"a passing case carries its finding in system-out")
				}
			}
		})
	}
}

// TestJUnitNames: test case names say what a finding is about, never where: they do not change
// when lines move, and no two cases of a class share a name (GitLab drops all but the first).
func TestJUnitNames(t *testing.T) {
	obj := &rule.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "media", Name: "jellyfin"}
	at := func(line int, field, msg string) rule.Finding {
		return rule.Finding{Rule: "security/image-digest", Severity: rule.Warning, Module: "media",
			Pos: rule.Pos{File: "modules/apps/media/deployment.yaml", Line: line, Column: 7}, Object: obj, Field: field, Message: msg}
	}
	names := func(findings ...rule.Finding) []string {
		cases, _, _ := parseJUnit(t, renderJUnit(t, rule.Error, findings))
		var out []string
		for _, c := range cases {
			out = append(out, c.Name)
		}
		return out
	}
	tests := []struct {
		name     string
		findings []rule.Finding
		want     []string
	}{
		{name: "object and field", findings: []rule.Finding{at(21, "spec.template.spec.containers[0].image", "m")},
			want: []string{"security/image-digest Deployment media/jellyfin spec.template.spec.containers[0].image"}},
		{name: "cluster-scoped object, no field", findings: []rule.Finding{{Rule: "security/cluster-rbac", Module: "m",
			Pos: rule.Pos{File: "f.yaml", Line: 4}, Object: &rule.ObjectRef{Kind: "ClusterRole", Name: "admin"}}},
			want: []string{"security/cluster-rbac ClusterRole admin"}},
		{name: "file without object", findings: []rule.Finding{{Rule: "module/files", Module: "m", Pos: rule.Pos{File: "modules/m/module.yaml", Line: 9}}},
			want: []string{"module/files modules/m/module.yaml"}},
		{name: "repository-wide", findings: []rule.Finding{{Rule: "deps/cycle"}}, want: []string{"deps/cycle"}},
		{name: "fields tell two findings on one object apart",
			findings: []rule.Finding{at(21, "spec.template.spec.containers[0].image", "m"), at(30, "spec.template.spec.containers[1].image", "m")},
			want: []string{"security/image-digest Deployment media/jellyfin spec.template.spec.containers[0].image",
				"security/image-digest Deployment media/jellyfin spec.template.spec.containers[1].image"}},
		{name: "same name is numbered in message order, not line order",
			findings: []rule.Finding{at(21, "", "second"), at(30, "", "first")},
			want:     []string{"security/image-digest Deployment media/jellyfin #2", "security/image-digest Deployment media/jellyfin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, names(tc.findings...))
		})
	}
	t.Run("moving lines renames nothing", func(t *testing.T) {
		// Findings arrive sorted by line, so moved lines also reorder them.
		byMessage := func(findings ...rule.Finding) map[string]string {
			out := map[string]string{}
			for i, n := range names(findings...) {
				out[findings[i].Message] = n
			}
			return out
		}
		before := byMessage(at(21, "spec.a", "x"), at(30, "", "b"), at(40, "", "a"))
		after := byMessage(at(5, "", "a"), at(7, "", "b"), at(121, "spec.a", "x"))
		require.Equal(t, before, after)
		for _, n := range before {
			require.NotRegexp(t, `:[0-9]`, n, "no file:line in %q", n)
		}
	})
}

func TestGitHubEscaping(t *testing.T) {
	tests := []struct {
		name, in, data, property string
	}{
		{name: "plain", in: "modules/a/b.yaml", data: "modules/a/b.yaml", property: "modules/a/b.yaml"},
		{name: "percent first", in: "100%0A", data: "100%250A", property: "100%250A"},
		{name: "newlines", in: "a\r\nb", data: "a%0D%0Ab", property: "a%0D%0Ab"},
		{name: "separators only in properties", in: "a,b:c", data: "a,b:c", property: "a%2Cb%3Ac"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.data, escapeData(tc.in))
			require.Equal(t, tc.property, escapeProperty(tc.in))
		})
	}
}

func TestGitHubCommands(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(string(render(t, "github", testFindings, testSummary)), "\n"), "\n")
	require.Len(t, lines, len(testFindings)+1, "one command per finding, then the summary")
	tests := []struct {
		name string
		line int
		want string
	}{
		{name: "error with position", line: 0, want: "::error file=modules/apps/a/module.yaml,line=9,col=5,title=deps/cycle::dependency cycle: a -> b -> a%0Ahint: Remove one dependency of the cycle."},
		{name: "warning without column", line: 2, want: "::warning file=modules/apps/media/deployment.yaml,line=21,title=security/image-digest::"},
		{name: "excepted is a notice", line: 3, want: "::notice file=modules/infrastructure/storage-core/daemonset.yaml,line=30,col=11,title=security/image-digest (excepted)::image has no digest%0Aexcepted: upstream publishes tags only, 100%25 checked by renovate"},
		{name: "escaped file and message", line: 4, want: "::error file=modules/apps/odd%2Cname/with space%3Acolon.yaml,title=custom/no-hostpath::line one: 50%25 of \"volumes\" use <hostPath> & more%0Aline two,%0D%0Aline three"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.True(t, strings.HasPrefix(lines[tc.line], tc.want), "got %q\nwant prefix %q", lines[tc.line], tc.want)
		})
	}
	require.Equal(t, "4 modules, 37 objects: 3 errors, 1 warning, 1 excepted", lines[len(lines)-1])
}

func TestFindingFails(t *testing.T) {
	tests := []struct {
		name   string
		f      Finding
		failOn rule.Severity
		fails  bool
	}{
		{name: "an error fails", f: Finding{Finding: rule.Finding{Severity: rule.Error}}, failOn: rule.Error, fails: true},
		{name: "a warning passes by default", f: Finding{Finding: rule.Finding{Severity: rule.Warning}}, failOn: rule.Error},
		{name: "a warning fails at --fail-on warning", f: Finding{Finding: rule.Finding{Severity: rule.Warning}}, failOn: rule.Warning, fails: true},
		{name: "an excepted error passes", f: Finding{Finding: rule.Finding{Severity: rule.Error, Excepted: true}}, failOn: rule.Error},
		{name: "a baselined error passes", f: Finding{Finding: rule.Finding{Severity: rule.Error}, Baselined: true}, failOn: rule.Error},
		{name: "a baselined warning passes at --fail-on warning", f: Finding{Finding: rule.Finding{Severity: rule.Warning}, Baselined: true}, failOn: rule.Warning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.fails, tc.f.Fails(tc.failOn))
		})
	}
}

func TestSARIFBaselineStateOnlyWithABaseline(t *testing.T) {
	require.NotContains(t, string(render(t, "sarif", testFindings, testSummary)), "baselineState")
	out := string(renderWith(t, "sarif", Wrap(testFindings), testSummary, true))
	require.Equal(t, len(testFindings), strings.Count(out, `"baselineState": "new"`))
}
