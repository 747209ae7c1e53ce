package cli

import (
	"fmt"
	"io"
	"polc.dev/polc/internal/report"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/infer"
	"polc.dev/polc/internal/scaffold"
)

const initLong = `Start a polc repository, or adopt an existing Flux repository.

Without --infer, polc init writes a commented starter polc.yaml (every field at its default) and
the JSON Schemas of polc.yaml and module.yaml under schemas/, which the yaml-language-server
modelines of polc.yaml and of the module.yaml files that polc new writes point at, so editors
validate both offline. Files that exist are left alone. Then create modules with polc new module.

With --infer, polc init adopts an existing Flux repository that has no module metadata yet: it
proposes a module.yaml for each top-level kustomization directory under the modules root (a
directory with a kustomization whose parents below the root have none), and prints every
inferred value with the reason and the file it comes from.

  name          the directory name (directories whose name is not a DNS-1123 label, or repeats
                another module's name, are skipped with a note)
  type          component for a kind: Component kustomization; infrastructure when the path has an
                infrastructure, infra, core, system or controllers element, or when an
                infrastructure module depends on it; application otherwise
  tier          from a -core or -extra suffix, else core (with a note: rename the directory)
  version       the newest CHANGELOG.md heading, else 0.1.0
  namespaces    the Namespace objects the module renders, with the Pod Security level of their
                pod-security.kubernetes.io/enforce label (restricted when unlabelled)
  dependsOn     Flux Kustomization dependsOn (Kustomizations are mapped to modules by spec.path),
                HelmRelease dependsOn and chart sources held by another module or placed in its
                namespace, and the API groups and namespaces of other modules that the rendered
                objects use; a dependency that would close a cycle becomes a softDependsOn
  provides      API groups of the CustomResourceDefinitions in the module's files and of
                well-known charts (cert-manager, kyverno, external-secrets, ...) its HelmReleases
                install

In the home-operations layout (<namespace>/<app>/app directories listed through ks.yaml files by
<namespace>/kustomization.yaml), the namespace directory is the module; the app directories below
it count as its files. A kustomization that includes another candidate directory is an overlay of
it and not a module of its own.

Nothing is written without --write. --write creates the module.yaml files, and polc.yaml when
the repository has none and the modules root is not the default; it never overwrites a file.

Examples:
  polc init                                           # starter polc.yaml and schemas/
  polc init --infer                                   # print the proposals
  polc init --infer --modules-dir kubernetes/apps     # a foreign layout
  polc init --infer --modules-dir kubernetes --write  # write them, then run polc check`

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
}

func newInitCmd() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init [--infer [--modules-dir DIR] [--write]]",
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
	return cmd
}

func (o *initOptions) run(stdout io.Writer) error {
	if !o.infer {
		if o.write || o.modulesDir != "" {
			return usageError("--write and --modules-dir apply to --infer; polc init alone writes the starter files")
		}
		return o.starter(stdout)
	}
	res, err := infer.Infer(infer.Options{Root: o.repo, ModulesDir: o.modulesDir})
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
