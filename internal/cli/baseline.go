package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/baseline"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/report"
)

const baselineLong = `Check the repository as polc check does, and record its findings in FILE, so that
"polc check --baseline FILE" reports them as baselined (listed, marked, not failing the run)
while new findings fail as usual. Adopt polc on an existing repository this way, then fix the
baselined findings at your pace.

FILE holds one entry per rule, module, object (API group, kind, namespace and name; the file for
findings about no object) and field, with how many findings it counts; never a line or a
message, so that editing elsewhere in a file keeps its findings baselined. Each entry lists the
files and messages it was written from, as a hint. Excepted findings are not recorded: their
exception already excuses them. The file is sorted and carries no timestamp, so rewriting it
after fixing findings only removes their entries.

FILE is the only file written. When the run checks some modules only (MODULE arguments,
--files, --changed-since), the entries of the other modules are kept from FILE as it was.

Examples:
  polc baseline .polc-baseline.yaml                   # record every finding
  polc check --baseline .polc-baseline.yaml           # fails only on new findings
  polc baseline .polc-baseline.yaml media             # re-record one module's findings`

// newBaselineCmd returns polc baseline, which shares its selection flags with polc check.
func newBaselineCmd() *cobra.Command {
	o := checkOptions{}
	cmd := &cobra.Command{
		Use:   "baseline FILE [MODULE]...",
		Short: "Record the current findings in a baseline file for polc check --baseline",
		Long:  baselineLong,
		Args:  argsUsage(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, rest := args[0], args[1:]
			dash := cmd.ArgsLenAtDash()
			if dash > 0 {
				dash-- // FILE is not one of the arguments check sees
			}
			res, err := o.run(cmd, rest, dash)
			if err != nil {
				return err
			}
			b, err := rebuild(file, res)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if err := b.Write(file); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s) to %s\n", report.Count(len(b.Entries), "entry"), report.Count(recorded(b), "finding"), file)
			return nil
		},
	}
	o.selectionFlags(cmd)
	return cmd
}

// rebuild returns the baseline of the run's findings. A run that checked some modules only keeps
// the other modules' entries of file, which must then load when it exists.
func rebuild(file string, res *check.Result) (*baseline.File, error) {
	var keep []baseline.Entry
	if res.Repo.Selected != nil {
		old, err := baseline.Load(file)
		switch {
		case err == nil:
			keep = old.OutOf(inScope(res))
		case !baseline.IsNotExist(err):
			return nil, err
		}
	}
	return baseline.Build(res.Findings, keep), nil
}

// recorded counts the findings the entries of b hold.
func recorded(b *baseline.File) int {
	n := 0
	for _, e := range b.Entries {
		n += e.Count
	}
	return n
}
