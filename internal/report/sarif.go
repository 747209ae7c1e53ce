package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"polc.dev/polc/internal/rule"
)

// SARIF constants. The $schema URI is the OASIS one for SARIF 2.1.0 (errata 01), which GitHub code
// scanning and the SARIF viewers recognise.
const (
	sarifVersion   = "2.1.0"
	sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	// sarifSrcRoot is the uriBaseId of every artifact: paths are relative to the repository root,
	// which the consumer (a code scanning upload, an editor) knows and polc does not print.
	sarifSrcRoot = "%SRCROOT%"
	// InformationURI is where users read about polc; it appears as the SARIF tool's informationUri.
	InformationURI = "https://polc.dev"
	// sarifFingerprintKey names polc's partial fingerprint (see fingerprint). SARIF requires a
	// versioned hierarchical name; a new way of computing the value gets a new version, and the
	// old one stays as long as result management systems may rely on it.
	sarifFingerprintKey = "polc/v1"
)

// The types below are the subset of the SARIF 2.1.0 object model that polc writes. Field order is
// the order of the output; omitempty keeps optional members out when unset, so the log stays
// small and valid (SARIF forbids, for example, a region without startLine).

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool     `json:"tool"`
	ColumnKind string        `json:"columnKind"`
	Results    []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string            `json:"name"`
	Version        string            `json:"version,omitempty"`
	InformationURI string            `json:"informationUri"`
	Rules          []sarifDescriptor `json:"rules"`
}

type sarifDescriptor struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     *sarifText     `json:"shortDescription,omitempty"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	DefaultConfiguration *sarifRuleConf `json:"defaultConfiguration,omitempty"`
}

// sarifText serves both message and multiformatMessageString objects: polc only writes text.
type sarifText struct {
	Text string `json:"text"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

