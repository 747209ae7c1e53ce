package kyverno

import (
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// AsCluster returns a rendered object of module m as the cluster stores it once Flux applied it:
// with the kustomize.toolkit.fluxcd.io/name label of m's Flux Kustomization, which the compiled
// policies select a module's objects by.
func AsCluster(repo *rule.Repo, m *module.Module, o *manifest.Object) (map[string]any, error) {
	return withLabel(o, rule.FluxNameLabel, repo.Config.FluxName(m))
}

// withLabel returns a copy of o with one more label, as a JSON-like map.
func withLabel(o *manifest.Object, key, value string) (map[string]any, error) {
	n := o.Node.Copy()
	labels := n.GetLabels()
	labels[key] = value
	if err := n.SetLabels(labels); err != nil {
		return nil, err
	}
	s, err := n.String()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// ClusterEntryPointName is the Flux Kustomization that applies a cluster entry point (Flux's
// bootstrap calls it flux-system): the objects of the entry point carry it in their
// kustomize.toolkit.fluxcd.io/name label.
const ClusterEntryPointName = "flux-system"

// EntryPointAsCluster returns an object of a cluster entry point as the cluster stores it.
func EntryPointAsCluster(o *manifest.Object) (map[string]any, error) {
	return withLabel(o, rule.FluxNameLabel, ClusterEntryPointName)
}
