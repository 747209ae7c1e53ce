// Package release automates module versions. Module metadata is the single source: each
// non-component module is released on its own, as the release-please package of its directory,
// whose component, commit scope, tag prefix (<module ID>-v<version>) and Renovate label are its
// module ID, the name of its Flux Kustomization.
//
// This package raises versions by hand or for the modules that changed since a revision
// (`polc release bump`: spec.version, the CHANGELOG.md heading and note, the release-please
// manifest). Its subpackage config generates the release files from the metadata (`polc release
// config`: release-please's configuration and manifest, the commitlint scopes and the Renovate
// preset) and finds where they drift from it (rule versions/release-config).
package release
