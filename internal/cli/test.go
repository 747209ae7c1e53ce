package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"polc.dev/polc/internal/apitest"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/rule"
)

// testOptions are the flags of polc test.
type testOptions struct {
	repo, cache, kubeconfig, format string
	emitChainsaw                    string
	// changedSince is --changed-since: test the modules changed since this git revision.
	changedSince  string
	timeout, wait time.Duration
	// kyverno is --kyverno: install the compiled policy pack for the run, so that admission
	// enforces it on every module's objects.
	kyverno bool
}

func newTestCmd() *cobra.Command {
	var o testOptions
	cmd := &cobra.Command{
		Use:   "test [MODULE]...",
		Short: "Apply each module onto a real API server that holds only its declared dependencies",
		Long: `For each module (or the named ones; components are tested through the modules that include
them), apply the rendered objects of its hard-dependency closure in dependency order, then the
module's own, with server-side apply and strict field validation: CustomResourceDefinitions first
(waiting until they are Established), then Namespaces, then the rest. Report per module the objects
applied, the objects the API server rejected (at their file:line), and the kinds that no declared
dependency serves. What polc created (labelled ` + apitest.RunLabel + `) is deleted after each module.

The API server is the cluster of --kubeconfig (or $KUBECONFIG), or by default a local control plane:
etcd and kube-apiserver from $` + apitest.AssetsEnv + `, next to polc, or on PATH, started on 127.0.0.1
and stopped again. Exit code 1 when a module fails, 2 on usage or setup errors. Objects are
applied as Flux applies them, with the ` + rule.FluxNameLabel + ` label of their module's Flux
Kustomization.

With --kyverno, the policy pack that polc compile would write (polc.yaml's target, in memory) is
installed before the first module: its policies and PolicyExceptions are applied with server-side
apply, labelled like the modules' objects, and polc waits until Kyverno reports every policy
ready. Admission then enforces the pack on every module's objects, and a rejection is reported at
the object's file:line with the server's message, which names the policy and rule. The pack is
deleted after the last module, also on error or interrupt. --kyverno needs --kubeconfig (or
$KUBECONFIG) to a cluster where Kyverno runs (kind with the Kyverno Helm chart, say): the local
control plane runs no admission controller. A cluster that does not serve Kyverno's policy kinds,
or that has the pack installed already, fails the run with exit code 2.

With --changed-since REV, the modules changed since the git revision REV are tested (as polc check
selects them: the modules holding changed files, the modules that include a changed component,
and every module that depends on those), together with the MODULE arguments. When none changed,
polc says so on stderr and exits 0 without starting an API server.

Examples:
  polc test                                   # every module, on a local control plane
  polc test --kubeconfig kind.yaml media      # one module, on the cluster of a kubeconfig
  polc test --changed-since origin/main       # in CI: changed modules and their dependents
  polc test --kyverno --kubeconfig kind.yaml  # admission by the compiled pack too
  polc test --format junit > polc-test.xml
  polc test --emit-chainsaw chainsaw/         # the same plan as chainsaw tests`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(apitest.Formats, o.format) {
				return usageError("unknown --format %q; formats: %s", o.format, strings.Join(apitest.Formats, ", "))
			}
			if err := o.checkKyverno(); err != nil {
				return err
			}
			if o.emitChainsaw != "" {
				return o.emit(cmd.Context(), cmd.ErrOrStderr(), args)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			results, err := o.run(ctx, cmd.ErrOrStderr(), args)
			if err == nil || results != nil {
				if err := apitest.Write(cmd.OutOrStdout(), o.format, results); err != nil {
					return err
				}
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("test run stopped: %w", ctx.Err())}
			}
			for _, r := range results {
				if r.Failed() {
					return &ExitError{Code: 1}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.repo, "repo", ".", "repository root")
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "test against this cluster (default $KUBECONFIG; without either, a local control plane)")
	cmd.Flags().StringVar(&o.format, "format", "text", "report format: "+strings.Join(apitest.Formats, ", "))
	cmd.Flags().DurationVar(&o.timeout, "timeout", 15*time.Minute, "deadline of the whole run")
	cmd.Flags().DurationVar(&o.wait, "wait", time.Minute, "deadline of each wait (API server ready, CRD Established, policy ready, object deleted)")
	cmd.Flags().StringVar(&o.changedSince, "changed-since", "", "test only the modules changed since this git revision, and their dependents (with MODULE arguments: both)")
	cmd.Flags().BoolVar(&o.kyverno, "kyverno", false, "install the compiled policy pack for the run, so that Kyverno's admission enforces it (needs --kubeconfig to a cluster where Kyverno runs)")
	cmd.Flags().StringVar(&o.emitChainsaw, "emit-chainsaw", "", "write the plan as chainsaw tests into this directory (one per module) instead of running it")
	chartCacheFlag(cmd, &o.cache)
	return cmd
}

// emit writes the plans as chainsaw tests; nothing when --changed-since selects no module.
func (o *testOptions) emit(ctx context.Context, progress io.Writer, args []string) error {
	plans, err := o.plans(ctx, progress, args)
	if err != nil || plans == nil {
		return err
	}
	if err := apitest.EmitChainsaw(o.emitChainsaw, plans); err != nil {
		return err
	}
	fmt.Fprintf(progress, "polc test: %d chainsaw tests written to %s\n", len(plans), o.emitChainsaw)
	return nil
}

// run renders the repository, plans the tests, connects to (or starts) the API server and runs
// every plan; with --kyverno, between the policy pack's installation and its removal. Without a
// plan (--changed-since selected no module), it returns no results and never reaches an API
// server. An error after the modules ran (the pack not removed) comes with their results.
func (o *testOptions) run(ctx context.Context, progress io.Writer, args []string) (results []apitest.Result, err error) {
	plans, err := o.plans(ctx, progress, args)
	if err != nil || plans == nil {
		return nil, err
	}
	packObjs, err := o.packObjects(progress)
	if err != nil {
		return nil, err
	}
	cfg, stop, err := o.server(ctx, progress)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	defer stop()
	id, err := runID()
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	cl, err := apitest.NewCluster(cfg, apitest.Options{RunID: id, Wait: o.wait, Progress: progress,
		NoControllers: o.local()})
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if packObjs != nil {
		pk, err := o.installPack(ctx, cl, packObjs)
		if err != nil {
			return nil, err
		}
		defer func() { err = o.removePack(ctx, progress, pk, err) }()
	}
	t0 := time.Now()
	results = make([]apitest.Result, 0, len(plans))
	for _, p := range plans {
		if ctx.Err() != nil {
			break
		}
		res := cl.Run(ctx, p)
		fmt.Fprintf(progress, "polc test %s: %s in %.1fs\n", p.Module, verdict(res), res.Seconds)
		results = append(results, res)
	}
	fmt.Fprintf(progress, "polc test: %s in %.1fs\n", report.Count(len(plans), "module"), time.Since(t0).Seconds())
	return results, nil
}

// plans loads the repository, selects the modules to test, renders them and returns their
// plans. With --changed-since and no module to test, it says so on progress and returns no plans
// and no error, before any rendering.
func (o *testOptions) plans(ctx context.Context, progress io.Writer, args []string) ([]apitest.Plan, error) {
	r, _, err := check.Load(o.repo, builtin.All())
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	names, err := o.selection(r, args)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	if o.changedSince != "" && len(names) == 0 {
		fmt.Fprintf(progress, "no module changed since %s\n", report.OneLine(o.changedSince))
		return nil, nil
	}
	r.ChartCache = chartCacheDir(o.cache)
	check.Render(ctx, r)
	plans, err := apitest.Plans(r, names)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	return plans, nil
}

// selection returns the modules to test: the MODULE arguments (none: every module) and, with
// --changed-since, sorted, the modules that check.AffectedModules finds for the files changed since
// that revision (the modules holding them, the users of a changed component, and every module
// that depends on those), as polc check selects them. Components are left out: they are tested
// through the modules that include them. An unknown module or a revision that git does not
// resolve is an error.
func (o *testOptions) selection(r *rule.Repo, args []string) ([]string, error) {
	if err := check.Select(r, args); err != nil {
		return nil, err
	}
	r.Selected = nil // every module renders: the dependencies of the selected ones too
	if o.changedSince == "" {
		return args, nil
	}
	files, err := check.ChangedFiles(r.Root, o.changedSince)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range slices.Concat(args, check.AffectedModules(r, files)) {
		if m := r.ByName[n]; m == nil || m.Spec.Type != module.Component {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// local reports whether the run starts its own control plane.
func (o *testOptions) local() bool { return o.kubeconfigPath() == "" }

// kubeconfigPath is --kubeconfig, else $KUBECONFIG.
func (o *testOptions) kubeconfigPath() string {
	if o.kubeconfig != "" {
		return o.kubeconfig
	}
	return os.Getenv("KUBECONFIG")
}

// server returns the API server's client configuration and a function that releases it.
func (o *testOptions) server(ctx context.Context, progress io.Writer) (*rest.Config, func(), error) {
	if p := o.kubeconfigPath(); p != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", p)
		if err != nil {
			return nil, nil, fmt.Errorf("kubeconfig %s: %w", p, err)
		}
		fmt.Fprintf(progress, "polc test: using the cluster at %s (kubeconfig %s)\n", cfg.Host, p)
		return cfg, func() {}, nil
	}
	cp, err := apitest.StartLocal(ctx, progress, o.wait)
	if err != nil {
		return nil, nil, err
	}
	return cp.Config, func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintf(progress, "polc test: stopping the local control plane: %v\n", err)
		}
	}, nil
}

// runID is a random value for the run label.
func runID() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// verdict is "ok" or "FAIL".
func verdict(r apitest.Result) string {
	if r.Failed() {
		return "FAIL"
	}
	return "ok"
}
