package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/infer"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/scaffold"
)

const initLong = `Start a polc repository, or adopt an existing Flux repository.

Without --infer, polc init writes a commented starter polc.yaml (every field at its default) and
the JSON Schemas of polc.yaml and module.yaml under schemas/, which the yaml-language-server
modelines of polc.yaml and of the module.yaml files that polc new writes point at, so editors
validate both offline. Files that exist are left alone. Then create modules with polc new module.

With --infer, polc init adopts an existing Flux repository that has no module metadata yet. The
modules are the directories under the modules root that Flux Kustomizations of the repository's
own source deploy (directly, through a generated kustomization, or through an ArtifactGenerator
copy): an overlay Flux deploys is the module and the bases it includes are not; cluster entry
points (flux bootstrap's clusters/<name>) are not modules. Without such Kustomizations, each
top-level kustomization directory is a module (an overlay of another is not). init prints every
inferred value with the reason and the file it comes from, and says where it guessed.

  name          the Flux Kustomization's name without its fluxPrefixes prefix, else the directory
                name (<app> for .../<app>/app); a name another module takes too is qualified
                with the directory above (production-apps), with a note
  type          component for a kind: Component kustomization; infrastructure when the module
                renders CRDs or cluster-scoped kinds, runs an operator (ClusterRole and workload),
                installs a well-known infrastructure chart, lives in an infrastructure namespace
                (kube-system, flux-system, *-system, monitoring, network, storage, ...), has an
                infrastructure path element, or an infrastructure module depends on it
  tier          from a -core or -extra suffix, else core
  version       .release-please-manifest.json, the newest CHANGELOG.md heading, the newest git
                tag <name>-v<semver> or <name>/v<semver> (read from .git, git is not run), else
                0.1.0 with a note that it is a guess
  namespaces    the Namespace objects the module renders; their Pod Security level from the
                pod-security.kubernetes.io/enforce label, else from the rendered pods placed there
                (evaluated at baseline and restricted), else from well-known privileged charts;
                namespaces left restricted without evidence are listed at the end
  dependsOn     Flux Kustomization and HelmRelease dependsOn, chart sources, API groups and
                namespaces of other modules, Ingress annotations (Traefik middlewares,
                cert-manager issuers), storage, ingress and gateway classes and Gateway
                parentRefs that name another module's objects; only Flux and HelmRelease
                dependsOn make hard dependencies of a module that Flux deploys (the others are
                softDependsOn: Flux does not order them), and a dependency that would close a
                cycle becomes a softDependsOn
  uses          the namespaces of other modules the module writes into, with the kinds
  provides      API groups of the module's CRDs and of well-known charts its HelmReleases install

polc.yaml (proposed when the repository has none) gets the modules root, spec.modules globs that
match exactly the proposed module directories, spec.exclude from --exclude, and the fluxPrefixes
the Kustomizations that deploy the modules use, when they are not polc's defaults.

Nothing is written without --write. --write creates the module.yaml files, and polc.yaml when
the repository has none and the modules root is not the default; it never overwrites a file.

Examples:
  polc init                                           # starter polc.yaml and schemas/
  polc init --infer                                   # print the proposals
  polc init --infer --modules-dir kubernetes/apps     # a foreign layout
  polc init --infer --modules-dir kubernetes --write  # write them, then run polc check
  polc init --infer --modules-dir . --exclude 'ci/**' # never scan ci/`

// initOptions are the flags of polc init.
type initOptions struct {
	// repo is the repository root.
	repo string
	// infer proposes module.yaml files for an existing repository; without it, init writes the
	// starter files.
	infer bool
	// modulesDir overrides polc.yaml's spec.modulesDir (--infer only).
	modulesDir string
	// write writes the proposals instead of only printing them (--infer only).
	write bool
	// exclude are globs of paths never scanned (--infer only), proposed for polc.yaml spec.exclude.
	exclude []string
}

func newInitCmd() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init [--infer [--modules-dir DIR] [--exclude GLOB]... [--write]]",
		Short: "Write a starter polc.yaml, or propose module metadata for an existing Flux repository",
		Long:  initLong,
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.repo, "repo", ".", "repository root")
	cmd.Flags().BoolVar(&o.infer, "infer", false, "infer module.yaml files from the manifests of an existing repository")
	cmd.Flags().StringVar(&o.modulesDir, "modules-dir", "", "directory that holds the modules, relative to --repo (default: polc.yaml spec.modulesDir, or modules)")
	cmd.Flags().BoolVar(&o.write, "write", false, "write the proposed files; existing files are never overwritten")
	cmd.Flags().StringArrayVar(&o.exclude, "exclude", nil, "glob of repository paths never scanned (ci/**, .archive/**), proposed for polc.yaml spec.exclude; repeatable")
	return cmd
}

func (o *initOptions) run(stdout io.Writer) error {
	if !o.infer {
		if o.write || o.modulesDir != "" || len(o.exclude) > 0 {
			return usageError("--write, --modules-dir and --exclude apply to --infer; polc init alone writes the starter files")
		}
		return o.starter(stdout)
	}
	res, err := infer.Infer(infer.Options{Root: o.repo, ModulesDir: o.modulesDir, Exclude: o.exclude})
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if err := res.Print(stdout); err != nil {
		return err
	}
	if !o.write {
		fmt.Fprintln(stdout, "\nnothing written; run again with --write to create the proposed files")
		return nil
	}
	written, skipped, err := res.Write()
	for _, f := range skipped {
		fmt.Fprintf(stdout, "skipped %s: it exists and is never overwritten\n", f)
	}
	for _, f := range written {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	fmt.Fprintf(stdout, "%s written; run polc check to see what the repository still needs\n", report.Count(len(written), "file"))
	return nil
}

// starter writes the starter polc.yaml and the JSON Schemas when they do not exist.
func (o *initOptions) starter(stdout io.Writer) error {
	created, skipped, err := scaffold.CreateMissing(o.repo, scaffold.InitFiles())
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	for _, f := range skipped {
		fmt.Fprintf(stdout, "skipped %s: it exists and is never overwritten\n", f)
	}
	for _, f := range created {
		fmt.Fprintf(stdout, "created %s\n", f)
	}
	fmt.Fprintln(stdout, "next: polc new module NAME --type application|infrastructure|component, then polc check")
	return nil
}
