// Package graph is the dependency graph of a module set: edges, cycles and deployment waves.
package graph

import (
	"slices"
	"sort"
)

// EdgeKind distinguishes hard (ordering) from soft (documented) dependencies.
type EdgeKind string

// Edge kinds.
const (
	Hard EdgeKind = "hard"
	Soft EdgeKind = "soft"
)

// Edge says From depends on To.
type Edge struct {
	From string   `json:"from"`
	To   string   `json:"to"`
	Kind EdgeKind `json:"kind"`
}

// Node is a module in the graph.
type Node struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Tier string `json:"tier,omitempty"`
}

// Graph is the dependency graph. Edges to unknown modules are kept out of it.
type Graph struct {
	Nodes []Node
	Edges []Edge
	hard  map[string][]string
}

// New builds a graph from nodes and edges; edges naming unknown nodes are dropped. Output is
// sorted, so everything derived from it is deterministic.
func New(nodes []Node, edges []Edge) *Graph {
	g := &Graph{hard: map[string][]string{}}
	known := map[string]bool{}
	for _, n := range nodes {
		known[n.Name] = true
	}
	g.Nodes = slices.Clone(nodes)
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].Name < g.Nodes[j].Name })
	for _, e := range edges {
		if !known[e.From] || !known[e.To] {
			continue
		}
		g.Edges = append(g.Edges, e)
		if e.Kind == Hard {
			g.hard[e.From] = append(g.hard[e.From], e.To)
		}
	}
	sort.Slice(g.Edges, func(i, j int) bool {
		a, b := g.Edges[i], g.Edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.Kind < b.Kind
	})
	g.Edges = slices.Compact(g.Edges)
	for k := range g.hard {
		slices.Sort(g.hard[k])
		g.hard[k] = slices.Compact(g.hard[k])
	}
	return g
}

// Deps returns the hard dependencies of a module, sorted.
func (g *Graph) Deps(name string) []string { return g.hard[name] }

// Cycles returns the hard-dependency cycles that a depth-first search closes, each once, as a
// path that starts at its smallest name and ends where it started (a -> b -> c -> a). Each group
// of mutually dependent modules yields at least one path, not necessarily every elementary cycle
// (their number can grow exponentially); once the reported ones are broken, any that remain are
// reported.
func (g *Graph) Cycles() [][]string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	seen := map[string]bool{}
	var cycles [][]string
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range g.hard[n] {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				i := slices.Index(stack, d)
				cyc := canonical(stack[i:])
				key := fmtPath(cyc)
				if !seen[key] {
					seen[key] = true
					cycles = append(cycles, cyc)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	for _, n := range g.Nodes {
		if color[n.Name] == white {
			visit(n.Name)
		}
	}
	sort.Slice(cycles, func(i, j int) bool { return fmtPath(cycles[i]) < fmtPath(cycles[j]) })
	return cycles
}

// canonical rotates a cycle to start at its smallest member and closes it.
func canonical(c []string) []string {
	min := 0
	for i, n := range c {
		if n < c[min] {
			min = i
		}
	}
	out := append(slices.Clone(c[min:]), c[:min]...)
	return append(out, out[0])
}

func fmtPath(p []string) string {
	s := ""
	for i, n := range p {
		if i > 0 {
			s += " -> "
		}
		s += n
	}
	return s
}

// FormatPath renders a cycle path as a -> b -> a.
func FormatPath(p []string) string { return fmtPath(p) }

// Waves groups modules into deployment waves: each wave's modules depend only on earlier waves,
// so they can reconcile in parallel. Components are not deployed on their own and are left out;
// modules on a cycle are left out and returned separately.
func (g *Graph) Waves() (waves [][]string, stuck []string) {
	done := map[string]bool{}
	remaining := len(g.Nodes)
	for _, n := range g.Nodes {
		if n.Type == ComponentType {
			done[n.Name] = true // applied through the modules that include them, never on their own
			remaining--
		}
	}
	for remaining > 0 {
		var wave []string
		for _, n := range g.Nodes {
			if done[n.Name] {
				continue
			}
			ready := true
			for _, d := range g.hard[n.Name] {
				if !done[d] {
					ready = false
					break
				}
			}
			if ready {
				wave = append(wave, n.Name)
			}
		}
		if len(wave) == 0 {
			break
		}
		for _, n := range wave {
			done[n] = true
		}
		remaining -= len(wave)
		waves = append(waves, wave)
	}
	for _, n := range g.Nodes {
		if !done[n.Name] {
			stuck = append(stuck, n.Name)
		}
	}
	return waves, stuck
}

// ComponentType is the node type of component modules, which Waves leaves out.
const ComponentType = "component"

// Components returns the component modules, sorted.
func (g *Graph) Components() []string {
	var out []string
	for _, n := range g.Nodes {
		if n.Type == ComponentType {
			out = append(out, n.Name)
		}
	}
	return out
}

// Dependents returns every module that depends on one of names, directly or transitively, through
// hard or soft edges, plus names themselves; sorted.
func (g *Graph) Dependents(names []string) []string {
	rev := map[string][]string{}
	for _, e := range g.Edges {
		rev[e.To] = append(rev[e.To], e.From)
	}
	seen := map[string]bool{}
	queue := slices.Clone(names)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		queue = append(queue, rev[n]...)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
