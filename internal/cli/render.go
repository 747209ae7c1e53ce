package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/rule"
)

func newRenderCmd() *cobra.Command {
	var repo, cache string
	cmd := &cobra.Command{
		Use:   "render [MODULE]...",
		Short: "Print the rendered objects exactly as polc checks them",
		Long: `Render every module (or the named ones) with kustomize and Flux substitution, follow the Flux
Kustomizations they deploy from this repository, and print the objects as one YAML stream, in
module order, exactly as polc check sees them. A comment before each object says where it comes
from: the module's kustomize build, a Flux Kustomization's path, or a HelmRelease's chart, and
the file and line it is written at. Render errors go to stderr and make the exit code 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := check.Load(repo, builtin.All())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if err := check.Select(r, args); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			r.ChartCache = chartCacheDir(cache)
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
	chartCacheFlag(cmd, &cache)
	return cmd
}

// writeObjects prints the rendered objects of every module, in module-name order, each after a
// comment that gives its origin and position.
func writeObjects(w io.Writer, r *rule.Repo) error {
	names := make([]string, 0, len(r.Objects))
	for n := range r.Objects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, o := range r.Objects[n] {
			doc, err := o.Node.String()
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "---\n# %s\n%s", originComment(n, o), doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// originComment says where an object comes from: "module media, flux-kustomization media/echo,
// kubernetes/apps/media/echo/app/deployment.yaml:1".
func originComment(mod string, o *manifest.Object) string {
	parts := []string{"module " + mod, string(o.Origin.KindOrDefault())}
	if o.Origin.By != "" {
		parts[1] += " " + o.Origin.By
	}
	if o.Origin.Chart != "" {
		parts = append(parts, "chart "+o.Origin.Chart)
	}
	if o.Origin.Template != "" {
		parts = append(parts, "template "+o.Origin.Template)
	}
	return report.OneLine(strings.Join(append(parts, o.Pos.String()), ", "))
}
