package graph

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// build makes a graph from hard edges written as from -> to pairs; every name becomes a node.
func build(names []string, hard [][2]string, soft ...[2]string) *Graph {
	var nodes []Node
	for _, n := range names {
		nodes = append(nodes, Node{Name: n, Type: "infrastructure"})
	}
	var edges []Edge
	for _, e := range hard {
		edges = append(edges, Edge{From: e[0], To: e[1], Kind: Hard})
	}
	for _, e := range soft {
		edges = append(edges, Edge{From: e[0], To: e[1], Kind: Soft})
	}
	return New(nodes, edges)
}

func formatAll(cycles [][]string) []string {
	out := []string{}
	for _, c := range cycles {
		out = append(out, FormatPath(c))
	}
	return out
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name  string
		nodes []string
		hard  [][2]string
		soft  [][2]string
		want  []string
	}{
		{
			name:  "no cycle",
			nodes: []string{"a", "b", "c"},
			hard:  [][2]string{{"a", "b"}, {"b", "c"}, {"a", "c"}},
			want:  []string{},
		},
		{
			name:  "self-loop",
			nodes: []string{"a", "b"},
			hard:  [][2]string{{"a", "a"}, {"b", "a"}},
			want:  []string{"a -> a"},
		},
		{
			name:  "two-cycle",
			nodes: []string{"a", "b"},
			hard:  [][2]string{{"b", "a"}, {"a", "b"}},
			want:  []string{"a -> b -> a"},
		},
		{
			name:  "three-cycle found from its largest member starts at its smallest",
			nodes: []string{"storage-core", "networking-core", "security-core"},
			hard:  [][2]string{{"storage-core", "security-core"}, {"security-core", "networking-core"}, {"networking-core", "storage-core"}},
			want:  []string{"networking-core -> storage-core -> security-core -> networking-core"},
		},
		{
			name:  "two disjoint cycles, sorted",
			nodes: []string{"x", "y", "z", "a", "b", "c"},
			hard:  [][2]string{{"z", "y"}, {"y", "z"}, {"c", "b"}, {"b", "a"}, {"a", "c"}, {"x", "a"}},
			want:  []string{"a -> c -> b -> a", "y -> z -> y"},
		},
		{
			name:  "soft edges do not make cycles",
			nodes: []string{"a", "b"},
			hard:  [][2]string{{"a", "b"}},
			soft:  [][2]string{{"b", "a"}},
			want:  []string{},
		},
		{
			name:  "edges to unknown modules are dropped",
			nodes: []string{"a"},
			hard:  [][2]string{{"a", "ghost"}, {"ghost", "a"}},
			want:  []string{},
		},
		{
			name:  "duplicate edges report the cycle once",
			nodes: []string{"a", "b"},
			hard:  [][2]string{{"a", "b"}, {"a", "b"}, {"b", "a"}},
			want:  []string{"a -> b -> a"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := build(tc.nodes, tc.hard, tc.soft...)
			require.Equal(t, tc.want, formatAll(g.Cycles()))
			// The same graph built from edges in the opposite order gives the same answer.
			rev := make([][2]string, len(tc.hard))
			for i, e := range tc.hard {
				rev[len(tc.hard)-1-i] = e
			}
			require.Equal(t, tc.want, formatAll(build(tc.nodes, rev, tc.soft...).Cycles()))
		})
	}
}

func TestCyclesAreClosedPaths(t *testing.T) {
	g := build([]string{"a", "b", "c"}, [][2]string{{"b", "c"}, {"c", "a"}, {"a", "b"}})
	require.Equal(t, [][]string{{"a", "b", "c", "a"}}, g.Cycles())
}

