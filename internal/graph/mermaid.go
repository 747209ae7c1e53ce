package graph

import (
	"fmt"
	"strings"
)

// MermaidID makes a module name safe as a mermaid node ID. Module names are DNS-1123 labels, so
// replacing '-' with '_' cannot make two names collide.
func MermaidID(name string) string { return strings.ReplaceAll(name, "-", "_") }

// Mermaid renders g as a mermaid flowchart: one node per module labelled with its name and type,
// hard dependencies as solid arrows and soft ones as dotted arrows, in the graph's sorted order.
func Mermaid(g *Graph) string {
	var b strings.Builder
	b.WriteString("flowchart TD\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %s[\"%s (%s)\"]\n", MermaidID(n.Name), n.Name, n.Type)
	}
	for _, e := range g.Edges {
		arrow := "-->"
		if e.Kind == Soft {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  %s %s %s\n", MermaidID(e.From), arrow, MermaidID(e.To))
	}
	return b.String()
}
