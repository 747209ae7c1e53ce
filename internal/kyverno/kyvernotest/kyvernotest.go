// Package kyvernotest holds helpers for the tests of the policy compiler and of the parity and
// end-to-end suites: objects as the cluster stores them once Flux applied them, and loading and
// decoding as the tests need. Only tests import it, so none of it is part of polc's binary.
package kyvernotest

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// AsCluster returns a rendered object of module m as the cluster stores it once Flux applied it:
// with the kustomize.toolkit.fluxcd.io/name label of m's Flux Kustomization, which the compiled
// policies select a module's objects by.
func AsCluster(repo *rule.Repo, m *module.Module, o *manifest.Object) (map[string]any, error) {
	return withLabel(o, rule.FluxNameLabel, repo.Config.FluxName(m))
}

// ClusterEntryPointName is the Flux Kustomization that applies a cluster entry point (Flux's
// bootstrap calls it flux-system): the objects of the entry point carry it in their
// kustomize.toolkit.fluxcd.io/name label.
const ClusterEntryPointName = "flux-system"

// EntryPointAsCluster returns an object of a cluster entry point as the cluster stores it.
func EntryPointAsCluster(o *manifest.Object) (map[string]any, error) {
	return withLabel(o, rule.FluxNameLabel, ClusterEntryPointName)
}

// withLabel returns a copy of o with one more label, as a JSON-like map. The label is set after
// decoding, so anchors and merge keys (labels: &labels ... <<: *labels) resolve as the API server
// would see them.
func withLabel(o *manifest.Object, key, value string) (map[string]any, error) {
	s, err := o.Node.String()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		return nil, err
	}
	meta, _ := doc["metadata"].(map[string]any)
	meta = maps.Clone(meta) // an alias may share the decoded map
	if meta == nil {
		meta = map[string]any{}
	}
	labels, _ := meta["labels"].(map[string]any)
	labels = maps.Clone(labels)
	if labels == nil {
		labels = map[string]any{}
	}
	labels[key] = value
	meta["labels"] = labels
	doc["metadata"] = meta
	return doc, nil
}

// Now is a fixed date for the expiry of exceptions in tests.
var Now = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// Load loads the repository at dir with the built-in rules; it must load without findings.
func Load(t testing.TB, dir string) *rule.Repo {
	t.Helper()
	repo, findings, err := check.Load(dir, builtin.All())
	require.NoError(t, err)
	require.Empty(t, findings)
	return repo
}

// Strict decodes YAML into v, refusing unknown fields.
func Strict(data []byte, v any) error {
	j, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
