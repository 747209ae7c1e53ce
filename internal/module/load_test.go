package module

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
)

const moduleFile = "modules/infrastructure/storage-core/module.yaml"

// validModule is the module.yaml of METADATA.md.
const validModule = `apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: storage-core
spec:
  type: infrastructure
  tier: core
  version: 0.7.0
  description: Distributed block and object storage
  owner: platform
  namespaces:
    - name: longhorn-system
      podSecurity: privileged
      reason: CSI node plugins need host access
  dependsOn: [security-core, networking-core]
  softDependsOn: [observability-core]
  provides:
    apis: [longhorn.io]
  exceptions:
    - rule: security/pod-security
      resources: [{kind: DaemonSet, name: longhorn-manager}]
      reason: manager mounts host paths and runs privileged
      expires: 2027-06-30
`

// minimalModule has only the required fields.
const minimalModule = `apiVersion: polc.dev/v1alpha1
kind: Module
metadata:
  name: media
spec:
  type: application
  version: 1.0.0
`

// billionLaughs builds a module.yaml whose aliases would expand to 9^9 nodes: the anchors sit
// under an unknown top-level field, followed by the module, followed by extra spec lines.
func billionLaughs(spec string) string {
	return testutil.AliasBomb("bomb:\n") + minimalModule + spec
}

