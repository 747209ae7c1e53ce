package parity

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/pack"
	"polc.dev/polc/internal/rule"
)

// TestLookupByLabels checks, through the Kyverno CLI on both targets, how the rules of every kind
// and Pod Security find an object's module in the cluster, on objects that the parity inputs never have (each of
// those carries its own module's Flux label): a module label without a Flux label, a Flux label
// of no module, labels that disagree. The lookup takes the module of the Flux Kustomization label
// when a module has that Flux name, else the module of the module label. The ClusterPolicy
// compiles these rules without tables (a rule per module type for labels/module, per-module
// exclude selectors for namespace-ownership), the ValidatingPolicy with them: both must give the
// verdicts the lookup gives. Pod Security looks the namespace's owner up first; its ClusterPolicy
// matches by namespaces and labels.
func TestLookupByLabels(t *testing.T) {
	bin := kyvernoBin(t)
	res, err := check.Run(context.Background(), check.Options{Root: filepath.Join("..", ".."), Rules: builtin.All()})
	require.NoError(t, err)
	labels, ownership := builtin.LabelsModule.ID, builtin.NamingNamespaceOwnership.ID
	const media, cilium = "media", "cilium" // the namespaces of the starter catalog's media and networking-core
	cm := func(name, ns string, l map[string]any) subject {
		meta := map[string]any{"name": name, "namespace": ns}
		if l != nil {
			meta["labels"] = l
		}
		return subject{key: identity("", "ConfigMap", ns, name),
			doc: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}}
	}
	const flux, mod, typ = rule.FluxNameLabel, "polc.dev/module", "polc.dev/module-type"
	cases := []struct {
		obj  subject
		fail []string // the rule IDs that must fail the object, sorted
	}{
		{cm("module-label-only", media, map[string]any{mod: "media", typ: "application"}), nil},
		{cm("module-label-only-wrong-type", media, map[string]any{mod: "media", typ: "infrastructure"}), []string{labels}},
		{cm("module-label-only-misplaced", cilium, map[string]any{mod: "media", typ: "application"}), []string{ownership}},
		{cm("unknown-flux-placed", media, map[string]any{flux: "apps", mod: "media", typ: "application"}), nil},
		{cm("unknown-flux-misplaced", cilium, map[string]any{flux: "apps", mod: "media", typ: "application"}), []string{ownership}},
		{cm("unknown-flux-wrong-type", media, map[string]any{flux: "apps", mod: "media", typ: "component"}), []string{labels}},
		// The Flux label decides: the object is media's, whatever its module label says.
		{cm("flux-media-labelled-other", media, map[string]any{flux: "apps-media", mod: "networking-core", typ: "infrastructure"}), []string{labels}},
		{cm("flux-media-labelled-other-misplaced", cilium, map[string]any{flux: "apps-media", mod: "networking-core", typ: "infrastructure"}), []string{labels, ownership}},
		{cm("flux-media-misplaced", cilium, map[string]any{flux: "apps-media", mod: "media", typ: "application"}), []string{ownership}},
		{cm("flux-media-unlabelled", media, map[string]any{flux: "apps-media"}), []string{labels}},
		{cm("flux-networking-prefix-only", cilium, map[string]any{flux: "infra-networking-core", mod: "networking", typ: "infrastructure"}), []string{labels}},
		{cm("no-module", media, nil), nil},
	}
	// Pod Security: the level of an owned namespace is its owner's, whoever's the pod; a module's
	// pod elsewhere meets restricted. cilium is networking-core's and privileged, media restricted.
	pss := builtin.SecurityPodSecurity.ID
	pod := func(name, ns string, l map[string]any) subject {
		s := cm(name, ns, l)
		s.key = identity("apps", "Deployment", ns, name)
		s.doc["apiVersion"], s.doc["kind"] = "apps/v1", "Deployment"
		s.doc["spec"] = map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox",
					"securityContext": map[string]any{"privileged": true}}}}}}
		return s
	}
	pods := []struct {
		obj  subject
		fail bool
	}{
		{pod("pod-cilium-media-labels", cilium, map[string]any{flux: "apps-media", mod: "media", typ: "application"}), false},
		{pod("pod-cilium-unlabelled", cilium, nil), false},
		{pod("pod-media-unlabelled", media, nil), true},
		{pod("pod-media-networking-labels", media, map[string]any{flux: "infra-networking-core", mod: "networking-core", typ: "infrastructure"}), true},
		{pod("pod-elsewhere-module-label", "elsewhere", map[string]any{mod: "media", typ: "application"}), true},
		{pod("pod-elsewhere-unknown-flux", "elsewhere", map[string]any{flux: "apps", mod: "networking-core", typ: "infrastructure"}), true},
		{pod("pod-elsewhere-unlabelled", "elsewhere", nil), false},
	}
	var batch []subject
	for _, c := range cases {
		batch = append(batch, c.obj)
	}
	for _, c := range pods {
		batch = append(batch, c.obj)
	}
	for _, target := range targets {
		t.Run(string(target), func(t *testing.T) {
			pk, err := pack.Build(res.Repo, builtin.All(), kyverno.Options{Target: target})
			require.NoError(t, err)
			dir := t.TempDir()
			policies, exceptions := writePack(t, dir, pk)
			results := apply(t, bin, filepath.Join(dir, "resources.yaml"), batch, policies, exceptions, pk)
			for _, c := range cases {
				var got []string
				for id, v := range results[c.obj.key] {
					if v.fail && (id == labels || id == ownership) {
						got = append(got, id)
					}
				}
				slices.Sort(got)
				require.Equal(t, c.fail, got, "%s %s: %v", target, c.obj.key, fmt.Sprint(results[c.obj.key]))
			}
			for _, c := range pods {
				require.Equal(t, c.fail, results[c.obj.key][pss].fail, "%s %s: %v", target, c.obj.key, fmt.Sprint(results[c.obj.key]))
			}
		})
	}
}
