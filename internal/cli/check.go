package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/baseline"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/rego"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/rule"
)

const checkLong = `Render every module (or the named ones) and check it against polc's rules.

Findings print as path:line:col: severity rule-id: message [module], with a fix hint; the
summary ends with a count of findings per rule.
Exit codes: 0 no findings at or above the fail level, 1 findings that fail, 2 usage or
configuration error.

Adopting gradually: "polc baseline FILE" records today's findings, and "polc check --baseline
FILE" reports those as baselined, without failing, while new findings fail as usual. Findings
match by rule, module, object (API group, kind, namespace, name; the file for findings about no
object) and field, never by line or message, so moving an object down its file keeps it
baselined. Entries that match no finding any more are listed on stderr: rewrite the file with
polc baseline to shrink it.

Examples:
  polc check                                  # the repository in the current directory
  polc check --repo ../platform media         # one module of another repository
  polc check --format sarif=polc.sarif --format junit=polc.xml --format text
  polc check --fail-on warning
  polc check --changed-since origin/main      # changed modules and their dependents
  polc check --files -- modules/apps/media/deployment.yaml   # as the pre-commit hook runs it
  polc check --policy ../team-policy          # Rego rules (default: policy/ when it exists)
  polc baseline .polc-baseline.yaml && polc check --baseline .polc-baseline.yaml`

// checkOptions are the flags of polc check.
type checkOptions struct {
	repo         string
	formats      []string
	failOn       string
	changedSince string
	files        bool
	policy       string
	chartCache   string
	// baseline is the --baseline file; empty for none.
	baseline string
}

func newCheckCmd() *cobra.Command {
	o := checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [MODULE]...",
		Short: "Check modules offline",
		Long:  checkLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			outs, err := o.outputs(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			bl, err := o.loadBaseline()
			if err != nil {
				return err
			}
			res, err := o.run(cmd, args, cmd.ArgsLenAtDash())
			if err != nil {
				return err
			}
			found := applyBaseline(cmd.ErrOrStderr(), bl, res)
			ropts := report.Options{Rules: res.Rules, Version: Version, FailOn: rule.Severity(o.failOn), Baseline: bl != nil}
			if err := writeReports(outs, res, found, ropts); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			return failure(found, rule.Severity(o.failOn))
		},
	}
	cmd.Flags().StringArrayVar(&o.formats, "format", []string{"text"}, "report format, or FORMAT=FILE to write a file; repeatable: "+strings.Join(report.Formats(), ", "))
	cmd.Flags().StringVar(&o.failOn, "fail-on", "error", "lowest severity that fails the run: error or warning")
	cmd.Flags().StringVar(&o.baseline, "baseline", "", "baseline file (written by polc baseline): the findings it records are reported as baselined and do not fail the run")
	o.selectionFlags(cmd)
	return cmd
}

// selectionFlags adds the flags that say what to check and how to render it, which polc check
// and polc baseline share.
func (o *checkOptions) selectionFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.repo, "repo", ".", "repository root")
	cmd.Flags().StringVar(&o.changedSince, "changed-since", "", "check only the modules changed since this git revision, and their dependents")
	cmd.Flags().StringVar(&o.policy, "policy", "", "directory of Rego rules (deny/warn in package main or polc.<name>); default: policy/ at the repository root when it exists")
	chartCacheFlag(cmd, &o.chartCache)
	cmd.Flags().BoolVar(&o.files, "files", false, "the arguments are changed files (as pre-commit passes them): check their modules and dependents; after --, every argument is a file, even one that starts with -")
}

// run checks what args and the flags select; dash is the index in args of the first argument
// after "--" (-1 without "--"). A problem with the arguments, the policy or the repository is an
// ExitError with code 2.
func (o *checkOptions) run(cmd *cobra.Command, args []string, dash int) (*check.Result, error) {
	if err := o.checkFileArgs(args, dash); err != nil {
		return nil, err
	}
	opts := o.options(args)
	var err error
	if opts.Sources, err = policySources(cmd.ErrOrStderr(), o.repo, o.policy); err != nil {
		return nil, err
	}
	res, err := check.Run(cmd.Context(), opts)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	return res, nil
}

// loadBaseline loads the --baseline file; nil without the flag. A missing or invalid file is a
// usage error.
func (o *checkOptions) loadBaseline() (*baseline.File, error) {
	if o.baseline == "" {
		return nil, nil
	}
	b, err := baseline.Load(o.baseline)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	return b, nil
}

// inScope says whether the run checked a module ("" for repository-wide findings), for the
// baseline: only entries of checked modules can be stale, or be rewritten.
func inScope(res *check.Result) func(module string) bool {
	return func(m string) bool { return m == "" || res.Repo.IsSelected(m) }
}

// applyBaseline marks the findings that bl holds (none when bl is nil) and lists its stale
// entries on stderr, with a line saying how to shrink the file.
func applyBaseline(stderr io.Writer, bl *baseline.File, res *check.Result) []report.Finding {
	found := report.Wrap(res.Findings)
	if bl == nil {
		return found
	}
	applied := bl.Apply(res.Findings, inScope(res))
	for i, b := range applied.Baselined {
		found[i].Baselined = b
	}
	if len(applied.Stale) > 0 {
		fmt.Fprintf(stderr, "stale baseline entries: %d; run polc baseline %s to shrink it\n", len(applied.Stale), report.OneLine(bl.Path()))
		for _, st := range applied.Stale {
			at := bl.Path()
			if st.Line > 0 {
				at = fmt.Sprintf("%s:%d", at, st.Line)
			}
			fmt.Fprintf(stderr, "  %s: %s\n", report.OneLine(at), report.OneLine(st.String()))
		}
	}
	return found
}

