package rules

import (
	"fmt"
	"regexp"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// VersionsChartPinned requires HelmReleases to install an exact chart version.
var VersionsChartPinned = rule.Rule{
	ID:       "versions/chart-pinned",
	Title:    "HelmReleases install an exact chart version",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "A Flux HelmRelease installs one exact chart version, so that a chart release never reaches a " +
		"cluster without a commit in this repository. With spec.chart, spec.chart.spec.version is an exact " +
		"semantic version (1.2.3 or v1.2.3, with optional pre-release and build): not empty (Flux then " +
		"installs the newest), not a range (>=1.0, ~1.2, ^1, 1.2, 1.x, *). Charts from a GitRepository or " +
		"Bucket are exempt, since Flux ignores the version there. With spec.chartRef, the referenced " +
		"OCIRepository (found among the rendered objects of the module, then of any module) must set " +
		"spec.ref.digest, an exact spec.ref.semver, or a spec.ref.tag other than latest; a referenced " +
		"HelmChart must set an exact spec.version.",
	Remediation: "Set the chart version to an exact release, such as 1.16.2, and let a bot such as Renovate propose updates.",
	Kinds:       []string{"HelmRelease"},
	CheckObject: checkChartPinned,
}

// exactVersion is an exact semantic version, with the optional v prefix that chart versions use.
var exactVersion = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
	`(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$`)

const fluxSourceGroup = "source.toolkit.fluxcd.io"

func checkChartPinned(r *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
	if o.Ref.Group() != "helm.toolkit.fluxcd.io" {
		return nil
	}
	if chart, _ := o.Node.Pipe(yaml.Lookup("spec", "chart")); chart != nil {
		switch stringField(chart, "spec", "sourceRef", "kind") {
		case "GitRepository", "Bucket":
			return nil // Flux ignores the version of charts read from a path
		}
		v := stringField(chart, "spec", "version")
		switch {
		case v == "":
			field := "spec.chart.spec"
			if n, _ := chart.Pipe(yaml.Lookup("spec", "version")); n != nil {
				field += ".version"
			}
			return []rule.Violation{{Message: "spec.chart.spec.version is empty or not set, so Flux installs the newest chart; expected an exact version such as 1.2.3", Field: field}}
		case !exactVersion.MatchString(v):
			return []rule.Violation{{Message: fmt.Sprintf("spec.chart.spec.version is %q, a range; expected an exact version such as 1.2.3", v), Field: "spec.chart.spec.version"}}
		}
		return nil
	}
	ref, _ := o.Node.Pipe(yaml.Lookup("spec", "chartRef"))
	if ref == nil {
		return []rule.Violation{{Message: "the HelmRelease sets neither spec.chart nor spec.chartRef; expected a chart with an exact version", Field: "spec"}}
	}
	kind, name := stringField(ref, "kind"), stringField(ref, "name")
	ns := stringField(ref, "namespace")
	if ns == "" {
		ns = o.Ref.Namespace
	}
	if kind != "OCIRepository" && kind != "HelmChart" {
		return nil // another source kind: nothing polc can read a version from
	}
	src := findSource(r, m, kind, ns, name)
	target := kind + " " + ns + "/" + name
	if src == nil {
		if !allRendered(r) {
			return nil // the source may be in a module this run did not render
		}
		return []rule.Violation{{Message: fmt.Sprintf("spec.chartRef names %s, which no module of this repository renders, so its chart version cannot be checked; expected that %s in a module, with a pinned version", target, kind), Field: "spec.chartRef"}}
	}
	if msg := sourceUnpinned(src); msg != "" {
		return []rule.Violation{{Message: fmt.Sprintf("spec.chartRef names %s, %s", target, msg), Field: "spec.chartRef"}}
	}
	return nil
}

// sourceUnpinned says why an OCIRepository or HelmChart does not pin one chart version, or "".
func sourceUnpinned(src *manifest.Object) string {
	if src.Ref.Kind == "HelmChart" {
		v := stringField(src.Node, "spec", "version")
		switch {
		case v == "":
			return "which sets no spec.version (the newest chart); expected an exact version such as 1.2.3"
		case !exactVersion.MatchString(v):
			return fmt.Sprintf("whose spec.version is %q, a range; expected an exact version such as 1.2.3", v)
		}
		return ""
	}
	// Flux's precedence: digest, then semver, then tag (latest when nothing is set).
	if stringField(src.Node, "spec", "ref", "digest") != "" {
		return ""
	}
	if sv := stringField(src.Node, "spec", "ref", "semver"); sv != "" {
		if exactVersion.MatchString(sv) {
			return ""
		}
		return fmt.Sprintf("whose spec.ref.semver is %q, a range; expected spec.ref.tag with an exact version or spec.ref.digest", sv)
	}
	switch tag := stringField(src.Node, "spec", "ref", "tag"); tag {
	case "":
		return "which sets no spec.ref (so Flux pulls latest); expected spec.ref.tag with an exact version or spec.ref.digest"
	case "latest":
		return "whose spec.ref.tag is \"latest\"; expected spec.ref.tag with an exact version or spec.ref.digest"
	}
	return ""
}

// findSource looks for a Flux source object among the rendered objects of module m, then of every
// module in name order.
func findSource(r *rule.Repo, m *module.Module, kind, ns, name string) *manifest.Object {
	match := func(objs []*manifest.Object) *manifest.Object {
		for _, o := range objs {
			if o.Ref.Kind == kind && o.Ref.Name == name && o.Ref.Namespace == ns && o.Ref.Group() == fluxSourceGroup {
				return o
			}
		}
		return nil
	}
	if o := match(r.Objects[m.Name()]); o != nil {
		return o
	}
	for _, other := range r.Modules {
		if o := match(r.Objects[other.Name()]); o != nil {
			return o
		}
	}
	return nil
}

// allRendered reports whether every non-component module rendered in this run, so that an object
// that no module renders really does not exist.
func allRendered(r *rule.Repo) bool {
	for _, m := range r.Modules {
		if m.Spec.Type != module.Component && !r.Rendered[m.Name()] {
			return false
		}
	}
	return true
}
