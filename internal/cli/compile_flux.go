package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/flux"
	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/rule"
)

// args accepts MODULE arguments only with --flux: the policy pack always covers every module.
func (o *compileOptions) args(_ *cobra.Command, args []string) error {
	if o.flux == "" && len(args) > 0 {
		return errors.New("MODULE arguments choose the modules of --flux; the policy pack always covers every module")
	}
	return nil
}

// runFlux writes (or, with --check, compares) the Flux Kustomizations of the named modules.
func (o *compileOptions) runFlux(stdout, stderr io.Writer, modules []string) error {
	if o.target != "" || o.out != "" {
		return usageError("--target and --out apply to the policy pack, not to --flux")
	}
	repo, err := loadForGenerating(o.repo, stderr, "compiling")
	if err != nil {
		return err
	}
	if err := genfiles.CheckOutputDir(repo.Root, o.flux); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	out, err := flux.Generate(repo, modules)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if len(out.Added) > 0 {
		fmt.Fprintf(stderr, "note: added the modules that the chosen ones depend on: %s\n", strings.Join(out.Added, ", "))
	}
	warnPolicyPack(stderr, repo, out, o.flux)
	return writeOrCheck(stdout, generation{dir: o.flux, files: out.Files, ours: flux.Generated,
		what: "the Flux Kustomizations of " + strings.Join(out.Modules, ", "), rerun: "polc compile --flux " + o.flux}, o.check)
}

// warnPolicyPack says on stderr when the entry point written to dir deploys no policy pack. The
// pack's Kustomization goes with the module that provides the kyverno.io API (it depends on that
// module's Kustomization, so that Flux applies the policies once Kyverno is Ready): without such a
// module, no Kustomization ever applies the pack.
func warnPolicyPack(stderr io.Writer, r *rule.Repo, out *flux.Output, dir string) {
	m := flux.PolicyModule(r)
	switch {
	case m == nil:
		fmt.Fprintf(stderr, "warning: no module provides the %s API, so %s deploys no policy pack: add %s to spec.provides.apis of the module that installs Kyverno\n",
			flux.PolicyAPI, dir, flux.PolicyAPI)
	case !slices.Contains(out.Modules, m.Name()):
		fmt.Fprintf(stderr, "note: %s deploys no policy pack: module %s, which provides the %s API and deploys the pack, is not among the chosen modules\n",
			dir, m.Name(), flux.PolicyAPI)
	}
}