func TestWaves(t *testing.T) {
	tests := []struct {
		name      string
		nodes     []string
		hard      [][2]string
		soft      [][2]string
		wantWaves [][]string
		wantStuck []string
	}{
		{
			name:  "diamond",
			nodes: []string{"app", "left", "right", "base"},
			hard:  [][2]string{{"app", "left"}, {"app", "right"}, {"left", "base"}, {"right", "base"}},
			wantWaves: [][]string{
				{"base"},
				{"left", "right"},
				{"app"},
			},
		},
		{
			name:      "independent modules share the first wave",
			nodes:     []string{"c", "a", "b"},
			wantWaves: [][]string{{"a", "b", "c"}},
		},
		{
			name:      "soft dependencies do not order",
			nodes:     []string{"a", "b"},
			soft:      [][2]string{{"a", "b"}},
			wantWaves: [][]string{{"a", "b"}},
		},
		{
			name:      "long chain",
			nodes:     []string{"d", "c", "b", "a"},
			hard:      [][2]string{{"a", "b"}, {"b", "c"}, {"c", "d"}},
			wantWaves: [][]string{{"d"}, {"c"}, {"b"}, {"a"}},
		},
		{
			name:      "modules on or behind a cycle are stuck",
			nodes:     []string{"base", "a", "b", "top"},
			hard:      [][2]string{{"a", "b"}, {"b", "a"}, {"a", "base"}, {"top", "a"}},
			wantWaves: [][]string{{"base"}},
			wantStuck: []string{"a", "b", "top"},
		},
		{
			name:      "empty graph",
			wantWaves: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			waves, stuck := build(tc.nodes, tc.hard, tc.soft...).Waves()
			require.Equal(t, tc.wantWaves, waves)
			require.Equal(t, tc.wantStuck, stuck)
		})
	}
}

func TestDependents(t *testing.T) {
	// base <- left <- app, base <- right (soft) <- tool, other stands alone.
	g := build([]string{"app", "left", "right", "base", "tool", "other"},
		[][2]string{{"app", "left"}, {"left", "base"}, {"tool", "right"}},
		[2]string{"right", "base"})
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{name: "transitive through hard and soft edges", names: []string{"base"}, want: []string{"app", "base", "left", "right", "tool"}},
		{name: "leaf has only itself", names: []string{"app"}, want: []string{"app"}},
		{name: "several starting points, sorted and unique", names: []string{"right", "left", "right"}, want: []string{"app", "left", "right", "tool"}},
		{name: "unconnected module", names: []string{"other"}, want: []string{"other"}},
		{name: "nothing selected", names: nil, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, g.Dependents(tc.names))
		})
	}
}

func TestDependentsOnCycleTerminates(t *testing.T) {
	g := build([]string{"a", "b", "c"}, [][2]string{{"a", "b"}, {"b", "a"}, {"c", "a"}})
	require.Equal(t, []string{"a", "b", "c"}, g.Dependents([]string{"b"}))
}

func TestNew(t *testing.T) {
	g := New(
		[]Node{{Name: "b", Type: "application"}, {Name: "a", Type: "infrastructure", Tier: "core"}},
		[]Edge{{From: "b", To: "a", Kind: Soft}, {From: "b", To: "a", Kind: Hard}, {From: "b", To: "a", Kind: Hard}, {From: "b", To: "zz", Kind: Hard}},
	)
	require.Equal(t, []Node{{Name: "a", Type: "infrastructure", Tier: "core"}, {Name: "b", Type: "application"}}, g.Nodes, "nodes sorted by name")
	require.Equal(t, []Edge{{From: "b", To: "a", Kind: Hard}, {From: "b", To: "a", Kind: Soft}}, g.Edges, "edges sorted, deduplicated, unknown targets dropped")
	require.Equal(t, []string{"a"}, g.Deps("b"))
	require.Empty(t, g.Deps("a"))
}

func TestCyclesCoverEveryModuleOnACycle(t *testing.T) {
	// a -> b -> c -> a, and a -> d -> b closes a second, longer cycle a -> d -> b -> c -> a. The
	// search reports one path per back edge, so only the first; all five modules are stuck out of
	// the waves, and a cycle that remains after a fix is reported then.
	g := build([]string{"a", "b", "c", "d", "e"}, [][2]string{{"a", "b"}, {"b", "c"}, {"c", "a"}, {"a", "d"}, {"d", "b"}, {"e", "a"}})
	cycles := g.Cycles()
	require.Equal(t, []string{"a -> b -> c -> a"}, formatAll(cycles))
	broken := build([]string{"a", "b", "c", "d", "e"}, [][2]string{{"a", "b"}, {"b", "c"}, {"a", "d"}, {"d", "b"}, {"e", "a"}, {"c", "d"}})
	require.Equal(t, []string{"b -> c -> d -> b"}, formatAll(broken.Cycles()))
	_, stuck := g.Waves()
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, stuck)
}
