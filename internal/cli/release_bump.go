package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/release"
)

const releaseBumpLong = `Raise a module's version for a release: spec.version in its module.yaml (only the version
changes; comments and formatting stay), a new level-two heading in its CHANGELOG.md in the style
the file already uses ("## [1.2.1] - 2026-11-30" or "## 1.2.1"), and the module's entry of
.release-please-manifest.json when that file lists it.

The heading gets --note as a bullet. Without --note, the content of an "## [Unreleased]" section
moves under the new heading (the empty Unreleased heading stays); with neither, the bullet says
that no notes were given. A missing CHANGELOG.md is created. Components have no release of their
own (they ship with the modules that include them) and are refused.

--patch is the default. A pre-release is released by the level it belongs to: --patch of
1.2.0-rc.1 gives 1.2.0, --minor of 1.2.3-rc.1 gives 1.3.0, --major of 2.0.0-rc.1 gives 2.0.0.

With --changed-since REV and no MODULE, every module whose rendered objects changed since the git
revision REV is bumped, with the changed objects as the default note; modules whose version
already rose since REV are skipped.

After a bump, polc lists the modules that depend on the bumped ones, directly or not: their tests
should run. --dry-run prints the edits as a unified diff and writes nothing. Every edit is
computed before anything is written; on any error nothing is written.

Exit codes: 0 done; 2 usage error, unknown module, component, spec.version not semver, or a file
polc may not edit.

Examples:
  polc release bump media                          # 1.2.0 -> 1.2.1
  polc release bump media --minor --note "Add the photo importer."
  polc release bump media --major --dry-run        # show the edits only
  polc release bump --changed-since origin/main    # every changed module`

// releaseBumpOptions are the flags of polc release bump.
type releaseBumpOptions struct {
	repo                string
	major, minor, patch bool
	note                string
	date                string
	changedSince        string
	dryRun              bool
}

// newReleaseBumpCmd returns `polc release bump`.
func newReleaseBumpCmd() *cobra.Command {
	o := releaseBumpOptions{}
	cmd := &cobra.Command{
		Use:   "bump [MODULE]",
		Short: "Raise a module's version, add its CHANGELOG entry and keep the release-please manifest in step",
		Long:  releaseBumpLong,
		Args:  argsUsage(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := o.options(args)
			if err != nil {
				return err
			}
			res, err := o.plan(cmd.Context(), args, opts)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			return o.apply(cmd.OutOrStdout(), cmd.ErrOrStderr(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.repo, "repo", ".", "repository root")
	f.BoolVar(&o.major, "major", false, "raise the major version (1.2.3 -> 2.0.0)")
	f.BoolVar(&o.minor, "minor", false, "raise the minor version (1.2.3 -> 1.3.0)")
	f.BoolVar(&o.patch, "patch", false, "raise the patch version (1.2.3 -> 1.2.4); the default")
	f.StringVar(&o.note, "note", "", "release note, written as a bullet under the new CHANGELOG heading")
	f.StringVar(&o.date, "date", "", "release date of the CHANGELOG heading, YYYY-MM-DD (default: today in UTC)")
	f.StringVar(&o.changedSince, "changed-since", "", "bump every module whose rendered objects changed since this git revision (no MODULE)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the edits as a unified diff and write nothing")
	return cmd
}

// options checks the arguments and flags and returns the bump options.
func (o *releaseBumpOptions) options(args []string) (release.BumpOptions, error) {
	opts := release.BumpOptions{Level: release.Patch, Note: o.note, Date: o.date}
	n := 0
	for _, l := range []struct {
		set   bool
		level release.Level
	}{{o.patch, release.Patch}, {o.minor, release.Minor}, {o.major, release.Major}} {
		if l.set {
			n++
			opts.Level = l.level
		}
	}
	switch {
	case n > 1:
		return opts, usageError("--major, --minor and --patch exclude each other")
	case len(args) == 1 && o.changedSince != "":
		return opts, usageError("give either MODULE or --changed-since, not both")
	case len(args) == 0 && o.changedSince == "":
		return opts, usageError("name the module to bump, or use --changed-since REV")
	}
	return opts, nil
}

// plan loads the repository and plans the bump.
func (o *releaseBumpOptions) plan(ctx context.Context, args []string, opts release.BumpOptions) (*release.BumpResult, error) {
	repo, findings, err := check.Load(o.repo, builtin.All())
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return release.BumpChanged(ctx, repo, o.changedSince, opts)
	}
	for _, f := range findings {
		if f.Module == args[0] && repo.ByName[args[0]] == nil {
			msg := f.Message
			if !strings.HasPrefix(msg, f.Pos.File) {
				msg = f.Pos.String() + ": " + msg
			}
			return nil, fmt.Errorf("the metadata of module %s does not load: %s", args[0], msg)
		}
	}
	return release.Bump(repo, args[0], opts)
}

// apply prints the diff (--dry-run) or writes the files, then the summary: on stdout after a
// write, on stderr after a diff so that the diff alone can be piped to git apply.
func (o *releaseBumpOptions) apply(stdout, stderr io.Writer, res *release.BumpResult) error {
	if o.dryRun {
		if err := res.Diff(stdout); err != nil {
			return &ExitError{Code: 2, Err: err}
		}
		return res.Summary(stderr, true)
	}
	if err := res.Write(o.repo); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	return res.Summary(stdout, false)
}
