package rule

import "polc.dev/polc/internal/manifest"

// GapKind says what kind of deployment polc did not render.
type GapKind string

// Gap kinds.
const (
	// GapHelmRelease is a HelmRelease: its chart's objects are not rendered.
	GapHelmRelease GapKind = "HelmRelease"
	// GapFluxKustomization is a Flux Kustomization whose spec.path is not a module directory: the
	// objects under that path are not rendered.
	GapFluxKustomization GapKind = "FluxKustomization"
)

// Gap is something a module deploys that polc did not render, so that only the in-cluster
// policies check what it deploys. The engine records the gaps of the selected modules after
// rendering (Repo.Gaps); rule coverage/unrendered reports them and the summary counts them.
type Gap struct {
	Kind GapKind
	// Module is the module whose rendered object deploys it.
	Module string
	// Object is that rendered object; Field is its field that names what was not rendered.
	Object *manifest.Object
	Field  string
	// Cause is a short code for why it was not rendered (other-source, outside-repository, cycle,
	// limit, not-templated...); Reason says it in a sentence.
	Cause  string
	Reason string
}