func TestParseModule(t *testing.T) {
	tests := []struct {
		name string
		data string
		// wantErr is the exact error text; empty means the module loads.
		wantErr string
		check   func(t *testing.T, m *Module)
	}{
		{
			name: "full module of the design",
			data: validModule,
			check: func(t *testing.T, m *Module) {
				require.Equal(t, "storage-core", m.Name())
				require.Equal(t, moduleFile, m.File)
				require.Equal(t, "modules/infrastructure/storage-core", m.Dir)
				require.Equal(t, Infrastructure, m.Spec.Type)
				require.Equal(t, Core, m.Spec.Tier)
				require.Equal(t, "0.7.0", m.Spec.Version)
				require.Equal(t, "platform", m.Spec.Owner)
				require.Equal(t, []Namespace{{Name: "longhorn-system", PodSecurity: Privileged, Reason: "CSI node plugins need host access"}}, m.Spec.Namespaces)
				require.Equal(t, Privileged, m.Spec.Namespaces[0].Level())
				require.Equal(t, []string{"security-core", "networking-core"}, m.Spec.DependsOn)
				require.Equal(t, []string{"observability-core"}, m.Spec.SoftDependsOn)
				require.Equal(t, []string{"longhorn.io"}, m.Spec.Provides.APIs)
				require.Len(t, m.Spec.Exceptions, 1)
				ex := m.Spec.Exceptions[0]
				require.Equal(t, "security/pod-security", ex.Rule)
				require.Equal(t, []ResourceRef{{Kind: "DaemonSet", Name: "longhorn-manager"}}, ex.Resources)
				require.Equal(t, "2027-06-30", ex.Expires, "an unquoted date stays the string it was written as")
				at, ok := ex.ExpiresAt()
				require.True(t, ok)
				require.Equal(t, time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), at)
			},
		},
		{
			name: "minimal module defaults",
			data: minimalModule,
			check: func(t *testing.T, m *Module) {
				require.Equal(t, "media", m.Name())
				require.Equal(t, Application, m.Spec.Type)
				require.Empty(t, m.Spec.Tier)
				require.Nil(t, m.Spec.DependsOn)
			},
		},
		{
			name: "leading document marker and trailing empty document",
			data: "---\n" + minimalModule + "---\n",
			check: func(t *testing.T, m *Module) {
				require.Equal(t, "media", m.Name())
			},
		},
		{
			name: "explicit null leaves an optional field unset",
			data: minimalModule + "  dependsOn: ~\n  owner: null\n",
			check: func(t *testing.T, m *Module) {
				require.Nil(t, m.Spec.DependsOn)
				require.Empty(t, m.Spec.Owner)
			},
		},
		{
			name:    "unknown field names file:line:col and the allowed fields",
			data:    strings.Replace(minimalModule, "  version: 1.0.0\n", "  version: 1.0.0\n  dependson: [a]\n", 1),
			wantErr: moduleFile + `:8:3: spec: unknown field "dependson"; allowed fields: type, tier, version, description, owner, namespaces, dependsOn, softDependsOn, provides, uses, exceptions`,
		},
		{
			name:    "unknown top-level field",
			data:    minimalModule + "status: {}\n",
			wantErr: moduleFile + `:8:1: document: unknown field "status"; allowed fields: apiVersion, kind, metadata, spec`,
		},
		{
			name:    "unknown field in a list item",
			data:    minimalModule + "  namespaces:\n    - name: media\n      labels: {}\n",
			wantErr: moduleFile + `:10:7: spec.namespaces[0]: unknown field "labels"; allowed fields: name, podSecurity, reason`,
		},
		{
			name:    "duplicate key",
			data:    minimalModule + "  type: component\n",
			wantErr: moduleFile + `:8:3: duplicate key "type" (first defined at line 6)`,
		},
		{
			name:    "duplicate top-level key",
			data:    minimalModule + "metadata:\n  name: other\n",
			wantErr: moduleFile + `:8:1: duplicate key "metadata" (first defined at line 3)`,
		},
		{
			name:    "list where a string belongs",
			data:    strings.Replace(minimalModule, "name: media", "name: [media]", 1),
			wantErr: moduleFile + `:4:9: metadata.name: expected a string, got a list`,
		},
		{
			name:    "string where a list belongs",
			data:    minimalModule + "  dependsOn: security-core\n",
			wantErr: moduleFile + `:8:14: spec.dependsOn: expected a list, got string "security-core"`,
		},
		{
			name:    "string where a mapping belongs",
			data:    minimalModule + "  provides: longhorn.io\n",
			wantErr: moduleFile + `:8:13: spec.provides: expected a mapping, got string "longhorn.io"`,
		},
		{
			name: "unquoted number and boolean where strings belong",
			data: strings.Replace(strings.Replace(minimalModule, "1.0.0", "1.0", 1), "name: media", "name: true", 1),
			wantErr: moduleFile + `:4:9: metadata.name: expected a string, got boolean true (quote it to use it as a string)` + "\n" +
				moduleFile + `:7:12: spec.version: expected a string, got number 1.0 (quote it to use it as a string)`,
		},
		{
			name:    "quoted number is a string",
			data:    strings.Replace(minimalModule, "1.0.0", `"1"`, 1),
			check:   func(t *testing.T, m *Module) { require.Equal(t, "1", m.Spec.Version) },
			wantErr: "",
		},
		{
			name:    "mapping key that is not a string",
			data:    minimalModule + "  ? [a]\n  : b\n",
			wantErr: moduleFile + `:8:5: mapping keys must be strings, got a list`,
		},
		{
			name:    "bad enum value lists the allowed values",
			data:    strings.Replace(minimalModule, "type: application", "type: app", 1),
			wantErr: moduleFile + `:6:9: spec.type: invalid value "app"; allowed values: infrastructure, application, component`,
		},
		{
			name:    "bad tier",
			data:    minimalModule + "  tier: premium\n",
			wantErr: moduleFile + `:8:9: spec.tier: invalid value "premium"; allowed values: core, extra`,
		},
		{
			name:    "bad pod security level",
			data:    minimalModule + "  namespaces:\n    - name: media\n      podSecurity: root\n",
			wantErr: moduleFile + `:10:20: spec.namespaces[0].podSecurity: invalid value "root"; allowed values: restricted, baseline, privileged`,
		},
		{
			name:    "wrong apiVersion",
			data:    strings.Replace(minimalModule, "v1alpha1", "v1", 1),
			wantErr: moduleFile + `:1:1: apiVersion: invalid value "polc.dev/v1"; allowed values: polc.dev/v1alpha1`,
		},
		{
			name:    "wrong kind",
			data:    strings.Replace(minimalModule, "kind: Module", "kind: Config", 1),
			wantErr: moduleFile + `:1:1: kind: invalid value "Config"; allowed values: Module`,
		},
		{
			name: "missing required fields",
			data: "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata: {}\nspec: {}\n",
			wantErr: moduleFile + `:3:11: metadata: missing required field "name"` + "\n" +
				moduleFile + `:4:7: spec: missing required field "type"` + "\n" +
				moduleFile + `:4:7: spec: missing required field "version"`,
		},
		{
			name:    "missing metadata and spec",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Module\n",
			wantErr: moduleFile + `:1:1: document: missing required field "metadata"` + "\n" + moduleFile + `:1:1: document: missing required field "spec"`,
		},
		{
			name:    "required field written empty",
			data:    strings.Replace(minimalModule, "name: media", `name: ""`, 1),
			wantErr: moduleFile + `:4:9: metadata: required field "name" is empty`,
		},
		{
			name:    "required field written null",
			data:    strings.Replace(minimalModule, "name: media", "name:", 1),
			wantErr: moduleFile + `:4:8: metadata: required field "name" is empty`,
		},
		{
			name:    "required mapping written null",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata: ~\nspec:\n  type: component\n  version: 1.0.0\n",
			wantErr: moduleFile + `:3:11: document: required field "metadata" is empty`,
		},
		{
			name:    "exception without resources",
			data:    minimalModule + "  exceptions:\n    - rule: labels/module\n      resources: []\n",
			wantErr: moduleFile + `:10:18: spec.exceptions[0]: required field "resources" is empty`,
		},
		{
			name: "null list items",
			data: minimalModule + "  namespaces:\n    -\n  dependsOn: [~]\n",
			wantErr: moduleFile + `:9:6: spec.namespaces[0]: expected a mapping, got null` + "\n" +
				moduleFile + `:10:15: spec.dependsOn[0]: expected a string, got null`,
		},
		{
			name:    "invalid YAML",
			data:    minimalModule + "  dependsOn: [a\n",
			wantErr: moduleFile + `:7:1: invalid YAML: did not find expected ',' or ']'`,
		},
		{
			name:    "tab indentation",
			data:    "apiVersion: polc.dev/v1alpha1\n\tkind: Module\n",
			wantErr: moduleFile + `:2:1: invalid YAML: found a tab character that violates indentation`,
		},
		{
			name:    "empty file",
			data:    "",
			wantErr: moduleFile + `:1:1: file is empty`,
		},
		{
			name:    "only comments",
			data:    "# nothing here\n",
			wantErr: moduleFile + `:1:1: file is empty`,
		},
		{
			name:    "only a document marker",
			data:    "---\n",
			wantErr: moduleFile + `:1:1: file is empty`,
		},
		{
			name:    "top level is a list",
			data:    "- a\n",
			wantErr: moduleFile + `:1:1: document: expected a mapping, got a list`,
		},
		{
			name:    "top level is a string",
			data:    "media\n",
			wantErr: moduleFile + `:1:1: document: expected a mapping, got string "media"`,
		},
		{
			name:    "multiple documents",
			data:    minimalModule + "---\n" + minimalModule,
			wantErr: moduleFile + `:9:1: expected one YAML document, found more`,
		},
		{
			name:    "invalid YAML in a later document is not ignored",
			data:    minimalModule + "---\n[\n",
			wantErr: moduleFile + `:9:1: invalid YAML: did not find expected node content`,
		},
		{
			name:    "invalid UTF-8 is placed at its byte",
			data:    minimalModule + "  description: caf\xe9 au lait\n",
			wantErr: moduleFile + `:8:19: invalid YAML: invalid trailing UTF-8 octet (byte 0xe9)`,
		},
		{
			name:    "invalid UTF-8 column counts characters",
			data:    minimalModule + "  description: \u00e9t\u00e9 \u65e5\u672c \xff\n",
			wantErr: moduleFile + `:8:23: invalid YAML: invalid leading UTF-8 octet (byte 0xff)`,
		},
		{
			name:    "invalid UTF-8 in a comment, after CRLF line ends",
			data:    strings.ReplaceAll(minimalModule, "\n", "\r\n") + "# \xc3\r\n",
			wantErr: moduleFile + `:8:3: invalid YAML: invalid trailing UTF-8 octet (byte 0xc3)`,
		},
		{
			name:    "invalid UTF-8 far down a long file",
			data:    minimalModule + strings.Repeat("# a comment line to make the file longer than the parser's buffer\n", 200) + "  owner: \xa0\n",
			wantErr: moduleFile + `:208:10: invalid YAML: invalid leading UTF-8 octet (byte 0xa0)`,
		},
		{
			name:    "invalid UTF-8 in a later document",
			data:    minimalModule + "---\n# \xfe\n",
			wantErr: moduleFile + `:9:3: invalid YAML: invalid leading UTF-8 octet (byte 0xfe)`,
		},
		{
			name:    "control character",
			data:    minimalModule + "  description: bell\x07\n",
			wantErr: moduleFile + `:8:20: invalid YAML: control characters are not allowed (character U+0007)`,
		},
		{
			name: "anchors and aliases",
			data: "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata: &m\n  name: media\nspec:\n  type: application\n  version: 1.0.0\n  dependsOn: &deps [a]\n  softDependsOn: *deps\n",
			wantErr: moduleFile + `:3:11: metadata: YAML anchors and aliases are not allowed in metadata` + "\n" +
				moduleFile + `:8:14: spec.dependsOn: YAML anchors and aliases are not allowed in metadata` + "\n" +
				moduleFile + `:9:18: spec.softDependsOn: YAML anchors and aliases are not allowed in metadata`,
		},
		{
			name:    "billion laughs under an unknown field",
			data:    billionLaughs(""),
			wantErr: moduleFile + `:1:1: document: unknown field "bomb"; allowed fields: apiVersion, kind, metadata, spec`,
		},
		{
			name: "billion laughs used as field values",
			data: billionLaughs("  dependsOn: *i\n  provides: *i\n"),
			wantErr: moduleFile + `:1:1: document: unknown field "bomb"; allowed fields: apiVersion, kind, metadata, spec` + "\n" +
				moduleFile + `:18:14: spec.dependsOn: YAML anchors and aliases are not allowed in metadata` + "\n" +
				moduleFile + `:19:13: spec.provides: YAML anchors and aliases are not allowed in metadata`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseModule(moduleFile, []byte(tc.data))
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.Nil(t, m)
				var de *DecodeError
				require.ErrorAs(t, err, &de, "metadata errors are typed so callers can report each position")
				return
			}
			require.NoError(t, err)
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// BenchmarkParseModuleBillionLaughs measures the refusal of module metadata whose aliases would
// expand to a billion nodes (TestParseModule asserts the refusal).
func BenchmarkParseModuleBillionLaughs(b *testing.B) {
	data := []byte(billionLaughs("  dependsOn: *i\n  provides: *i\n"))
	for b.Loop() {
		if _, err := ParseModule(moduleFile, data); err == nil {
			b.Fatal("the billion-laughs module was not refused")
		}
	}
}

func TestFirstBadChar(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		line, col int
		what      string
	}{
		{name: "valid", data: "a: b\n# \u00e9\u65e5\ufffd\U0001F600\n"},
		{name: "first line", data: "a\xffb", line: 1, col: 2, what: "byte 0xff"},
		{name: "truncated sequence at the end", data: "a: b\nc: \xe6\x97", line: 2, col: 4, what: "byte 0xe6"},
		{name: "encoded surrogate", data: "a: \xed\xa0\x80", line: 1, col: 4, what: "byte 0xed"},
		{name: "CR, CRLF, NEL and line separators end lines", data: "a\rb\r\nc\u0085d\u2028e\u2029f: \x00", line: 6, col: 4, what: "character U+0000"},
		{name: "DEL", data: "a: \x7f", line: 1, col: 4, what: "character U+007F"},
		{name: "C1 control", data: "a: \u009b", line: 1, col: 4, what: "character U+009B"},
		{name: "UTF-8 byte order mark is skipped", data: "\xef\xbb\xbfa: \xff", line: 1, col: 4, what: "byte 0xff"},
		{name: "UTF-16 is not looked at", data: "\xff\xfea\x00:\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, col, what, ok := firstBadChar([]byte(tc.data))
			require.Equal(t, tc.line != 0, ok)
			require.Equal(t, []any{tc.line, tc.col, tc.what}, []any{line, col, what})
		})
	}
}

