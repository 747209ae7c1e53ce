package cli

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func newRenderCmd() *cobra.Command {
	var repo string
	cmd := &cobra.Command{
		Use:   "render [MODULE]...",
		Short: "Print the rendered objects exactly as polc checks them",
		Long: `Render every module (or the named ones) with kustomize and Flux substitution and print the
objects as one YAML stream, in module order, exactly as polc check sees them.
Render errors go to stderr and make the exit code 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := check.Load(repo, builtin.All())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if err := check.Select(r, args); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			failed := check.Render(cmd.Context(), r)
			if err := writeObjects(cmd.OutOrStdout(), r); err != nil {
				return err
			}
			failed = check.Finalize(r, failed)
			code := 0
			for _, f := range failed {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s %s: %s [%s]\n", f.Pos, f.Severity, f.Rule, f.Message, f.Module)
				if f.Severity == rule.Error {
					code = 1 // a module that does not render; remote references are warnings
				}
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "repo", ".", "repository root")
	return cmd
}

// writeObjects prints the rendered objects of every module, in module-name order.
func writeObjects(w io.Writer, r *rule.Repo) error {
	names := make([]string, 0, len(r.Objects))
	for n := range r.Objects {
		names = append(names, n)
	}
	sort.Strings(names)
	var nodes []*yaml.RNode
	for _, n := range names {
		for _, o := range r.Objects[n] {
			nodes = append(nodes, o.Node)
		}
	}
	return kio.ByteWriter{Writer: w}.Write(nodes)
}
