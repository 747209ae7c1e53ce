package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/check"
	relconfig "polc.dev/polc/internal/release/config"
	"polc.dev/polc/internal/rule"
)

const releaseLong = `Automate module versions from module metadata. Each non-component module is released on its
own: release-please opens one release pull request per module and tags <module ID>-v<version>,
where the module ID is the module's Flux Kustomization name (<prefix>-<name>). See
docs/versions.md for the whole flow.`

const releaseConfigLong = `Write the release files of the repository from module metadata:

  release-please-config.json     one release-please package per non-component module directory:
                                 component <module ID>, release-type simple, and module.yaml as
                                 an extra file whose $.spec.version release-please bumps
  .release-please-manifest.json  each module directory with its spec.version
  .commitlint-scopes.json        every module ID (components included), for commitlint's scope-enum
  renovate/polc-modules.json     a Renovate preset: per module directory, label module:<ID> and
                                 semantic commit scope <ID>; the same for each chart and image that
                                 exactly one module uses

Settings of the release-please files that polc does not own are kept: top-level settings
(plugins, changelog-sections, bump rules...), other keys and extra files of a module's package,
and packages and manifest entries outside the modules directory. Packages inside it that are no
longer modules (removed, or components: they ship with the modules that include them) are
removed. JSON keys are written sorted, so the output is deterministic.

The charts and images come from the modules rendered as polc check renders them, with charts of
the repository itself but none from the chart cache, so the output does not depend on the
machine. A module that does not render is named on stderr and contributes no packages.

polc writes every file or none, only inside the repository, and never through a symlink. With
--check it writes nothing and exits 1 listing the files that differ, with their first differing
line. Rule versions/release-config reports the metadata-derived parts in polc check.

Examples:
  polc release config            # write the four files
  polc release config --check    # exit 1 when they are out of date`

// releaseConfigOptions are the flags of polc release config.
type releaseConfigOptions struct {
	// repo is the repository root.
	repo string
	// check compares instead of writing.
	check bool
}

// newReleaseCmd returns `polc release` with its subcommands.
func newReleaseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Version automation: release-please, commitlint and Renovate files, version bumps",
		Long:  releaseLong,
		Args:  argsUsage(cobra.NoArgs),
	}
	cmd.AddCommand(newReleaseConfigCmd(), newReleaseBumpCmd())
	return cmd
}

func newReleaseConfigCmd() *cobra.Command {
	var o releaseConfigOptions
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Write the release-please, commitlint and Renovate files from module metadata",
		Long:  releaseConfigLong,
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.repo, "repo", ".", "repository root")
	cmd.Flags().BoolVar(&o.check, "check", false, "generate in memory and exit 1 listing the files that differ from the repository")
	return cmd
}

func (o *releaseConfigOptions) run(ctx context.Context, stdout, stderr io.Writer) error {
	repo, err := loadForGenerating(o.repo, stderr, "writing the release files")
	if err != nil {
		return err
	}
	pkgs, err := renderedPackages(ctx, repo, stderr)
	if err != nil {
		return err
	}
	files, err := relconfig.Generate(repo, pkgs)
	if err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("nothing written: %w", err)}
	}
	if o.check {
		diff, err := relconfig.Diff(repo, files)
		if err != nil {
			return &ExitError{Code: 2, Err: err}
		}
		if len(diff) == 0 {
			fmt.Fprintf(stdout, "the release files are up to date (%d files)\n", len(files))
			return nil
		}
		fmt.Fprintln(stdout, "the release files are out of date; run `polc release config`. Differing files:")
		for _, d := range diff {
			fmt.Fprintln(stdout, "  "+d.String())
		}
		return &ExitError{Code: 1}
	}
	written, err := relconfig.Write(repo.Root, files)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	for _, p := range written {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	fmt.Fprintf(stdout, "the release files are up to date (%d files, %d changed)\n", len(files), len(written))
	return nil
}

// renderedPackages renders every module without the chart cache and returns the charts and
// images they use; modules that fail to render are named on stderr.
func renderedPackages(ctx context.Context, repo *rule.Repo, stderr io.Writer) ([]relconfig.Usage, error) {
	repo.Selected = nil
	repo.ChartCache = ""
	for _, f := range check.Render(ctx, repo) {
		if f.Rule == rule.RenderRule {
			fmt.Fprintf(stderr, "polc: warning: %s: module %s does not render; its charts and images get no Renovate rule: %s\n", f.Pos, f.Module, f.Message)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	return relconfig.RenderedPackages(repo), nil
}
