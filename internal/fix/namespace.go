package fix

import (
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Pod Security admission labels of a Namespace.
const psaEnforceLabel = "pod-security.kubernetes.io/enforce"

// namespaceAnnotation returns the action that writes module m's hard dependencies into the
// depends-on annotation of the Namespace o, in its source document.
func (p *planner) namespaceAnnotation(m *module.Module, o *manifest.Object) (*action, string) {
	deps := slices.Clone(m.Spec.DependsOn)
	slices.Sort(deps)
	want := strings.Join(slices.Compact(deps), ",")
	return p.namespaceField(m, o, "deps/namespace-annotation", yaml.AnnotationsField, p.repo.Config.DependsOnAnnotation(), want)
}

// namespacePSA returns the action that sets the Pod Security label that finding f names on the
// Namespace o to the level its owner declares: enforce when it is missing or differs, warn or
// audit when they are looser or not a level.
func (p *planner) namespacePSA(m *module.Module, o *manifest.Object, f rule.Finding) (*action, string) {
	key := psaEnforceLabel
	if k, ok := strings.CutPrefix(f.Field, "metadata.labels["); ok {
		key = strings.TrimSuffix(k, "]")
	}
	owner := p.repo.Owner(o.Ref.Name)
	if owner == nil {
		return nil, fmt.Sprintf("no module declares namespace %s", o.Ref.Name)
	}
	level := module.Restricted
	for _, n := range owner.Spec.Namespaces {
		if n.Name == o.Ref.Name {
			level = n.Level()
		}
	}
	return p.namespaceField(m, o, "security/namespace-psa", yaml.LabelsField, key, string(level))
}

// namespaceField returns the action of rule id that sets metadata.<field>[key] to value in the
// source document of the Namespace o of module m.
func (p *planner) namespaceField(m *module.Module, o *manifest.Object, id, field, key, value string) (*action, string) {
	switch {
	case o.Origin.KindOrDefault() == manifest.FromHelm:
		return nil, fmt.Sprintf("the Namespace is rendered from chart %s by HelmRelease %s; set it in the chart's values or the HelmRelease's spec.commonMetadata by hand", o.Origin.Chart, o.Origin.By)
	case o.Source == nil || o.Pos.Line == 0 || o.Source.GetKind() != "Namespace":
		return nil, "polc does not know which document the Namespace is written in; edit it by hand"
	}
	at := o.Pos
	what := "annotation"
	if field == yaml.LabelsField {
		what = "label"
	}
	a := &action{rule: id, mod: m, rel: at.File, id: fmt.Sprintf("%d:%d:%s", at.Line, at.Column, key),
		unchanged: fmt.Sprintf("%s already sets the %s %s to %q, but the rendered Namespace has another value: a kustomize transformer, patch or Flux commonMetadata changes it; fix that by hand", at, what, key, value)}
	a.edit = func(f *file) (bool, error) {
		return f.edit(at.Line, at.Column, func(t *text, doc *yaml.Node) (bool, error) {
			return t.set(doc, []string{yaml.MetadataField, field, key}, value)
		})
	}
	return a, ""
}
