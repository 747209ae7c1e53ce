package builtin

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// semverRe is the regular expression of semver.org 2.0.0: MAJOR.MINOR.PATCH, an optional
// pre-release after '-' and optional build metadata after '+'. No leading 'v'.
var semverRe = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// versionHeading matches a second-level CHANGELOG heading and captures the word after it, with or
// without brackets: "## [1.2.0] - 2025-01-31", "## 1.2.0".
var versionHeading = regexp.MustCompile(`^##[ \t]+\[?([^\]\s]+)\]?`)

// ModuleVersion requires spec.version to be a semantic version equal to the newest CHANGELOG.md
// version.
var ModuleVersion = rule.Rule{
	ID:       "module/version",
	Title:    "spec.version is semver and equals the newest version heading of CHANGELOG.md",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "A module's version is what clusters pin and what its changelog explains. spec.version must be a " +
		"semantic version (MAJOR.MINOR.PATCH, without a leading v) and must equal the highest version " +
		"among the CHANGELOG.md headings of level two, written `## [1.2.0] - 2025-01-31` or `## 1.2.0` " +
		"(an `## [Unreleased]` heading is ignored). Bumping one without the other is the usual way a " +
		"release goes out undocumented. Component modules without a CHANGELOG.md skip the comparison.",
	Remediation: "Add a CHANGELOG.md heading for the new version, or set spec.version to the newest version in CHANGELOG.md.",
	CheckModule: checkModuleVersion,
}

func checkModuleVersion(r *rule.Repo, m *module.Module) []rule.Finding {
	v := m.Spec.Version
	if !semverRe.MatchString(v) {
		return []rule.Finding{rule.ModuleFinding(m, "spec.version",
			fmt.Sprintf("spec.version %q is not a semantic version; expected MAJOR.MINOR.PATCH such as 1.0.0", v))}
	}
	rel := path.Join(m.Dir, changelogFile)
	data, err := r.ReadFile(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || m.Spec.Type == module.Component {
			return nil // module/files reports a missing CHANGELOG.md; components need none
		}
		return []rule.Finding{rule.ModuleFinding(m, "spec.version", fmt.Sprintf("cannot read %s: %v", rel, err))}
	}
	newest, line := NewestVersion(data)
	switch {
	case newest == "":
		return []rule.Finding{rule.ModuleFinding(m, "spec.version",
			fmt.Sprintf("%s has no version heading; expected one such as `## [%s]` for spec.version %s", rel, v, v))}
	case newest != v:
		return []rule.Finding{rule.ModuleFinding(m, "spec.version",
			fmt.Sprintf("spec.version is %s; expected %s, the newest version in %s (line %d)", v, newest, rel, line))}
	}
	return nil
}

// IsSemver reports whether v is a semantic version (semver.org 2.0.0, without a leading v).
func IsSemver(v string) bool { return semverRe.MatchString(v) }

// CompareSemver orders two valid semantic versions by semver precedence: -1, 0 or +1.
func CompareSemver(a, b string) int { return compareSemver(a, b) }

// NewestVersion returns the highest semantic version among the level-two headings of a changelog
// and the line of its heading, or "" when there is none. Headings inside fenced code blocks are
// ignored. Rule module/version, polc fix and polc init read CHANGELOG.md with it.
func NewestVersion(changelog []byte) (version string, line int) {
	sc := bufio.NewScanner(bytes.NewReader(changelog))
	sc.Buffer(make([]byte, 0, 64*1024), len(changelog)+1)
	fenced := false
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(text), "```") {
			fenced = !fenced
			continue
		}
		sm := versionHeading.FindStringSubmatch(text)
		if fenced || sm == nil || !semverRe.MatchString(sm[1]) {
			continue
		}
		if version == "" || compareSemver(sm[1], version) > 0 {
			version, line = sm[1], n
		}
	}
	return version, line
}

// compareSemver orders two valid semantic versions by semver precedence (build metadata is
// ignored): -1, 0 or +1.
func compareSemver(a, b string) int {
	a, _, _ = strings.Cut(a, "+")
	b, _, _ = strings.Cut(b, "+")
	aCore, aPre, _ := strings.Cut(a, "-")
	bCore, bPre, _ := strings.Cut(b, "-")
	as, bs := strings.Split(aCore, "."), strings.Split(bCore, ".")
	for i := range 3 {
		if c := compareNumeric(as[i], bs[i]); c != 0 {
			return c
		}
	}
	switch {
	case aPre == bPre:
		return 0
	case aPre == "":
		return 1 // a release ranks above its pre-releases
	case bPre == "":
		return -1
	}
	ap, bp := strings.Split(aPre, "."), strings.Split(bPre, ".")
	for i := 0; i < len(ap) && i < len(bp); i++ {
		aNum, bNum := isDigits(ap[i]), isDigits(bp[i])
		var c int
		switch {
		case aNum && bNum:
			c = compareNumeric(ap[i], bp[i])
		case aNum:
			c = -1 // numeric identifiers rank below alphanumeric ones
		case bNum:
			c = 1
		default:
			c = strings.Compare(ap[i], bp[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ap), len(bp))
}

// compareNumeric compares two decimal numbers without leading zeros, of any length.
func compareNumeric(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
