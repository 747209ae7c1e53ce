package builtin

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"strings"

	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// VersionsBump requires a module whose rendered objects changed since --changed-since to carry a
// new version with a CHANGELOG.md entry.
var VersionsBump = rule.Rule{
	ID:       rule.BumpRule,
	Title:    "A module whose objects changed since --changed-since has a new version and a CHANGELOG entry",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "Clusters pin a module by version, so a change that reaches them must come with a new version. " +
		"With `polc check --changed-since REV` (and only then), polc renders each non-component module that " +
		"the changed files touch twice, in the working tree and at REV (read from git into memory: nothing " +
		"is checked out or written), both times with the current polc.yaml's substitution values, and " +
		"compares the objects as data, keyed by apiVersion, kind, namespace and name: formatting, comments, " +
		"key order and the order of resources do not count. A module whose objects differ must have a " +
		"spec.version higher than at REV (semver precedence) and a level-two CHANGELOG.md heading for it. " +
		"A change to a component counts for each module that includes it; a module that did not exist at " +
		"REV is new and needs no bump. Only the module's own kustomize build is compared: HelmRelease charts " +
		"are not templated, but a HelmRelease's chart version or values are part of the object, so changing " +
		"them counts. A module that does not render at REV (for instance because it reads a symlink, which " +
		"polc does not follow in a git revision) is reported, since it cannot be compared. The rule is off " +
		"when `.release-please-manifest.json` exists at the repository root: release-please then bumps " +
		"versions and writes the changelog when it releases.",
	Remediation: "Run `polc release bump MODULE` to raise spec.version and add the CHANGELOG.md heading, or undo the change.",
	CheckModule: checkVersionsBump,
}

// shownObjects is how many changed objects a finding names.
const shownObjects = 3

func checkVersionsBump(r *rule.Repo, m *module.Module) []rule.Finding {
	c, ok := r.Changes[m.Name()]
	if r.ChangedSince == "" || !ok {
		return nil
	}
	rev := r.ChangedSince
	if c.Err != "" {
		return []rule.Finding{rule.ModuleFinding(m, "spec.version", fmt.Sprintf("the module's objects cannot be compared with %s: %s", rev, c.Err))}
	}
	v := m.Spec.Version
	if !IsSemver(v) {
		return nil // module/version reports it
	}
	objects := describeObjects(c.Objects)
	if IsSemver(c.Before) && CompareSemver(v, c.Before) <= 0 {
		return []rule.Finding{rule.ModuleFinding(m, "spec.version", fmt.Sprintf(
			"the rendered objects changed since %s (%s) but spec.version is %s, not higher than %s at %s", rev, objects, v, c.Before, rev))}
	}
	rel := path.Join(m.Dir, changelogFile)
	data, err := r.ReadFile(rel)
	if err == nil && hasVersionHeading(data, v) {
		return nil
	}
	from := ""
	if c.Before != "" {
		from = " from " + c.Before
	}
	return []rule.Finding{rule.ModuleFinding(m, "spec.version", fmt.Sprintf(
		"the rendered objects changed since %s (%s) and spec.version went%s to %s, but %s has no heading for %s", rev, objects, from, v, rel, v))}
}

// describeObjects names the first shownObjects changes and counts the rest.
func describeObjects(objs []string) string {
	if len(objs) <= shownObjects {
		return strings.Join(objs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(objs[:shownObjects], ", "), len(objs)-shownObjects)
}

// hasVersionHeading reports whether a changelog has a level-two heading for version v, outside
// fenced code blocks, as NewestVersion reads them.
func hasVersionHeading(changelog []byte, v string) bool {
	sc := bufio.NewScanner(bytes.NewReader(changelog))
	sc.Buffer(make([]byte, 0, 64*1024), len(changelog)+1)
	fenced := false
	for sc.Scan() {
		text := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(text), "```") {
			fenced = !fenced
			continue
		}
		if sm := versionHeading.FindStringSubmatch(text); !fenced && sm != nil && sm[1] == v {
			return true
		}
	}
	return false
}
