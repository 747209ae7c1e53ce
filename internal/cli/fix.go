package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/fix"
)

const fixLong = `Apply the mechanical fixes of polc's findings to the module files, keeping comments and
formatting:

  labels/module               a labels transformer (includeSelectors: false) in the module's
                              kustomization; spec.commonMetadata.labels of the Flux Kustomization
                              or HelmRelease that renders the objects
  deps/namespace-annotation   the depends-on annotation on the module's Namespaces
  security/namespace-psa      the Pod Security labels on the module's Namespaces
  module/files                a CHANGELOG.md whose heading is spec.version
  module/version              spec.version in module.yaml, when CHANGELOG.md is newer

polc fix renders the repository as polc check does and fixes what the findings of these rules
ask for, in the files of the module directories only. By default it prints a unified diff
(git apply and patch -p1 read it) and changes nothing; --write writes the files and lists them.
Findings it cannot fix (a Namespace written outside the module, an object of a chart, a value
that a later transformer overrides) are listed on stderr with the reason. Running it again
after --write prints nothing.

Exit codes: 0 done (nothing to fix, the diff printed, or the files written); 1 with --check
when fixes are pending, so that CI or a pre-commit hook fails until they are applied; 2 usage
or configuration error.

Examples:
  polc fix                                  # show what would change
  polc fix --write                          # apply it
  polc fix --check                          # in CI: fail when fixes are pending
  polc fix --rule labels/module media       # one rule, one module
  polc fix | git apply                      # the same as --write, through git`

// fixOptions are the flags of polc fix.
type fixOptions struct {
	repo       string
	write      bool
	check      bool
	rules      []string
	chartCache string
}

func newFixCmd() *cobra.Command {
	o := fixOptions{}
	cmd := &cobra.Command{
		Use:   "fix [MODULE]...",
		Short: "Apply the mechanical fixes of findings (labels, namespace metadata, changelog, version)",
		Long:  fixLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.write && o.check {
				return usageError("--write and --check exclude each other")
			}
			res, err := fix.Plan(cmd.Context(), fix.Options{Root: o.repo, Modules: args, Rules: o.rules, ChartCache: chartCacheDir(o.chartCache)})
			var unknown *fix.UnknownRuleError
			switch {
			case errors.As(err, &unknown):
				return usageError("--rule: %w", err)
			case err != nil:
				return &ExitError{Code: 2, Err: err}
			}
			writeSkipped(cmd.ErrOrStderr(), res.Skipped)
			return o.apply(cmd.OutOrStdout(), res)
		},
	}
	cmd.Flags().StringVar(&o.repo, "repo", ".", "repository root")
	cmd.Flags().BoolVar(&o.write, "write", false, "write the changes instead of printing a diff")
	cmd.Flags().BoolVar(&o.check, "check", false, "print the diff and exit 1 when there is anything to fix")
	cmd.Flags().StringArrayVar(&o.rules, "rule", nil, "fix only this rule's findings; repeatable: "+strings.Join(fix.Fixable(), ", "))
	chartCacheFlag(cmd, &o.chartCache)
	return cmd
}

// apply prints the diff, or writes the files and lists them.
func (o *fixOptions) apply(w io.Writer, res *fix.Result) error {
	if !o.write {
		if err := fix.Diff(w, res.Changes); err != nil {
			return &ExitError{Code: 2, Err: err}
		}
		if o.check && len(res.Changes) > 0 {
			return &ExitError{Code: 1}
		}
		return nil
	}
	if err := fix.Write(o.repo, res.Changes); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	for _, c := range res.Changes {
		verb := "fixed"
		if c.Create {
			verb = "created"
		}
		fmt.Fprintf(w, "%s %s (%s)\n", verb, c.Path, strings.Join(c.Rules, ", "))
	}
	return nil
}

// writeSkipped lists the findings fix leaves, each with the reason.
func writeSkipped(w io.Writer, skipped []fix.Skip) {
	for _, s := range skipped {
		f := s.Finding
		fmt.Fprintf(w, "%s: %s: not fixed: %s\n", f.Pos, f.Rule, s.Reason)
		fmt.Fprintf(w, "    finding: %s [%s]\n", f.Message, f.Module)
	}
}
