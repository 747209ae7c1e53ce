// Package report writes findings in the formats users and CI systems read. Every format is one file
// behind the Formatter interface.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
)

// Formatter writes findings. Streaming formats print in Write; buffered ones (json, sarif, junit)
// collect and print in Flush. Findings arrive sorted, as the engine leaves them.
type Formatter interface {
	Write(f Finding) error
	Flush(s Summary) error
}

// Finding is a finding as a report shows it: the rule's finding, and whether the run's baseline
// holds it.
type Finding struct {
	rule.Finding
	// Baselined is true when the baseline file (polc check --baseline) records the finding: it is
	// reported, marked as such, and does not fail the run.
	Baselined bool
}

// Wrap returns findings as reported findings, none of them baselined.
func Wrap(findings []rule.Finding) []Finding {
	out := make([]Finding, len(findings))
	for i, f := range findings {
		out[i] = Finding{Finding: f}
	}
	return out
}

// Fails reports whether f fails a run whose fail level is failOn: it is neither excepted nor
// baselined, and its severity reaches failOn.
func (f Finding) Fails(failOn rule.Severity) bool {
	return !f.Excepted && !f.Baselined && f.Severity.Rank() >= failOn.Rank()
}

// Summary counts what a run saw and found.
type Summary struct {
	Modules  int `json:"modules"`
	Objects  int `json:"objects"`
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
	Excepted int `json:"excepted"`
	// Baselined counts the findings the baseline holds (not excepted ones, which it never
	// records); Errors and Warnings leave them out, as they leave out excepted findings.
	Baselined int `json:"baselined,omitempty"`
	// HelmReleases counts HelmReleases, whose rendered workloads only in-cluster policies see.
	HelmReleases int `json:"helmReleases"`
	// Coverage says what the run rendered, and what it did not.
	Coverage Coverage `json:"coverage"`
}

// Coverage says what a run rendered and checked offline, and what only the cluster checks.
type Coverage struct {
	// Objects counts the rendered objects by origin: "kustomize" for a module's own build,
	// "flux-kustomization" for the paths of Flux Kustomizations, "helm" for charts.
	Objects map[string]int `json:"objects"`
	// FluxKustomizations and HelmReleases count the Flux Kustomizations followed and the
	// HelmReleases templated, which rendered the objects of those origins.
	FluxKustomizations int `json:"fluxKustomizations"`
	HelmReleases       int `json:"helmReleases"`
	// NotRendered lists what the selected modules deploy that polc did not render (HelmReleases,
	// Flux Kustomization paths that are not module directories), sorted by file and line.
	NotRendered []Unrendered `json:"notRendered"`
	// RemoteReferences counts the kustomization entries that were not fetched (module/remote).
	RemoteReferences int `json:"remoteReferences"`
}

// Unrendered is one deployment polc did not render: the object that deploys it, and why.
type Unrendered struct {
	Kind      string `json:"kind"`
	Module    string `json:"module"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Line      int    `json:"line,omitempty"`
	// Cause is a short code for Reason: other-source, outside-repository, cycle, limit,
	// not-templated, chart-not-cached, version-not-pinned...
	Cause  string `json:"cause,omitempty"`
	Reason string `json:"reason"`
}

// Summarize counts the modules the run reported on, the objects it rendered and the findings by
// severity (excepted findings apart), for a run without a baseline.
func Summarize(repo *rule.Repo, findings []rule.Finding) Summary {
	return SummarizeFindings(repo, Wrap(findings))
}

// SummarizeFindings is Summarize for reported findings: excepted and baselined findings are
// counted apart from the errors and warnings.
func SummarizeFindings(repo *rule.Repo, findings []Finding) Summary {
	s := Summary{Modules: len(repo.Reported()), Coverage: coverage(repo, findings)}
	for _, objs := range repo.Objects {
		s.Objects += len(objs)
		for _, o := range objs {
			if o.Ref.Kind == "HelmRelease" {
				s.HelmReleases++
			}
		}
	}
	for _, f := range findings {
		s.add(f)
	}
	return s
}

// add counts f as excepted, baselined, an error or a warning, in that order of precedence.
func (s *Summary) add(f Finding) {
	switch {
	case f.Excepted:
		s.Excepted++
	case f.Baselined:
		s.Baselined++
	case f.Severity == rule.Error:
		s.Errors++
	case f.Severity == rule.Warning:
		s.Warnings++
	}
}

// coverage summarizes what the run rendered and what it did not.
func coverage(repo *rule.Repo, findings []Finding) Coverage {
	c := Coverage{Objects: map[string]int{}, NotRendered: []Unrendered{}}
	by := map[manifest.OriginKind]map[string]bool{manifest.FromFluxKustomization: {}, manifest.FromHelm: {}}
	for mod, objs := range repo.Objects {
		for _, o := range objs {
			k := o.Origin.KindOrDefault()
			c.Objects[string(k)]++
			if by[k] != nil {
				by[k][mod+"\x00"+o.Origin.By] = true
			}
		}
	}
	c.FluxKustomizations, c.HelmReleases = len(by[manifest.FromFluxKustomization]), len(by[manifest.FromHelm])
	for _, g := range repo.Gaps {
		pos := g.Object.FieldPos(g.Field)
		c.NotRendered = append(c.NotRendered, Unrendered{Kind: string(g.Kind), Module: g.Module, Namespace: g.Object.Ref.Namespace,
			Name: g.Object.Ref.Name, File: pos.File, Line: pos.Line, Cause: g.Cause, Reason: g.Reason})
	}
	sort.SliceStable(c.NotRendered, func(i, j int) bool {
		a, b := c.NotRendered[i], c.NotRendered[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	for _, f := range findings {
		if f.Rule == rule.RemoteRule {
			c.RemoteReferences++
		}
	}
	return c
}

// Options carry what some formats need besides the findings.
type Options struct {
	// Rules is the registry, for rule metadata (SARIF, JUnit).
	Rules []rule.Rule
	// Version is polc's version, for tool metadata.
	Version string
	// FailOn is the lowest severity that fails the run (JUnit reports those findings as failures);
	// empty means error.
	FailOn rule.Severity
	// Baseline is true when the run compared its findings with a baseline file: SARIF results
	// then carry a baselineState.
	Baseline bool
}

// constructors maps each format name to its constructor.
var constructors = map[string]func(w io.Writer, o Options) Formatter{
	"text":   newText,
	"json":   newJSON,
	"sarif":  newSARIF,
	"junit":  newJUnit,
	"github": newGitHub,
}

// Formats lists the format names, sorted.
func Formats() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the formatter for a format name, or an error listing the valid names.
func New(w io.Writer, format string, o Options) (Formatter, error) {
	c, ok := constructors[format]
	if !ok {
		return nil, fmt.Errorf("unknown format %q; valid formats: %s", format, strings.Join(Formats(), ", "))
	}
	return c(w, o), nil
}

// Write sends every finding to f, then flushes it with the summary.
func Write(f Formatter, findings []Finding, s Summary) error {
	for _, fd := range findings {
		if err := f.Write(fd); err != nil {
			return err
		}
	}
	return f.Flush(s)
}
