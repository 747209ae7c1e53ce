package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/graph"
)

func newGraphCmd() *cobra.Command {
	var repo, format string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Print the module dependency graph and deployment waves",
		Long: `Print the dependency graph of the modules.
  text     the deployment waves: modules of one wave can reconcile in parallel, after the waves before
  mermaid  a mermaid flowchart (hard edges solid, soft edges dotted)
  dot      Graphviz
  json     {"nodes": [...], "edges": [{"from","to","kind": "hard"|"soft"}], "waves": [[...]]}`,
		Args: argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, ok := graphFormats[format]
			if !ok {
				return usageError("invalid --format %q; valid formats: dot, json, mermaid, text", format)
			}
			r, _, err := check.Load(repo, builtin.All())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			return write(cmd.OutOrStdout(), r.Graph)
		},
	}
	cmd.Flags().StringVar(&repo, "repo", ".", "repository root")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, mermaid, dot or json")
	return cmd
}

var graphFormats = map[string]func(io.Writer, *graph.Graph) error{
	"text":    graphText,
	"mermaid": graphMermaid,
	"dot":     graphDot,
	"json":    graphJSON,
}

func graphText(w io.Writer, g *graph.Graph) error {
	waves, stuck := g.Waves()
	var b strings.Builder
	for i, wave := range waves {
		fmt.Fprintf(&b, "wave %d: %s\n", i+1, strings.Join(wave, ", "))
	}
	if len(stuck) > 0 {
		fmt.Fprintf(&b, "blocked by a dependency cycle: %s\n", strings.Join(stuck, ", "))
	}
	if c := g.Components(); len(c) > 0 {
		fmt.Fprintf(&b, "components (applied by the modules that include them): %s\n", strings.Join(c, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func graphMermaid(w io.Writer, g *graph.Graph) error {
	_, err := io.WriteString(w, graph.Mermaid(g))
	return err
}

func graphDot(w io.Writer, g *graph.Graph) error {
	var b strings.Builder
	b.WriteString("digraph modules {\n  rankdir=BT;\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %q [label=%q];\n", n.Name, n.Name+"\n"+n.Type)
	}
	for _, e := range g.Edges {
		style := ""
		if e.Kind == graph.Soft {
			style = " [style=dashed]"
		}
		fmt.Fprintf(&b, "  %q -> %q%s;\n", e.From, e.To, style)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func graphJSON(w io.Writer, g *graph.Graph) error {
	waves, stuck := g.Waves()
	out := struct {
		Nodes []graph.Node `json:"nodes"`
		Edges []graph.Edge `json:"edges"`
		Waves [][]string   `json:"waves"`
		Cycle []string     `json:"blocked,omitempty"`
	}{g.Nodes, g.Edges, waves, stuck}
	if out.Nodes == nil {
		out.Nodes = []graph.Node{}
	}
	if out.Edges == nil {
		out.Edges = []graph.Edge{}
	}
	if out.Waves == nil {
		out.Waves = [][]string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
