package builtin

import (
	"fmt"
	"regexp"
	"strings"

	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// VersionsChartPinned requires Helm charts, and the Flux sources they come from, to be pinned.
var VersionsChartPinned = rule.Rule{
	ID:       "versions/chart-pinned",
	Title:    "HelmReleases install an exact chart version",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "A Flux HelmRelease installs one exact chart version, so that a chart release never reaches a " +
		"cluster without a commit in this repository. With spec.chart, spec.chart.spec.version is an exact " +
		"semantic version (1.2.3 or v1.2.3, with optional pre-release and build): not empty (Flux then " +
		"installs the newest), not a range (>=1.0, ~1.2, ^1, 1.2, 1.x, *); a HelmChart source likewise pins " +
		"spec.version. Charts from a GitRepository or Bucket are exempt, since Flux ignores the version there. " +
		"A HelmRelease with spec.chartRef takes its version from the referenced source, and that source is " +
		"checked itself: an OCIRepository sets spec.ref.digest, an exact spec.ref.semver, or a spec.ref.tag " +
		"other than latest. Each object is judged on its own, so the offline check and the admission policy " +
		"agree even when the source lives in another module.",
	Remediation: "Set the chart version (or the OCIRepository tag) to an exact release, such as 1.16.2, and let a bot such as Renovate propose updates.",
	Kinds:       []string{"HelmRelease", "HelmChart", "OCIRepository"},
	CheckObject: checkChartPinned,
	Policy:      policyChartPinned,
}

// exactVersion is an exact semantic version, with the optional v prefix that chart versions use.
var exactVersion = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
	`(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$`)

const fluxSourceGroup = "source.toolkit.fluxcd.io"

func checkChartPinned(_ *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	switch {
	case o.Ref.Group() == "helm.toolkit.fluxcd.io" && o.Ref.Kind == "HelmRelease":
		return helmReleaseUnpinned(o)
	case o.Ref.Group() == fluxSourceGroup && o.Ref.Kind == "HelmChart":
		return versionUnpinned(o.Node, "spec", "spec.version")
	case o.Ref.Group() == fluxSourceGroup && o.Ref.Kind == "OCIRepository":
		if msg := ociUnpinned(o.Node); msg != "" {
			return []rule.Violation{{Message: msg, Field: "spec.ref"}}
		}
	}
	return nil
}

// helmReleaseUnpinned checks spec.chart; a chartRef's source is checked as its own object.
func helmReleaseUnpinned(o *manifest.Object) []rule.Violation {
	if chart, _ := o.Node.Pipe(yaml.Lookup("spec", "chart")); chart != nil {
		return versionUnpinned(chart, "spec", "spec.chart.spec.version")
	}
	if ref, _ := o.Node.Pipe(yaml.Lookup("spec", "chartRef")); ref != nil {
		return nil
	}
	return []rule.Violation{{Message: "the HelmRelease sets neither spec.chart nor spec.chartRef; expected a chart with an exact version", Field: "spec"}}
}

// versionUnpinned checks the version of a chart template (HelmRelease spec.chart) or a HelmChart,
// whose fields live under specKey; field names the version field in messages.
func versionUnpinned(n *yaml.RNode, specKey, field string) []rule.Violation {
	switch manifest.String(n, specKey, "sourceRef", "kind") {
	case "GitRepository", "Bucket":
		return nil // Flux ignores the version of charts read from a path
	}
	v := manifest.String(n, specKey, "version")
	switch {
	case v == "":
		return []rule.Violation{{Message: field + " is empty or not set, so Flux installs the newest chart; expected an exact version such as 1.2.3", Field: field}}
	case !exactVersion.MatchString(v):
		return []rule.Violation{{Message: fmt.Sprintf("%s is %q, a range; expected an exact version such as 1.2.3", field, v), Field: field}}
	}
	return nil
}

// ociUnpinned says why an OCIRepository does not pin one artifact version, or "". Flux's
// precedence: digest, then semver, then tag (latest when nothing is set).
func ociUnpinned(n *yaml.RNode) string {
	if manifest.String(n, "spec", "ref", "digest") != "" {
		return ""
	}
	if sv := manifest.String(n, "spec", "ref", "semver"); sv != "" {
		if exactVersion.MatchString(sv) {
			return ""
		}
		return fmt.Sprintf("spec.ref.semver is %q, a range; expected spec.ref.tag with an exact version or spec.ref.digest", sv)
	}
	switch tag := manifest.String(n, "spec", "ref", "tag"); tag {
	case "":
		return "spec.ref sets no tag, semver or digest, so Flux pulls latest; expected spec.ref.tag with an exact version or spec.ref.digest"
	case "latest":
		return "spec.ref.tag is \"latest\"; expected spec.ref.tag with an exact version or spec.ref.digest"
	}
	return ""
}

// exactVersionRE is exactVersion for Kyverno's JMESPath and CEL (RE2, without \d).
var exactVersionRE = strings.ReplaceAll(exactVersion.String(), `\d`, `[0-9]`)