func TestModulePos(t *testing.T) {
	m, err := ParseModule(moduleFile, []byte(validModule))
	require.NoError(t, err)
	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "scalar field", path: "metadata.name", want: moduleFile + ":4:9"},
		{name: "list item", path: "spec.dependsOn[1]", want: moduleFile + ":15:30"},
		{name: "nested list item field", path: "spec.namespaces[0].podSecurity", want: moduleFile + ":13:20"},
		{name: "flow mapping in a list", path: "spec.exceptions[0].resources[0].name", want: moduleFile + ":21:43"},
		{name: "unwritten field falls back to its parent", path: "spec.namespaces[0].reason.extra", want: moduleFile + ":14:15"},
		{name: "unwritten optional field falls back to the nearest written parent", path: "spec.exceptions[0].resources[0].namespace", want: moduleFile + ":21:19"},
		{name: "unknown path falls back to the document", path: "nothing", want: moduleFile + ":1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, m.Pos(tc.path).String())
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{
			name: "full config of the design",
			data: `apiVersion: polc.dev/v1alpha1
kind: Config
spec:
  modulesDir: src/modules
  policiesDir: deploy/policies
  domain: example.org
  fluxPrefixes: {infrastructure: infrastructure, application: app}
  substitute: {cluster_domain: example.com}
  kyverno:
    target: ValidatingPolicy
    action: Audit
    tierActions: {core: Enforce}
  rules:
    security/image-digest: {severity: warning}
    labels/app-name: {severity: "off"}
`,
			check: func(t *testing.T, c *Config) {
				require.Equal(t, ConfigFile, c.File)
				require.Equal(t, "src/modules", c.Spec.ModulesDir)
				require.Equal(t, "deploy/policies", c.Spec.PoliciesDir)
				require.Equal(t, "example.org/module", c.ModuleLabel())
				require.Equal(t, "example.org/module-type", c.ModuleTypeLabel())
				require.Equal(t, "example.org/depends-on", c.DependsOnAnnotation())
				require.Equal(t, map[string]string{"cluster_domain": "example.com"}, c.Spec.Substitute)
				require.Equal(t, ValidatingPolicy, c.Spec.Kyverno.Target)
				require.Equal(t, map[string]RuleConfig{"security/image-digest": {Severity: "warning"}, "labels/app-name": {Severity: "off"}}, c.Spec.Rules)
				core := &Module{Spec: ModuleSpec{Type: Infrastructure, Tier: Core}}
				extra := &Module{Spec: ModuleSpec{Type: Infrastructure, Tier: Extra}}
				require.Equal(t, Enforce, c.ActionFor(core))
				require.Equal(t, Audit, c.ActionFor(extra))
				app := &Module{Metadata: Metadata{Name: "media"}, Spec: ModuleSpec{Type: Application}}
				require.Equal(t, "app-media", c.FluxName(app))
				require.Equal(t, ConfigFile+":10:13", c.Pos("spec.kyverno.target").String())
			},
		},
		{
			name: "defaults fill what is left out",
			data: "apiVersion: polc.dev/v1alpha1\nkind: Config\n",
			check: func(t *testing.T, c *Config) {
				want := DefaultConfig()
				want.File = ConfigFile
				c.positions = nil
				require.Equal(t, want, c)
			},
		},
		{
			name:    "unknown field",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  moduleDir: mods\n",
			wantErr: `polc.yaml:4:3: spec: unknown field "moduleDir"; allowed fields: modulesDir, policiesDir, modules, exclude, moduleNameIsDir, sharedNamespaces, domain, fluxPrefixes, substitute, kyverno, rules, clusters, render, source`,
		},
		{
			name: "bad enum values and keys",
			data: "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  kyverno: {target: Policy, tierActions: {gold: Audit}}\n  rules: {labels/module: {severity: info}}\n  fluxPrefixes: {app: apps}\n",
			wantErr: `polc.yaml:4:21: spec.kyverno.target: invalid value "Policy"; allowed values: ClusterPolicy, ValidatingPolicy` + "\n" +
				`polc.yaml:4:43: spec.kyverno.tierActions: invalid key "gold"; allowed keys: core, extra, application` + "\n" +
				`polc.yaml:5:37: spec.rules.labels/module.severity: invalid value "info"; allowed values: error, warning, off` + "\n" +
				`polc.yaml:6:18: spec.fluxPrefixes: invalid key "app"; allowed keys: infrastructure, application, component`,
		},
		{
			name:    "substitute values must be strings, as in Flux",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute: {replicas: 3}\n",
			wantErr: `polc.yaml:4:26: spec.substitute.replicas: expected a string, got number 3 (quote it to use it as a string)`,
		},
		{
			name: "null map values",
			data: "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  rules: {labels/module: ~}\n  substitute: {domain: }\n",
			wantErr: `polc.yaml:4:26: spec.rules.labels/module: expected a mapping, got null` + "\n" +
				`polc.yaml:5:24: spec.substitute.domain: expected a string, got null`,
		},
		{
			name: "substitute names Flux refuses",
			data: "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute:\n    cluster-domain: example.com\n    ok_name: x\n    1st: y\n",
			wantErr: `polc.yaml:5:21: spec.substitute: invalid variable name "cluster-domain"; expected letters, digits and underscores, not starting with a digit (Flux refuses other names)` + "\n" +
				`polc.yaml:7:10: spec.substitute: invalid variable name "1st"; expected letters, digits and underscores, not starting with a digit (Flux refuses other names)`,
		},
		{
			name:    "rule override without severity",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  rules: {labels/module: {}}\n",
			wantErr: `polc.yaml:4:26: spec.rules.labels/module: missing required field "severity"`,
		},
		{
			name:    "modulesDir escaping the repository",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modulesDir: ../../etc\n",
			wantErr: `polc.yaml:4:15: spec.modulesDir: "../../etc" leaves the repository`,
		},
		{
			name:    "modulesDir escaping after cleaning",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  modulesDir: modules/../..\n",
			wantErr: `polc.yaml:4:15: spec.modulesDir: "modules/../.." leaves the repository`,
		},
		{
			name:    "absolute policiesDir",
			data:    "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  policiesDir: /etc\n",
			wantErr: `polc.yaml:4:16: spec.policiesDir: "/etc" leaves the repository`,
		},
		{
			name:    "empty file",
			data:    "\n\n",
			wantErr: `polc.yaml:1:1: file is empty`,
		},
		{
			name:    "module.yaml given as config",
			data:    minimalModule,
			wantErr: "polc.yaml:1:1: kind: invalid value \"Module\"; allowed values: Config\npolc.yaml:3:1: document: unknown field \"metadata\"; allowed fields: apiVersion, kind, spec\npolc.yaml:6:3: spec: unknown field \"type\"; allowed fields: modulesDir, policiesDir, modules, exclude, moduleNameIsDir, sharedNamespaces, domain, fluxPrefixes, substitute, kyverno, rules, clusters, render, source\npolc.yaml:7:3: spec: unknown field \"version\"; allowed fields: modulesDir, policiesDir, modules, exclude, moduleNameIsDir, sharedNamespaces, domain, fluxPrefixes, substitute, kyverno, rules, clusters, render, source",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(ConfigFile, []byte(tc.data))
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.Nil(t, c)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestLoadConfig(t *testing.T) {
	t.Run("absent polc.yaml gives the defaults", func(t *testing.T) {
		c, err := LoadConfig(t.TempDir())
		require.NoError(t, err)
		require.Equal(t, DefaultConfig(), c)
		require.Empty(t, c.File)
		require.Equal(t, "modules", c.Spec.ModulesDir)
		require.Equal(t, "policies", c.Spec.PoliciesDir)
		require.Equal(t, "polc.dev/module", c.ModuleLabel())
		require.Equal(t, Enforce, c.Spec.Kyverno.Action)
		require.Equal(t, ClusterPolicy, c.Spec.Kyverno.Target)
		require.Equal(t, "infra-storage-core", c.FluxName(&Module{Metadata: Metadata{Name: "storage-core"}, Spec: ModuleSpec{Type: Infrastructure}}))
		require.Equal(t, "sso", c.FluxName(&Module{Metadata: Metadata{Name: "sso"}, Spec: ModuleSpec{Type: Component}}))
		require.Equal(t, Pos{}, c.Pos("spec.modulesDir"))
	})
	t.Run("present polc.yaml is read", func(t *testing.T) {
		root := t.TempDir()
		testutil.WriteFiles(t, root, map[string]string{ConfigFile: "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  domain: example.org\n"})
		c, err := LoadConfig(root)
		require.NoError(t, err)
		require.Equal(t, "example.org", c.Spec.Domain)
		require.Equal(t, ConfigFile, c.File)
	})
	t.Run("invalid polc.yaml is an error", func(t *testing.T) {
		root := t.TempDir()
		testutil.WriteFiles(t, root, map[string]string{ConfigFile: "spec: [\n"})
		_, err := LoadConfig(root)
		require.EqualError(t, err, "polc.yaml:1:1: invalid YAML: did not find expected node content")
	})
	t.Run("polc.yaml symlinked outside the repository is refused", func(t *testing.T) {
		outside := t.TempDir()
		testutil.WriteFiles(t, outside, map[string]string{"polc.yaml": "apiVersion: polc.dev/v1alpha1\nkind: Config\n"})
		root := t.TempDir()
		require.NoError(t, os.Symlink(filepath.Join(outside, "polc.yaml"), filepath.Join(root, ConfigFile)))
		_, err := LoadConfig(root)
		require.EqualError(t, err, "polc.yaml: symlink points outside the repository (not followed)")
	})
	t.Run("dangling polc.yaml symlink is an error, not the defaults", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, os.Symlink(filepath.Join(root, "missing.yaml"), filepath.Join(root, ConfigFile)))
		_, err := LoadConfig(root)
		require.EqualError(t, err, "read polc.yaml: no such file or directory")
	})
	t.Run("polc.yaml that is a directory", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(root, ConfigFile), 0o755))
		_, err := LoadConfig(root)
		require.EqualError(t, err, "read polc.yaml: not a regular file")
	})
}

