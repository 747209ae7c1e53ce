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

	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/rules"
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

var testSummary = check.Summary{Modules: 4, Objects: 37, Errors: 3, Warnings: 1, Excepted: 1}

func render(t *testing.T, format string, findings []rule.Finding, s check.Summary) []byte {
	t.Helper()
	var buf bytes.Buffer
	f, err := New(&buf, format, Options{Rules: testRules, Version: "1.2.3"})
	require.NoError(t, err)
	require.NoError(t, Write(f, findings, s))
	return buf.Bytes()
}

// cases are the inputs every format is rendered from; each gives one golden file per format.
var cases = []struct {
	name     string
	findings []rule.Finding
	summary  check.Summary
}{
	{name: "findings", findings: testFindings, summary: testSummary},
	{name: "clean", findings: nil, summary: check.Summary{Modules: 4, Objects: 37, HelmReleases: 2}},
}

func TestFormatsGolden(t *testing.T) {
	for _, format := range Formats() {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				got := render(t, format, tc.findings, tc.summary)
				testutil.Golden(t, filepath.Join("testdata", format+"-"+tc.name+".golden"), got)
				// Rendering twice gives the same bytes: no timestamps, no map order.
				require.Equal(t, string(got), string(render(t, format, tc.findings, tc.summary)))
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
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, "sarif", tc.findings, tc.summary)))
			require.NoError(t, err)
			require.NoError(t, sch.Validate(doc))
		})
	}
	t.Run("the real rule registry", func(t *testing.T) {
		var buf bytes.Buffer
		f, err := New(&buf, "sarif", Options{Rules: rules.All(), Version: "0.0.0-test"})
		require.NoError(t, err)
		require.NoError(t, Write(f, testFindings, testSummary))
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
				RuleID       string
				RuleIndex    int
				Level        string
				Suppressions []struct{ Kind, Justification string }
				Locations    []struct {
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
		if f.Pos.Line == 0 {
			require.Nil(t, res.Locations[0].PhysicalLocation.Region, "no region without a line")
		} else {
			require.Equal(t, f.Pos.Line, res.Locations[0].PhysicalLocation.Region.StartLine)
			require.Equal(t, f.Pos.Column, res.Locations[0].PhysicalLocation.Region.StartColumn)
		}
		if f.Excepted {
			require.Equal(t, []struct{ Kind, Justification string }{{"external", f.Reason}}, res.Suppressions)
		} else {
			require.Empty(t, res.Suppressions)
		}
	}
	require.Equal(t, "modules/apps/odd,name/with%20space:colon.yaml", run.Results[4].Locations[0].PhysicalLocation.ArtifactLocation.URI)
}

// junitReport is the JUnit shape as a CI parser reads it.
type junitReport struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Classname string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Failure   *struct {
				Type    string `xml:"type,attr"`
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitParses(t *testing.T) {
	tests := []struct {
		name                          string
		findings                      []rule.Finding
		tests, failures, skipped      int
		firstClassname, firstCaseName string
	}{
		{name: "findings", findings: testFindings, tests: 5, failures: 4, skipped: 1,
			firstClassname: "repository", firstCaseName: "deps/cycle modules/apps/a/module.yaml:9"},
		{name: "clean run shows one passing case", findings: nil, tests: 1,
			firstClassname: "repository", firstCaseName: "polc check"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep junitReport
			require.NoError(t, xml.Unmarshal(render(t, "junit", tc.findings, testSummary), &rep))
			require.Len(t, rep.Suites, 1)
			s := rep.Suites[0]
			require.Equal(t, "polc", s.Name)
			require.Equal(t, tc.tests, s.Tests)
			require.Len(t, s.Cases, tc.tests)
			require.Equal(t, tc.failures, s.Failures)
			require.Equal(t, tc.skipped, s.Skipped)
			require.Equal(t, tc.firstClassname, s.Cases[0].Classname)
			require.Equal(t, tc.firstCaseName, s.Cases[0].Name)
			for i, f := range tc.findings {
				c := s.Cases[i]
				if f.Excepted {
					require.Nil(t, c.Failure)
					require.Equal(t, "excepted: "+f.Reason, c.Skipped.Message)
					continue
				}
				require.Nil(t, c.Skipped)
				require.Equal(t, string(f.Severity), c.Failure.Type)
				require.Equal(t, f.Message, c.Failure.Message, "attribute round-trips newlines and quotes")
			}
		})
	}
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
	require.Equal(t, "4 modules, 37 objects: 3 errors, 1 warnings, 1 excepted", lines[len(lines)-1])
}
