package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rules"
	"polc.dev/polc/internal/scaffold"
)

func newNewCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "new", Short: "Create new things: a module"}
	var repo, typ, tier string
	mod := &cobra.Command{
		Use:   "module NAME --type infrastructure|application|component [--tier core|extra]",
		Short: "Scaffold a module that passes polc check as created",
		Long: `Create modules/<type dir>/NAME with module.yaml, kustomization.yaml (with the module labels),
namespace.yaml and CHANGELOG.md (components: module.yaml and a kind: Component kustomization).
An -extra infrastructure module depends on its -core sibling, which must exist.
polc new never overwrites: it refuses when the module directory exists.`,
		Args: argsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := check.Load(repo, rules.All())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			files, err := scaffold.Files(scaffold.Options{Root: r.Root, Config: r.Config, Name: args[0],
				Type: module.Type(typ), Tier: module.Tier(tier), Existing: r.ByName})
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			written, err := scaffold.Write(r.Root, files)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			for _, f := range written {
				fmt.Fprintln(cmd.OutOrStdout(), "created", f)
			}
			return nil
		},
	}
	mod.Flags().StringVar(&repo, "repo", ".", "repository root")
	mod.Flags().StringVar(&typ, "type", "", "module type: infrastructure, application or component")
	mod.Flags().StringVar(&tier, "tier", "", "infrastructure tier: core or extra (default: from the name's suffix)")
	_ = mod.MarkFlagRequired("type")
	cmd.AddCommand(mod)
	return cmd
}
