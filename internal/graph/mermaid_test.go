package graph

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMermaid(t *testing.T) {
	g := New([]Node{{Name: "media", Type: "application"}, {Name: "storage-core", Type: "infrastructure", Tier: "core"}, {Name: "sso", Type: "component"}},
		[]Edge{{From: "media", To: "storage-core", Kind: Hard}, {From: "sso", To: "storage-core", Kind: Soft}, {From: "media", To: "unknown", Kind: Hard}})
	want := "flowchart TD\n" +
		"  media[\"media (application)\"]\n" +
		"  sso[\"sso (component)\"]\n" +
		"  storage_core[\"storage-core (infrastructure)\"]\n" +
		"  media --> storage_core\n" +
		"  sso -.-> storage_core\n"
	require.Equal(t, want, Mermaid(g))
	require.Equal(t, "flowchart TD\n", Mermaid(New(nil, nil)))
}
