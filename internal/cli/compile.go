package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/pack"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/rule"
)

const compileLong = `Compile the resource rules into a Kyverno policy pack, from module metadata alone: one policy
per rule (named polc-<category>-<name>, with the same few rules however many modules there are:
the modules' facts are a table that each rule looks the object's module up in), one
PolicyException per module exception, a kustomization.yaml that Flux applies, a README.md catalog, and a Kyverno CLI test per
policy under tests/ (run them with "kyverno test <dir>").

The target is polc.yaml's spec.kyverno.target unless --target says otherwise: clusterpolicy
(kyverno.io/v1 ClusterPolicy and kyverno.io/v2 PolicyException, Kyverno 1.13+) or validatingpolicy
(policies.kyverno.io/v1 ValidatingPolicy and PolicyException, Kyverno 1.17+). The output goes to
polc.yaml's spec.policiesDir unless --out says otherwise; files that an earlier run generated and
that are no longer part of the pack are removed. Expired exceptions are not compiled; polc says
so on stderr.

polc writes every file or none, and only inside the output directory: it refuses an output
directory that is a symlink or, inside the repository, is reached through one, and a symlink,
special file or directory where a generated file goes. --check reads only regular files and
reports anything else as a difference.

With --flux DIR, compile writes the Flux Kustomizations that deploy the modules to a cluster
instead of the pack: one file per module with its kustomize.toolkit.fluxcd.io/v1 Kustomization
(<prefix>-<module>, spec.dependsOn from the metadata, wait: true), and a kustomization.yaml listing
them. MODULE arguments choose the modules (default: all); the modules they depend on are added.
The module that installs Kyverno also gets <prefix>-<module>-policies, which applies the pack once
that module (and so its Kyverno HelmRelease) is Ready. --check compares DIR instead.

Examples:
  polc compile                         # write policies/
  polc compile --check                 # exit 1 and list the files that are out of date
  polc compile --target validatingpolicy --out /tmp/vp
  polc compile --flux clusters/lab media   # media and the modules it depends on`

// compileOptions are the flags of polc compile.
type compileOptions struct {
	// repo is the repository root.
	repo string
	// target overrides polc.yaml's target.
	target string
	// out overrides polc.yaml's policiesDir.
	out string
	// check compares instead of writing.
	check bool
	// flux, when set, is the directory to write Flux Kustomizations to instead of the pack.
	flux string
}

func newCompileCmd() *cobra.Command {
	var o compileOptions
	cmd := &cobra.Command{
		Use:   "compile [--flux DIR [MODULE]...]",
		Short: "Compile the resource rules into a Kyverno policy pack",
		Long:  compileLong,
		Args:  argsUsage(o.args),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.flux != "" {
				return o.runFlux(cmd.OutOrStdout(), cmd.ErrOrStderr(), args)
			}
			return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.repo, "repo", ".", "repository root")
	cmd.Flags().StringVar(&o.target, "target", "", "policy kind: "+strings.Join(kyverno.Targets(), ", ")+" (default: polc.yaml spec.kyverno.target)")
	cmd.Flags().StringVar(&o.out, "out", "", "output directory (default: polc.yaml spec.policiesDir)")
	cmd.Flags().StringVar(&o.flux, "flux", "", "write the Flux Kustomizations of the modules (default: all) to this directory instead of the pack")
	cmd.Flags().BoolVar(&o.check, "check", false, "compile in memory and exit 1 listing the files that differ from the output directory")
	return cmd
}

// loadForGenerating loads the repository's metadata for a command that writes files from it (before
// what it is doing): metadata problems are printed with their positions and refuse the run.
func loadForGenerating(root string, stderr io.Writer, before string) (*rule.Repo, error) {
	repo, findings, err := check.Load(root, builtin.All())
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if len(findings) > 0 {
		for _, f := range findings {
			fmt.Fprintf(stderr, "%s: %s: %s\n", f.Pos, f.Rule, f.Message)
		}
		return nil, usageError("module metadata does not load; fix it (see polc check) before %s", before)
	}
	return repo, nil
}

func (o *compileOptions) run(stdout, stderr io.Writer) error {
	repo, err := loadForGenerating(o.repo, stderr, "compiling")
	if err != nil {
		return err
	}
	target, err := packTarget(repo, o.target)
	if err != nil {
		return err
	}
	out := o.out
	if out == "" {
		out = filepath.Join(repo.Root, filepath.FromSlash(repo.Config.Spec.PoliciesDir))
	}
	if err := genfiles.CheckOutputDir(repo.Root, out); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	pk, err := buildPack(repo, target, stderr)
	if err != nil {
		return err
	}
	return writeOrCheck(stdout, generation{dir: out, files: pk.Files, ours: pack.Generated,
		what: report.Count(len(pk.Policies), "policy") + ", target " + string(target), rerun: "polc compile"}, o.check)
}

// packTarget is the policy kind of the pack: flag (--target) when set, else polc.yaml's
// spec.kyverno.target. An unknown flag value is a usage error.
func packTarget(repo *rule.Repo, flag string) (kyverno.Target, error) {
	if flag == "" {
		return kyverno.TargetOf(repo.Config.Spec.Kyverno.Target), nil
	}
	if !slices.Contains(kyverno.Targets(), flag) {
		return "", usageError("unknown --target %q; valid targets: %s", flag, strings.Join(kyverno.Targets(), ", "))
	}
	return kyverno.Target(flag), nil
}

// buildPack compiles the repository's resource rules into the pack of target, in memory, and
// prints its notes (expired exceptions left out) on stderr. polc compile writes the result;
// polc test --kyverno installs it.
func buildPack(repo *rule.Repo, target kyverno.Target, stderr io.Writer) (*pack.Pack, error) {
	pk, err := pack.Build(repo, builtin.All(), kyverno.Options{Target: target})
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	for _, n := range pk.Notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	return pk, nil
}