func TestReadFile(t *testing.T) {
	outside := t.TempDir()
	testutil.WriteFiles(t, outside, map[string]string{"secret.yaml": "a: 1\n"})
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{
		"ok.yaml":      "a: 1\n",
		"dir/ok.yaml":  "b: 2\n",
		"at-cap.yaml":  strings.Repeat("#", MaxFileSize),
		"over-cap.yml": strings.Repeat("#", MaxFileSize+1),
	})
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "escape.yaml")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "escape-dir")))
	require.NoError(t, os.Symlink("dir/ok.yaml", filepath.Join(root, "inside.yaml")))
	require.NoError(t, os.Symlink("nowhere.yaml", filepath.Join(root, "dangling.yaml")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "fifo.yaml"), 0o644))

	tests := []struct {
		name    string
		rel     string
		want    string
		wantErr string
	}{
		{name: "regular file", rel: "ok.yaml", want: "a: 1\n"},
		{name: "file in a directory", rel: "dir/ok.yaml", want: "b: 2\n"},
		{name: "symlink inside the repository is followed", rel: "inside.yaml", want: "b: 2\n"},
		{name: "dot segments that stay inside", rel: "dir/../ok.yaml", want: "a: 1\n"},
		{name: "file of exactly the cap", rel: "at-cap.yaml", want: strings.Repeat("#", MaxFileSize)},
		{name: "file over the cap", rel: "over-cap.yml", wantErr: "read over-cap.yml: file is larger than the 4 MiB limit"},
		{name: "symlink pointing outside", rel: "escape.yaml", wantErr: "escape.yaml: symlink points outside the repository (not followed)"},
		{name: "file under a symlinked directory pointing outside", rel: "escape-dir/secret.yaml", wantErr: "escape-dir/secret.yaml: symlink points outside the repository (not followed)"},
		{name: "relative path leaving the repository", rel: "../../../etc/passwd", wantErr: "../../../etc/passwd: path leaves the repository"},
		{name: "absolute path", rel: "/etc/passwd", wantErr: "/etc/passwd: path leaves the repository"},
		{name: "dangling symlink", rel: "dangling.yaml", wantErr: "read dangling.yaml: no such file or directory"},
		{name: "missing file", rel: "missing.yaml", wantErr: "read missing.yaml: no such file or directory"},
		{name: "directory", rel: "dir", wantErr: "read dir: not a regular file"},
		{name: "FIFO is refused without blocking", rel: "fifo.yaml", wantErr: "read fifo.yaml: not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := ReadFile(root, tc.rel)
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				require.Nil(t, data)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(data))
		})
	}
}

