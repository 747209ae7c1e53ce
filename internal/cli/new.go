package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/scaffold"
)

const newModuleLong = `Create <modules dir>/<type dir>/NAME with module.yaml, kustomization.yaml (with the module
labels), namespace.yaml and CHANGELOG.md (components: module.yaml and a kind: Component
kustomization). An -extra infrastructure module depends on its -core sibling, which must exist.

In a fresh repository the modules directory (polc.yaml spec.modulesDir, default modules) is
created with the first module. module.yaml starts with a yaml-language-server modeline that
points at schemas/module.schema.json; polc new writes that schema when the repository has none,
so editors validate module.yaml offline.

polc new never overwrites: it refuses when the module directory exists, and leaves an existing
schema alone.`

func newNewCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "new", Short: "Create new things: a module"}
	var repo, typ, tier string
	mod := &cobra.Command{
		Use:   "module NAME --type infrastructure|application|component [--tier core|extra]",
		Short: "Scaffold a module that passes polc check as created",
		Long:  newModuleLong,
		Args:  argsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return newModule(cmd.OutOrStdout(), cmd.ErrOrStderr(), repo, scaffold.Options{Name: args[0],
				Type: module.Type(typ), Tier: module.Tier(tier)})
		},
	}
	mod.Flags().StringVar(&repo, "repo", ".", "repository root")
	mod.Flags().StringVar(&typ, "type", "", "module type: infrastructure, application or component")
	mod.Flags().StringVar(&tier, "tier", "", "infrastructure tier: core or extra (default: from the name's suffix)")
	_ = mod.MarkFlagRequired("type")
	cmd.AddCommand(mod)
	return cmd
}

// newModule creates the module that o describes (Root, Config and Existing are filled in from the
// repository), then the module.yaml schema when the repository has none.
func newModule(stdout, stderr io.Writer, repo string, o scaffold.Options) error {
	var err error
	if o.Root, o.Config, o.Existing, err = loadForNew(repo); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	files, err := scaffold.Files(o)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	written, err := scaffold.Write(o.Root, files)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	for _, f := range written {
		fmt.Fprintln(stdout, "created", f)
	}
	schema, _, err := scaffold.CreateMissing(o.Root, []genfiles.File{scaffold.Schema(module.MetadataFile)})
	if err != nil {
		// The module is there; only editor validation is missing.
		fmt.Fprintf(stderr, "warning: %s not written (module.yaml's $schema modeline points at it): %v\n",
			scaffold.SchemaPath(module.MetadataFile), err)
	}
	for _, f := range schema {
		fmt.Fprintln(stdout, "created", f)
	}
	return nil
}

// loadForNew returns the absolute repository root, its configuration and its modules by name. A
// repository whose modules directory does not exist yet (a fresh one) has no modules: polc new
// creates the directory with the first module.
func loadForNew(repo string) (string, *module.Config, map[string]*module.Module, error) {
	root, err := filepath.Abs(repo)
	if err != nil {
		return "", nil, nil, err
	}
	cfg, err := module.LoadConfig(root)
	if err != nil {
		return "", nil, nil, err
	}
	if _, err := module.Resolve(root, cfg.Spec.ModulesDir); errors.Is(err, fs.ErrNotExist) {
		return root, cfg, map[string]*module.Module{}, nil
	}
	r, _, err := check.Load(root, builtin.All())
	if err != nil {
		return "", nil, nil, err
	}
	return r.Root, r.Config, r.ByName, nil
}
