package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"polc.dev/polc/internal/apitest"
)

// checkKyverno refuses --kyverno where it cannot work, before anything is loaded or started:
// with --emit-chainsaw (nothing runs), and on a local control plane, which runs no admission
// controller.
func (o *testOptions) checkKyverno() error {
	switch {
	case !o.kyverno:
		return nil
	case o.emitChainsaw != "":
		return usageError("--kyverno installs the policy pack for a test run; --emit-chainsaw writes the plan without running it")
	case o.local():
		return usageError("--kyverno needs --kubeconfig (or $KUBECONFIG) to a cluster where Kyverno runs: " +
			"the local control plane runs etcd and kube-apiserver only, no admission controller")
	}
	return nil
}

// packObjects compiles the policy pack in memory as polc compile would (polc.yaml's target; module
// metadata that does not load refuses it) and returns the objects that --kyverno installs; nil
// without --kyverno.
func (o *testOptions) packObjects(progress io.Writer) ([]apitest.PackObject, error) {
	if !o.kyverno {
		return nil, nil
	}
	repo, err := loadForGenerating(o.repo, progress, "installing the policy pack (--kyverno)")
	if err != nil {
		return nil, err
	}
	target, err := packTarget(repo, "")
	if err != nil {
		return nil, err
	}
	pk, err := buildPack(repo, target, progress)
	if err != nil {
		return nil, err
	}
	objs, err := apitest.PackObjects(pk.Files)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if len(objs) == 0 {
		return nil, usageError("--kyverno: no rule compiles into a policy for this repository, so there is no policy pack to install")
	}
	fmt.Fprintf(progress, "polc test: policy pack compiled (target %s): %d objects to install\n", target, len(objs))
	return objs, nil
}

// installPack installs the pack on the cluster of the run; a cluster without Kyverno's policy
// kinds, or any other failure, is exit code 2.
func (o *testOptions) installPack(ctx context.Context, cl *apitest.Cluster, objs []apitest.PackObject) (*apitest.InstalledPack, error) {
	pk, err := cl.InstallPack(ctx, objs)
	switch {
	case errors.Is(err, apitest.ErrKyvernoNotServed):
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("--kyverno needs a cluster where Kyverno runs: %w", err)}
	case err != nil:
		return nil, &ExitError{Code: 2, Err: fmt.Errorf("--kyverno: install the policy pack: %w", err)}
	}
	return pk, nil
}

// removePack removes the installed pack after the modules ran and returns the run's error: err,
// or when err is nil and the pack stays behind, exit code 2 naming what is left. A removal error
// that comes after another error is printed on progress.
func (o *testOptions) removePack(ctx context.Context, progress io.Writer, pk *apitest.InstalledPack, err error) error {
	rerr := pk.Remove(ctx)
	switch {
	case rerr == nil:
		return err
	case err == nil:
		return &ExitError{Code: 2, Err: rerr}
	}
	fmt.Fprintf(progress, "polc test: %v\n", rerr)
	return err
}
