// Package charts finds the Helm chart a Flux HelmRelease installs, keeps packaged charts in an
// on-disk cache, and pulls charts into that cache from HTTP(S) Helm repositories and OCI
// registries. Resolving and reading the cache never use the network; only Pull does.
package charts

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Source types of a Ref.
const (
	// TypeHelm is an HTTP(S) Helm repository serving index.yaml.
	TypeHelm = "helm"
	// TypeOCI is an OCI registry: a HelmRepository of type oci, or an OCIRepository.
	TypeOCI = "oci"
)

// Ref names one chart version at one source.
type Ref struct {
	// Type is TypeHelm or TypeOCI.
	Type string
	// URL is the repository URL (https://charts.example.com, oci://ghcr.io/org/charts); for an
	// OCIRepository, the full artifact URL.
	URL string
	// Chart is the chart name; empty for an OCIRepository, whose URL is the artifact.
	Chart string
	// Version is the exact chart version (the OCI tag, with "+" written as "_" in the registry).
	Version string
	// Digest is an optional sha256:... pin of the OCI manifest.
	Digest string
}

// String names the ref for messages: URL/chart@version, or URL:version@digest for OCI
// artifacts.
func (r Ref) String() string {
	s := strings.TrimRight(r.URL, "/")
	if r.Chart != "" {
		s += "/" + r.Chart
	}
	if r.Version != "" {
		if r.Type == TypeOCI {
			s += ":" + r.Version
		} else {
			s += "@" + r.Version
		}
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// SourceRef names a Flux source object.
type SourceRef struct {
	Kind, Namespace, Name string
}

// String renders the reference as Kind/namespace/name.
func (s SourceRef) String() string { return s.Kind + "/" + s.Namespace + "/" + s.Name }

// DefaultSelf is the repository's own Flux source when polc.yaml names none.
var DefaultSelf = SourceRef{Kind: "GitRepository", Namespace: "flux-system", Name: "flux-system"}

// Resolved is where a HelmRelease's chart comes from: a remote Ref, or (LocalPath set) a
// directory of the repository itself.
type Resolved struct {
	Ref Ref
	// LocalPath is the chart's directory, slash-separated and relative to the repository root,
	// when the chart comes from the repository's own GitRepository; empty otherwise.
	LocalPath string
}

// Reason says why a HelmRelease's chart cannot be resolved. The values are fixed phrases that
// reports print; "" means resolved.
type Reason string

// Reasons a chart cannot be resolved.
const (
	// ReasonInvalid: the HelmRelease names no chart (neither spec.chart.spec nor spec.chartRef
	// with a kind and name), or a field has the wrong shape.
	ReasonInvalid Reason = "chart not specified"
	// ReasonNotPinned: the version is empty, "*", a range or a mutable tag: only exact versions
	// (or a digest) name one chart.
	ReasonNotPinned Reason = "version not pinned"
	// ReasonSourceNotFound: the source object is not among the repository's rendered objects.
	ReasonSourceNotFound Reason = "source not found in the repository"
	// ReasonUnsupportedSource: the source is of a kind polc cannot fetch (Bucket, a GitRepository
	// other than the repository's own, an unknown kind).
	ReasonUnsupportedSource Reason = "source of an unsupported kind"
	// ReasonInvalidSource: the source object lacks a usable URL (missing, or a scheme other than
	// http, https or oci).
	ReasonInvalidSource Reason = "source URL not supported"
	// ReasonPathOutside: a chart path of the repository's own source leaves the repository.
	ReasonPathOutside Reason = "chart path outside the repository"
)

// Reasons lists every Reason, for documentation and tests.
func Reasons() []Reason {
	return []Reason{ReasonInvalid, ReasonNotPinned, ReasonSourceNotFound, ReasonUnsupportedSource, ReasonInvalidSource, ReasonPathOutside}
}

// Lookup finds a rendered object of the repository by kind, namespace and name, or returns nil.
type Lookup func(kind, namespace, name string) *yaml.RNode

// Resolve finds the chart HelmRelease hr installs, as helm-controller would: from
// spec.chart.spec (chart, version, sourceRef of kind HelmRepository, GitRepository or Bucket;
// the source's namespace defaults to the HelmRelease's) or from spec.chartRef (kind
// OCIRepository or HelmChart). Source objects are found with lookup. self is the repository's
// own Flux source: a chart from that GitRepository resolves to its cleaned path inside the
// repository. When the chart cannot be resolved, Resolve returns a Reason and a detail that
// names what was found.
func Resolve(hr *yaml.RNode, lookup Lookup, self SourceRef) (Resolved, Reason, string) {
	ns := str(hr, "metadata", "namespace")
	if ref := hr.Field("spec"); ref != nil && ref.Value.Field("chartRef") != nil {
		return resolveChartRef(hr, ns, lookup, self)
	}
	spec, err := hr.Pipe(yaml.Lookup("spec", "chart", "spec"))
	if err != nil || spec == nil || spec.YNode().Kind != yaml.MappingNode {
		return Resolved{}, ReasonInvalid, "spec.chart.spec and spec.chartRef are both missing"
	}
	return resolveChartSpec(spec, ns, true, lookup, self)
}

// resolveChartRef resolves spec.chartRef: an OCIRepository or a HelmChart.
func resolveChartRef(hr *yaml.RNode, ns string, lookup Lookup, self SourceRef) (Resolved, Reason, string) {
	src := SourceRef{Kind: str(hr, "spec", "chartRef", "kind"), Namespace: str(hr, "spec", "chartRef", "namespace"), Name: str(hr, "spec", "chartRef", "name")}
	if src.Namespace == "" {
		src.Namespace = ns
	}
	if src.Kind == "" || src.Name == "" {
		return Resolved{}, ReasonInvalid, "spec.chartRef needs a kind and a name"
	}
	obj := lookup(src.Kind, src.Namespace, src.Name)
	switch src.Kind {
	case "OCIRepository", "HelmChart":
	default:
		return Resolved{}, ReasonUnsupportedSource, fmt.Sprintf("spec.chartRef kind %q (want OCIRepository or HelmChart)", src.Kind)
	}
	if obj == nil {
		return Resolved{}, ReasonSourceNotFound, src.String()
	}
	if src.Kind == "HelmChart" {
		spec, err := obj.Pipe(yaml.Lookup("spec"))
		if err != nil || spec == nil || spec.YNode().Kind != yaml.MappingNode {
			return Resolved{}, ReasonInvalid, src.String() + " has no spec"
		}
		// A HelmChart's sourceRef has no namespace: the source is in the HelmChart's namespace.
		return resolveChartSpec(spec, src.Namespace, false, lookup, self)
	}
	return resolveOCIRepository(obj, src)
}

// resolveOCIRepository resolves an OCIRepository: its URL is the artifact; spec.ref.digest wins
// over spec.ref.semver, which wins over spec.ref.tag, as in source-controller.
func resolveOCIRepository(obj *yaml.RNode, src SourceRef) (Resolved, Reason, string) {
	url := str(obj, "spec", "url")
	if !strings.HasPrefix(url, "oci://") || len(url) == len("oci://") {
		return Resolved{}, ReasonInvalidSource, fmt.Sprintf("%s spec.url %q is not an oci:// URL", src, url)
	}
	ref := Ref{Type: TypeOCI, URL: strings.TrimRight(url, "/")}
	digest, semver, tag := str(obj, "spec", "ref", "digest"), str(obj, "spec", "ref", "semver"), str(obj, "spec", "ref", "tag")
	switch {
	case digest != "":
		if !digestPattern.MatchString(digest) {
			return Resolved{}, ReasonInvalidSource, fmt.Sprintf("%s spec.ref.digest %q is not a sha256 digest", src, digest)
		}
		ref.Digest = digest
		if semver == "" && exactVersion(tag) {
			ref.Version = tag
		}
	case semver != "":
		if !exactVersion(semver) {
			return Resolved{}, ReasonNotPinned, fmt.Sprintf("%s spec.ref.semver %q", src, semver)
		}
		ref.Version = semver
	case tag != "" && tag != "latest":
		ref.Version = tag
	default:
		return Resolved{}, ReasonNotPinned, fmt.Sprintf("%s follows tag %q", src, "latest")
	}
	return Resolved{Ref: ref}, "", ""
}

// resolveChartSpec resolves a chart template: spec.chart.spec of a HelmRelease (sourceRef may
// name a namespace) or the spec of a HelmChart (it may not: withNS false).
func resolveChartSpec(spec *yaml.RNode, ns string, withNS bool, lookup Lookup, self SourceRef) (Resolved, Reason, string) {
	chart, version := str(spec, "chart"), str(spec, "version")
	src := SourceRef{Kind: str(spec, "sourceRef", "kind"), Name: str(spec, "sourceRef", "name"), Namespace: ns}
	if n := str(spec, "sourceRef", "namespace"); withNS && n != "" {
		src.Namespace = n
	}
	if chart == "" || src.Name == "" {
		return Resolved{}, ReasonInvalid, "the chart spec needs chart and sourceRef.name"
	}
	if src.Kind == "" {
		src.Kind = "HelmRepository"
	}
	switch src.Kind {
	case "HelmRepository":
	case "GitRepository":
		if src != self {
			return Resolved{}, ReasonUnsupportedSource, fmt.Sprintf("%s is not the repository's own source %s", src, self)
		}
		return resolveLocal(chart)
	default:
		return Resolved{}, ReasonUnsupportedSource, fmt.Sprintf("sourceRef kind %q (want HelmRepository, or GitRepository %s)", src.Kind, self)
	}
	if !exactVersion(version) {
		if version == "" {
			version = "*"
		}
		return Resolved{}, ReasonNotPinned, fmt.Sprintf("chart %q version %q", chart, version)
	}
	obj := lookup(src.Kind, src.Namespace, src.Name)
	if obj == nil {
		return Resolved{}, ReasonSourceNotFound, src.String()
	}
	return resolveHelmRepository(obj, src, chart, version)
}

// resolveHelmRepository resolves a chart of a HelmRepository: an HTTP(S) index, or an OCI
// registry when spec.type is oci.
func resolveHelmRepository(obj *yaml.RNode, src SourceRef, chart, version string) (Resolved, Reason, string) {
	url := strings.TrimRight(str(obj, "spec", "url"), "/")
	typ := TypeHelm
	if str(obj, "spec", "type") == "oci" {
		typ = TypeOCI
		if !strings.HasPrefix(url, "oci://") || len(url) == len("oci://") {
			return Resolved{}, ReasonInvalidSource, fmt.Sprintf("%s spec.url %q is not an oci:// URL", src, url)
		}
	} else if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return Resolved{}, ReasonInvalidSource, fmt.Sprintf("%s spec.url %q is not an http(s):// URL", src, url)
	}
	if strings.ContainsAny(chart, "/\\") || chart == "." || chart == ".." {
		return Resolved{}, ReasonInvalid, fmt.Sprintf("chart name %q of %s contains a path", chart, src)
	}
	return Resolved{Ref: Ref{Type: typ, URL: url, Chart: chart, Version: version}}, "", ""
}

// resolveLocal resolves a chart path of the repository's own GitRepository: the cleaned path,
// which must stay inside the repository.
func resolveLocal(p string) (Resolved, Reason, string) {
	p = strings.ReplaceAll(p, "\\", "/")
	clean := path.Clean(strings.TrimPrefix(p, "/"))
	if strings.HasPrefix(p, "/") || clean == ".." || strings.HasPrefix(clean, "../") {
		return Resolved{}, ReasonPathOutside, fmt.Sprintf("chart path %q", p)
	}
	return Resolved{LocalPath: clean}, "", ""
}

// versionPattern is a SemVer 2.0 version, optionally prefixed with v: the only versions that
// name exactly one chart.
var versionPattern = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
	`(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$`)

// digestPattern is a sha256 content digest.
var digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// exactVersion reports whether v is one exact version rather than a range, a wildcard or empty.
func exactVersion(v string) bool { return versionPattern.MatchString(v) }

// str returns the scalar string at path below n, or "" when it is missing or not a scalar.
func str(n *yaml.RNode, fields ...string) string {
	v, err := n.Pipe(yaml.Lookup(fields...))
	if err != nil || v == nil || v.YNode().Kind != yaml.ScalarNode {
		return ""
	}
	return strings.TrimSpace(v.YNode().Value)
}