// policyChartPinned judges each object on its own, as the offline check does: HelmReleases whose
// spec.chart asks for a range or no version (or that set neither spec.chart nor spec.chartRef),
// HelmChart sources likewise, and OCIRepositories that pin no digest, exact semver or tag.
func policyChartPinned(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	meta := func(name string) map[string]any { return example.Meta(r, m, name, false, rule.ModuleLabels(r, m)) }
	hr := func(name, version string) map[string]any {
		return map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": meta(name),
			"spec": map[string]any{"interval": "10m", "chart": map[string]any{"spec": map[string]any{"chart": "app", "version": version,
				"sourceRef": map[string]any{"kind": "HelmRepository", "name": "charts"}}}}}
	}
	hc := func(name, version string) map[string]any {
		return map[string]any{"apiVersion": fluxSourceGroup + "/v1", "kind": "HelmChart", "metadata": meta(name),
			"spec": map[string]any{"interval": "10m", "chart": "app", "version": version,
				"sourceRef": map[string]any{"kind": "HelmRepository", "name": "charts"}}}
	}
	oci := func(name, tag string) map[string]any {
		return map[string]any{"apiVersion": fluxSourceGroup + "/v1", "kind": "OCIRepository", "metadata": meta(name),
			"spec": map[string]any{"interval": "10m", "url": "oci://registry.example.com/charts/app", "ref": map[string]any{"tag": tag}}}
	}
	unpinned := func(spec string) string { // JMESPath: a chart template or HelmChart spec asks for no exact version
		return "!contains(['GitRepository', 'Bucket'], " + spec + ".sourceRef.kind || '') && !regex_match('" + exactVersionRE + "', " + spec + ".version || '')"
	}
	pinned := func(spec string) string { // CEL
		return spec + `.?sourceRef.?kind.orValue("") in ["GitRepository", "Bucket"] || string(` + spec + `.?version.orValue("")).matches(` + expr.CELString(exactVersionRE) + `)`
	}
	chart := "request.object.spec.chart"
	ref := "request.object.spec.ref"
	return []rule.PolicyRule{{
		Name:    "helmreleases",
		Kinds:   []rule.Kind{rule.HelmReleaseKind},
		Lookup:  rule.ByLabelsOrNamespace,
		Message: "HelmReleases install an exact chart version (spec.chart.spec.version such as 1.2.3), not a range or the newest",
		Deny: []rule.Condition{
			{Key: "{{ " + chart + " && " + unpinned(chart+".spec") + " }}", Operator: "Equals", Value: true},
			{Key: "{{ !" + chart + " && !request.object.spec.chartRef }}", Operator: "Equals", Value: true},
		},
		CEL:  []string{`object.?spec.?chart.hasValue() ? (` + pinned("object.spec.chart.?spec") + `) : object.?spec.?chartRef.hasValue()`},
		Pass: []map[string]any{hr(m.Name()+"-pinned", "1.2.3")},
		Fail: []map[string]any{hr(m.Name()+"-range", ">=1.0.0")},
	}, {
		Name:    "helmcharts",
		Kinds:   []rule.Kind{{Group: fluxSourceGroup, Version: "*", Kind: "HelmChart", Resource: "helmcharts"}},
		Lookup:  rule.ByLabelsOrNamespace,
		Message: "HelmChart sources pin an exact spec.version such as 1.2.3",
		Deny:    []rule.Condition{{Key: "{{ " + unpinned("request.object.spec") + " }}", Operator: "Equals", Value: true}},
		CEL:     []string{pinned("object.?spec")},
		Pass:    []map[string]any{hc(m.Name()+"-pinned", "1.2.3")},
		Fail:    []map[string]any{hc(m.Name()+"-range", "~1.2")},
	}, {
		Name:    "ocirepositories",
		Kinds:   []rule.Kind{{Group: fluxSourceGroup, Version: "*", Kind: "OCIRepository", Resource: "ocirepositories"}},
		Lookup:  rule.ByLabelsOrNamespace,
		Message: "OCIRepositories pin spec.ref.digest, an exact spec.ref.semver, or a spec.ref.tag other than latest",
		Deny: []rule.Condition{{Key: "{{ !(" + ref + ".digest || '') && (((" + ref + ".semver || '') != '' && !regex_match('" + exactVersionRE + "', " + ref + ".semver)) || " +
			"((" + ref + ".semver || '') == '' && contains(['', 'latest'], " + ref + ".tag || ''))) }}", Operator: "Equals", Value: true}},
		CEL: []string{`object.?spec.?ref.?digest.orValue("") != "" || (object.?spec.?ref.?semver.orValue("") != "" ? ` +
			`string(object.spec.ref.semver).matches(` + expr.CELString(exactVersionRE) + `) : !(object.?spec.?ref.?tag.orValue("") in ["", "latest"]))`},
		Pass: []map[string]any{oci(m.Name()+"-pinned", "1.2.3")},
		Fail: []map[string]any{oci(m.Name()+"-latest", "latest")},
	}}
}