// options turns flags and arguments into check options. With --files, the arguments are file
// paths, relative to the working directory; those outside the repository are left out. Cobra
// stops parsing flags at "--", so `polc check --files -- FILE...` (the pre-commit hook's form)
// reads every FILE as a path, even one named like a flag (--format=text=x.txt); without "--",
// arguments are read as before and interspersed flags still count.
func (o *checkOptions) options(args []string) check.Options {
	opts := check.Options{Root: o.repo, Rules: builtin.All(), ChangedSince: o.changedSince, PolicyDirs: o.policyDirs(), ChartCache: chartCacheDir(o.chartCache)}
	opts.ByFiles = o.files || o.changedSince != ""
	if !o.files {
		opts.Modules = args
		return opts
	}
	root, _ := filepath.Abs(o.repo)
	for _, f := range args {
		abs, err := filepath.Abs(f)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue // outside the repository polc checks
		}
		opts.Files = append(opts.Files, filepath.ToSlash(rel))
	}
	return opts
}

// policyDirs returns the Rego policy directory, relative to the repository, when it is inside it:
// a change there selects every module.
func (o *checkOptions) policyDirs() []string {
	if o.policy == "" {
		return []string{rego.DefaultDir}
	}
	root, err := filepath.Abs(o.repo)
	if err != nil {
		return nil
	}
	abs, err := filepath.Abs(o.policy)
	if err != nil {
		return nil
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil
	}
	return []string{filepath.ToSlash(rel)}
}

// checkFileArgs checks the arguments of --files that follow "--" (dash is their index in args,
// -1 without "--"). They are all paths, never flags; but one that starts with "-" and names no
// file is most likely an option that a pre-commit configuration set as the hook's args, which
// pre-commit places after the hook entry's "--". That is refused, rather than silently ignored
// as a file of no module. (pre-commit only passes files that exist.)
func (o *checkOptions) checkFileArgs(args []string, dash int) error {
	if !o.files || dash < 0 {
		return nil
	}
	for _, a := range args[dash:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if _, err := os.Lstat(a); errors.Is(err, fs.ErrNotExist) {
			return usageError("--files: %q follows -- but is not a file; options go before -- (with pre-commit, set them in the hook's entry, not its args)", a)
		}
	}
	return nil
}

// output is one requested report: a format and where it goes ("" = stdout).
type output struct {
	format, file string
	w            io.Writer
}

// outputs validates --format and --fail-on before any work is done.
func (o *checkOptions) outputs(stdout io.Writer) ([]output, error) {
	if o.failOn != "error" && o.failOn != "warning" {
		return nil, usageError("invalid --fail-on %q; valid values: error, warning", o.failOn)
	}
	var outs []output
	dest := map[string]string{} // file ("" for stdout) -> the format that writes it
	for _, f := range o.formats {
		format, file, _ := strings.Cut(f, "=")
		if _, err := report.New(io.Discard, format, report.Options{}); err != nil {
			return nil, usageError("--format: %w", err)
		}
		if prev, ok := dest[file]; ok {
			where := "standard output"
			if file != "" {
				where = file
			}
			return nil, usageError("--format: %s and %s would both write to %s; give one of them a file: --format %s=FILE", prev, format, where, format)
		}
		dest[file] = format
		outs = append(outs, output{format: format, file: file, w: stdout})
	}
	return outs, nil
}

// writeReports writes every requested report of the run's findings, as found marks them.
func writeReports(outs []output, res *check.Result, found []report.Finding, opts report.Options) error {
	summary := report.SummarizeFindings(res.Repo, found)
	for _, out := range outs {
		w := out.w
		if out.file != "" {
			f, err := os.Create(out.file)
			if err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			defer f.Close()
			w = f
		}
		fm, err := report.New(w, out.format, opts)
		if err != nil {
			return err
		}
		if err := report.Write(fm, found, summary); err != nil {
			return fmt.Errorf("write %s report: %w", out.format, err)
		}
	}
	return nil
}

// failure returns exit code 1 when a finding that is neither excepted nor baselined reaches the
// fail level.
func failure(findings []report.Finding, failOn rule.Severity) error {
	for _, f := range findings {
		if f.Fails(failOn) {
			return &ExitError{Code: 1}
		}
	}
	return nil
}

// policySources loads the Rego rules of dir, or of policy/ at the repository root when dir is
// empty and that directory exists, and prints the policy's warnings (rules that never run) to
// stderr. A policy that does not compile is a usage error.
func policySources(stderr io.Writer, repo, dir string) ([]check.Source, error) {
	if dir == "" {
		dir = filepath.Join(repo, rego.DefaultDir)
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return nil, nil
		}
	}
	root, err := filepath.Abs(repo)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	p, err := rego.Load(dir, root)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	for _, w := range p.Warnings() {
		fmt.Fprintln(stderr, w)
	}
	return []check.Source{p}, nil
}

// chartCacheFlag adds --chart-cache, the directory HelmRelease charts are read from.
func chartCacheFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "chart-cache", "", "chart cache directory: polc charts pull fills it, check and render template HelmReleases from it (default $XDG_CACHE_HOME/polc/charts)")
}

// chartCacheDir returns the --chart-cache directory, or the default one.
func chartCacheDir(flag string) string {
	if flag != "" {
		return flag
	}
	return check.DefaultChartCache()
}
