// Package cli holds polc's cobra commands. Commands are thin: they bind flags to an options
// struct and call the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/check"
)

// Version is polc's version, set at build time with -ldflags "-X polc.dev/polc/internal/cli.Version=...".
var Version = "0.1.0-dev"

// ExitError carries an exit code to main. Code 1: findings at or above the fail level;
// code 2: usage or configuration error.
type ExitError struct {
	Code int
	Err  error
}

// Error returns the wrapped error's message, or "exit N" when there is none.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error, so errors.Is and errors.As see through the exit code.
func (e *ExitError) Unwrap() error { return e.Err }

// NewRoot returns the root command with every verb.
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "polc",
		Short: "Policy compiler and checker for FluxCD module repositories",
		Long: `polc turns module metadata (module.yaml) into enforcement: "polc check" renders and checks
every module offline, "polc compile" writes the Kyverno policy pack that enforces the same rules
in the cluster.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: 2, Err: err} })
	root.AddCommand(newCheckCmd(), newRulesCmd(), newExplainCmd(), newRenderCmd(), newGraphCmd(), newNewCmd(), newCompileCmd(), newFnCmd(), newDocCmd(), newInitCmd(), newChartsCmd(), newFixCmd(), newBaselineCmd(), newReleaseCmd(), newTestCmd())
	return root
}

// Execute runs the root command with args and returns the process exit code, printing errors to
// stderr.
func Execute(args []string, stdout, stderr io.Writer) int {
	root := NewRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	// The Helm SDK logs its own warnings through the default logger; polc reports problems as
	// findings, so they would only be noise (and nondeterministic) on stderr.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	// An interrupt cancels the run's context: rendering and Rego evaluation stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "polc:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "polc:", err)
	var ce *check.ConfigError
	if errors.As(err, &ce) {
		return 2
	}
	return 2
}

// usageError wraps an argument or flag problem as exit code 2.
func usageError(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// exactArgs and friends turn cobra's argument errors into usage errors.
func argsUsage(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &ExitError{Code: 2, Err: err}
		}
		return nil
	}
}
