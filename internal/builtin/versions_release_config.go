package builtin

import (
	relconfig "polc.dev/polc/internal/release/config"
	"polc.dev/polc/internal/rule"
)

// VersionsReleaseConfig reports drift between the module metadata and the release files that
// `polc release config` generates, when the repository has them.
var VersionsReleaseConfig = rule.Rule{
	ID:       "versions/release-config",
	Title:    "The release-please, commitlint and Renovate files agree with the module metadata",
	Severity: rule.Error,
	Scope:    rule.RepoScope,
	Doc: "`polc release config` writes release-please-config.json, .release-please-manifest.json, " +
		".commitlint-scopes.json and renovate/polc-modules.json from the module metadata, so that a module's " +
		"ID (its Flux Kustomization name) is its release-please component, tag prefix, commit scope and " +
		"Renovate label everywhere. When any of these files exists, the rule reports, at the file and line, " +
		"every part that the metadata alone decides and that disagrees with it: a module without its " +
		"release-please package, a wrong component or release type, a package missing the module.yaml extra " +
		"file, a package or manifest entry of a module that was removed or is a component, a manifest version " +
		"other than spec.version, a missing or unknown commit scope, a module directory without its Renovate " +
		"rule or with another label or scope, and a missing file. It does not depend on which modules a run " +
		"renders, so the Renovate rules of charts and images are left to `polc release config --check`. " +
		"Repositories without any of the files get no finding. The default severity is error, as for " +
		"`polc compile --check`: files that disagree tag releases or label updates under the wrong name.",
	Remediation: "Run `polc release config` and commit the files it writes.",
	CheckRepo:   checkVersionsReleaseConfig,
}

func checkVersionsReleaseConfig(r *rule.Repo) []rule.Finding {
	var out []rule.Finding
	for _, p := range relconfig.Drift(r) {
		out = append(out, rule.Finding{Pos: p.Pos, Message: p.Message})
	}
	return out
}