// sarifResult is one finding. Suppressions is never omitted: SARIF wants it either on every
// result of a run or on none, and polc decides every finding's exception status.
type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints"`
	Suppressions        []sarifSuppression `json:"suppressions"`
	// BaselineState is "unchanged" for a finding the baseline holds and "new" for any other, when
	// the run compared its findings with a baseline file; absent otherwise (SARIF 2.1.0 §3.27.24).
	BaselineState string           `json:"baselineState,omitempty"`
	Properties    *sarifProperties `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

// sarifProperties is the result's property bag: what SARIF has no member for but a reader of the
// log wants, such as the module and the object a finding is about.
type sarifProperties struct {
	Module string          `json:"module,omitempty"`
	Object *rule.ObjectRef `json:"object,omitempty"`
	Field  string          `json:"field,omitempty"`
	Hint   string          `json:"hint,omitempty"`
}

// sarif collects findings and writes one SARIF log with a single run in Flush. The output holds
// no timestamps, absolute paths or GUIDs, so the same findings always give the same bytes.
type sarif struct {
	w     io.Writer
	o     Options
	rules []sarifDescriptor
	// index maps a rule ID to its position in rules, which results cite as ruleIndex.
	index   map[string]int
	results []sarifResult
}

var _ Formatter = (*sarif)(nil)

func newSARIF(w io.Writer, o Options) Formatter {
	s := &sarif{w: w, o: o, rules: []sarifDescriptor{}, index: map[string]int{}, results: []sarifResult{}}
	for _, r := range o.Rules {
		s.index[r.ID] = len(s.rules)
		s.rules = append(s.rules, sarifDescriptor{
			ID:                   r.ID,
			Name:                 pascalCase(r.ID),
			ShortDescription:     textOrNil(r.Title),
			FullDescription:      textOrNil(r.Doc),
			Help:                 textOrNil(r.Remediation),
			DefaultConfiguration: &sarifRuleConf{Level: sarifLevel(r.Severity)},
		})
	}
	return s
}

func (s *sarif) Write(f Finding) error {
	idx, ok := s.index[f.Rule]
	if !ok {
		// A finding of a rule outside the registry (a Rego rule, say) still gets a descriptor, so
		// that every ruleIndex points at the rule it names.
		idx = len(s.rules)
		s.index[f.Rule] = idx
		s.rules = append(s.rules, sarifDescriptor{ID: f.Rule, Name: pascalCase(f.Rule)})
	}
	res := sarifResult{
		RuleID:              f.Rule,
		RuleIndex:           idx,
		Level:               sarifLevel(f.Severity),
		Message:             sarifText{Text: f.Message},
		Locations:           sarifLocations(f.Pos),
		PartialFingerprints: map[string]string{sarifFingerprintKey: fingerprint(f.Finding)},
		Suppressions:        []sarifSuppression{},
	}
	if f.Excepted {
		res.Suppressions = []sarifSuppression{{Kind: "external", Justification: f.Reason}}
	}
	if s.o.Baseline {
		res.BaselineState = "new"
		if f.Baselined {
			res.BaselineState = "unchanged"
		}
	}
	if f.Module != "" || f.Object != nil || f.Field != "" || f.Hint != "" {
		res.Properties = &sarifProperties{Module: f.Module, Object: f.Object, Field: f.Field, Hint: f.Hint}
	}
	s.results = append(s.results, res)
	return nil
}

func (s *sarif) Flush(Summary) error {
	log := sarifLog{Schema: sarifSchemaURI, Version: sarifVersion, Runs: []sarifRun{{
		Tool: sarifTool{Driver: sarifDriver{Name: "polc", Version: s.o.Version, InformationURI: InformationURI, Rules: s.rules}},
		// Columns come from the YAML parser, which counts characters, not UTF-16 code units.
		ColumnKind: "unicodeCodePoints",
		Results:    s.results,
	}}}
	enc := json.NewEncoder(s.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // messages quote manifests; keep <, > and & readable
	return enc.Encode(log)
}

// sarifLocations is the location of a finding in a file, or none for a finding about no file.
// The region is always there, since GitHub code scanning needs a startLine to show a result (and
// to compute its own line fingerprint): line 1 when the line is unknown, and then no column.
func sarifLocations(p rule.Pos) []sarifLocation {
	if p.File == "" {
		return nil
	}
	region := &sarifRegion{StartLine: 1}
	if p.Line > 0 {
		region = &sarifRegion{StartLine: p.Line, StartColumn: p.Column}
	}
	return []sarifLocation{{PhysicalLocation: sarifPhysical{
		ArtifactLocation: sarifArtifact{URI: fileURI(p.File), URIBaseID: sarifSrcRoot},
		Region:           region,
	}}}
}

// fingerprint identifies a finding across runs whatever lines move: a hash of the rule, the
// module, what the finding is about (the object's kind, namespace and name, or else the file),
// the field and the message. Positions and the object's apiVersion stay out, so that an edit
// elsewhere in the file or a version bump keeps the identity; a changed message makes a new one.
// Each part is written with its length, so that no two different lists of parts hash alike.
func fingerprint(f rule.Finding) string {
	parts := []string{f.Rule, f.Module}
	if f.Object != nil {
		parts = append(parts, "object", f.Object.Kind, f.Object.Namespace, f.Object.Name)
	} else {
		parts = append(parts, "file", f.Pos.File)
	}
	parts = append(parts, f.Field, f.Message)
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// sarifLevel maps a severity to a SARIF level. Excepted findings keep their level and carry a
// suppression instead, as SARIF intends.
func sarifLevel(s rule.Severity) string {
	switch s {
	case rule.Error:
		return "error"
	case rule.Warning:
		return "warning"
	case rule.Off:
		return "none"
	}
	return "note"
}

// fileURI turns a repository-relative, slash-separated path into a relative URI reference,
// percent-encoding what a URI cannot hold (spaces, '%', '#', '?').
func fileURI(p string) string {
	return (&url.URL{Path: p}).String()
}

func textOrNil(s string) *sarifText {
	if s == "" {
		return nil
	}
	return &sarifText{Text: s}
}

// pascalCase turns a rule ID into the identifier-like name SARIF viewers show next to it:
// security/image-tag becomes SecurityImageTag.
func pascalCase(id string) string {
	var b strings.Builder
	upper := true
	for _, r := range id {
		switch {
		case r == '/' || r == '-' || r == '_' || r == '.':
			upper = true
		case upper && r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			upper = false
		default:
			b.WriteRune(r)
			upper = false
		}
	}
	return b.String()
}