func TestDiscover(t *testing.T) {
	t.Run("finds every module.yaml, sorted by path", func(t *testing.T) {
		root := t.TempDir()
		testutil.WriteFiles(t, root, map[string]string{
			"modules/infrastructure/storage-core/module.yaml": validModule,
			"modules/apps/media/module.yaml":                  minimalModule,
			"modules/apps/broken/module.yaml":                 "kind: [\n",
			"modules/apps/notes/README.md":                    "no module here\n",
			"other/module.yaml":                               minimalModule,
		})
		cands, err := Discover(root, DefaultConfig())
		require.NoError(t, err)
		var dirs []string
		for _, c := range cands {
			dirs = append(dirs, c.Dir)
		}
		require.Equal(t, []string{"modules/apps/broken", "modules/apps/media", "modules/infrastructure/storage-core"}, dirs)
		require.EqualError(t, cands[0].Err, "modules/apps/broken/module.yaml:1:1: invalid YAML: did not find expected node content")
		require.Nil(t, cands[0].Module)
		require.NoError(t, cands[1].Err)
		require.Equal(t, "media", cands[1].Module.Name())
		require.Equal(t, "modules/apps/media/module.yaml", cands[1].Module.File)
	})
	t.Run("module.yaml symlinked outside the repository is refused, not followed", func(t *testing.T) {
		outside := t.TempDir()
		testutil.WriteFiles(t, outside, map[string]string{"module.yaml": minimalModule})
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "modules/apps/media"), 0o755))
		require.NoError(t, os.Symlink(filepath.Join(outside, "module.yaml"), filepath.Join(root, "modules/apps/media/module.yaml")))
		cands, err := Discover(root, DefaultConfig())
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Nil(t, cands[0].Module)
		require.EqualError(t, cands[0].Err, "modules/apps/media/module.yaml: symlink points outside the repository (not followed)")
	})
	t.Run("unreadable module", func(t *testing.T) {
		root := t.TempDir()
		testutil.WriteFiles(t, root, map[string]string{"modules/apps/media/module.yaml": minimalModule})
		dir := filepath.Join(root, "modules/apps")
		if os.Geteuid() != 0 {
			// A directory without permissions stops the walk with an error naming it.
			require.NoError(t, os.Chmod(dir, 0))
			t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
			_, err := Discover(root, DefaultConfig())
			require.EqualError(t, err, "read modules/apps: permission denied")
			return
		}
		// Root reads through permission bits, so chmod cannot make a directory unreadable here.
		// A FIFO in place of module.yaml is a file that cannot be read as one: opening it would
		// block forever, so it must be refused without being opened.
		p := filepath.Join(dir, "media/module.yaml")
		require.NoError(t, os.Remove(p))
		require.NoError(t, syscall.Mkfifo(p, 0o644))
		cands, err := Discover(root, DefaultConfig())
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.EqualError(t, cands[0].Err, "read modules/apps/media/module.yaml: not a regular file")
	})
	t.Run("dangling module.yaml symlink", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "modules/apps/media"), 0o755))
		require.NoError(t, os.Symlink("gone.yaml", filepath.Join(root, "modules/apps/media/module.yaml")))
		cands, err := Discover(root, DefaultConfig())
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.EqualError(t, cands[0].Err, "read modules/apps/media/module.yaml: no such file or directory")
	})
	t.Run("symlinked directory is not walked into", func(t *testing.T) {
		outside := t.TempDir()
		testutil.WriteFiles(t, outside, map[string]string{"media/module.yaml": minimalModule})
		root := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(root, "modules/apps"), 0o755))
		require.NoError(t, os.Symlink(filepath.Join(outside, "media"), filepath.Join(root, "modules/apps/media")))
		cands, err := Discover(root, DefaultConfig())
		require.NoError(t, err)
		require.Empty(t, cands)
	})
	t.Run("missing modules directory", func(t *testing.T) {
		root := t.TempDir()
		_, err := Discover(root, DefaultConfig())
		require.EqualError(t, err, `modules directory "modules" not found in `+root)
	})
	t.Run("modules directory that is a file", func(t *testing.T) {
		root := t.TempDir()
		testutil.WriteFiles(t, root, map[string]string{"modules": "not a directory\n"})
		_, err := Discover(root, DefaultConfig())
		require.EqualError(t, err, `modules directory "modules" not found in `+root)
	})
	t.Run("modules directory symlinked outside the repository", func(t *testing.T) {
		outside := t.TempDir()
		testutil.WriteFiles(t, outside, map[string]string{"apps/media/module.yaml": minimalModule})
		root := t.TempDir()
		require.NoError(t, os.Symlink(outside, filepath.Join(root, "modules")))
		_, err := Discover(root, DefaultConfig())
		require.EqualError(t, err, "modules directory: modules: symlink points outside the repository (not followed)")
	})
	t.Run("modules directory symlinked inside the repository", func(t *testing.T) {
		root := t.TempDir()
		testutil.WriteFiles(t, root, map[string]string{"src/modules/apps/media/module.yaml": minimalModule})
		require.NoError(t, os.Symlink("src/modules", filepath.Join(root, "modules")))
		cands, err := Discover(root, DefaultConfig())
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.NoError(t, cands[0].Err)
		require.Equal(t, "src/modules/apps/media", cands[0].Dir)
	})
	t.Run("configured modulesDir", func(t *testing.T) {
		root := t.TempDir()
		testutil.WriteFiles(t, root, map[string]string{"catalog/media/module.yaml": minimalModule})
		cfg := DefaultConfig()
		cfg.Spec.ModulesDir = "catalog"
		cands, err := Discover(root, cfg)
		require.NoError(t, err)
		require.Len(t, cands, 1)
		require.Equal(t, "catalog/media", cands[0].Dir)
	})
}

func TestLevelAndTypes(t *testing.T) {
	tests := []struct {
		name  string
		level Level
		rank  int
	}{
		{name: "restricted", level: Restricted, rank: 0},
		{name: "baseline", level: Baseline, rank: 1},
		{name: "privileged", level: Privileged, rank: 2},
		{name: "unset counts as restricted", level: "", rank: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.rank, tc.level.Rank())
		})
	}
	require.Equal(t, Restricted, Namespace{Name: "a"}.Level())
	_, ok := Exception{Expires: "30.06.2027"}.ExpiresAt()
	require.False(t, ok, "a malformed date does not parse")
}
