package rules

import (
	"fmt"
	"slices"
	"strings"

	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// DepsNamespaceAnnotation requires each owned Namespace to carry the module's hard dependencies
// in the <domain>/depends-on annotation.
var DepsNamespaceAnnotation = rule.Rule{
	ID:       "deps/namespace-annotation",
	Title:    "Owned Namespaces carry the <domain>/depends-on annotation with the hard dependencies",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "The cluster knows nothing about modules unless the objects say so. Each Namespace a module owns " +
		"carries the annotation <domain>/depends-on with the module's hard dependencies (spec.dependsOn), " +
		"sorted and comma-separated, so that operators and admission policies can see, in the cluster, " +
		"what a namespace needs. A module without hard dependencies may leave the annotation out or " +
		"set it to the empty string. Namespaces the module does not declare are " +
		"naming/namespace-ownership's concern.",
	Remediation: "Set the annotation to the module's spec.dependsOn, sorted and joined with commas, for example with a kustomize `commonAnnotations` entry or in namespace.yaml.",
	Kinds:       []string{"Namespace"},
	CheckObject: checkNamespaceAnnotation,
}

// dependsOnValue is the expected annotation value: the hard dependencies, sorted, deduplicated,
// comma-separated.
func dependsOnValue(m *module.Module) string {
	deps := slices.Clone(m.Spec.DependsOn)
	slices.Sort(deps)
	return strings.Join(slices.Compact(deps), ",")
}

func checkNamespaceAnnotation(r *rule.Repo, m *module.Module, o *manifest.Object) []rule.Violation {
	if o.Ref.Group() != "" || !ownsNamespace(m, o.Ref.Name) {
		return nil
	}
	key := r.Config.DependsOnAnnotation()
	want := dependsOnValue(m)
	got, ok := o.Node.GetAnnotations()[key]
	switch {
	case !ok && want == "":
		return nil
	case !ok:
		return []rule.Violation{{Field: "metadata.annotations",
			Message: fmt.Sprintf("annotation %s is missing; expected %q, the module's hard dependencies", key, want)}}
	case got != want:
		return []rule.Violation{{Field: "metadata.annotations[" + key + "]",
			Message: fmt.Sprintf("annotation %s is %q; expected %q, the module's hard dependencies sorted and comma-separated", key, got, want)}}
	}
	return nil
}
