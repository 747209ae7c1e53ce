package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/charts"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/hermetic"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const chartsPullLong = `Download the Helm charts that the repository's HelmReleases pin into the chart cache, so that
"polc check" can render them offline.

polc renders every module, finds each HelmRelease (helm.toolkit.fluxcd.io) of the named modules
(default: all), resolves its chart from the HelmRepository, OCIRepository or HelmChart it names
in the repository, and pulls each distinct chart version once: from an HTTP(S) Helm repository
(index.yaml, digest verified when the index has one) or an OCI registry (manifest digest
verified when the source pins one). Charts already in the cache are not fetched again.

This is the only polc command that uses the network. Credentials come from Helm's
repositories.yaml (HTTP basic auth) and from the static "auths" of the Docker config
(~/.docker/config.json, $DOCKER_CONFIG) and Helm's registry config (OCI); credential helpers
are not run.

HelmReleases whose chart cannot be resolved (version not pinned, source not in the repository,
unsupported source kind) are listed with the reason and do not fail the command; charts from
the repository's own GitRepository need no download.
Exit codes: 0 every resolved chart is cached, 1 a pull failed, 2 usage or configuration error.

Examples:
  polc charts pull && polc check            # in CI
  polc charts pull --chart-cache .charts media
  polc check --chart-cache .charts`

// chartsPullOptions are the flags of polc charts pull.
type chartsPullOptions struct {
	repo      string
	cache     string
	timeout   time.Duration
	plainHTTP bool
}

func newChartsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "charts",
		Short: "Manage the Helm chart cache",
	}
	cmd.AddCommand(newChartsPullCmd())
	return cmd
}

func newChartsPullCmd() *cobra.Command {
	o := chartsPullOptions{}
	cmd := &cobra.Command{
		Use:   "pull [MODULE]...",
		Short: "Download the charts that HelmReleases pin (uses the network)",
		Long:  chartsPullLong,
		RunE: func(cmd *cobra.Command, args []string) error {
			cache, err := o.chartCache()
			if err != nil {
				return err
			}
			plan, err := o.plan(cmd.Context(), cmd.ErrOrStderr(), args)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			failed := plan.pull(cmd.Context(), cache, o.pullOptions(), cmd.ErrOrStderr())
			plan.summary(cmd.OutOrStdout(), failed)
			if len(failed) > 0 {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.repo, "repo", ".", "repository root")
	chartCacheFlag(cmd, &o.cache)
	cmd.Flags().DurationVar(&o.timeout, "timeout", charts.DefaultTimeout, "deadline of each chart's download")
	cmd.Flags().BoolVar(&o.plainHTTP, "plain-http", false, "reach OCI registries over plain HTTP instead of HTTPS (local registries)")
	return cmd
}

// chartCache returns the cache of --chart-cache, or the default one.
func (o *chartsPullOptions) chartCache() (charts.Cache, error) {
	if o.cache != "" {
		return charts.Cache{Dir: o.cache}, nil
	}
	dir, err := charts.DefaultCacheDir()
	if err != nil {
		return charts.Cache{}, &ExitError{Code: 2, Err: fmt.Errorf("%w; set --chart-cache", err)}
	}
	return charts.Cache{Dir: dir}, nil
}

// pullOptions turns flags into pull options.
func (o *chartsPullOptions) pullOptions() charts.PullOptions {
	return charts.PullOptions{Timeout: o.timeout, PlainHTTP: o.plainHTTP, Transport: hermetic.Network()}
}

// chartUse is one HelmRelease that installs a chart.
type chartUse struct {
	ref manifest.ObjectRef
	pos manifest.Pos
}

// String names the HelmRelease and where it is written.
func (u chartUse) String() string { return u.pos.String() + ": " + u.ref.String() }

// unresolved is a HelmRelease whose chart polc cannot pull, and why.
type unresolved struct {
	use    chartUse
	reason charts.Reason
	detail string
}

// chartPlan is what charts pull does: the distinct charts to pull, in order, with the
// HelmReleases that use them, and the HelmReleases left out.
type chartPlan struct {
	refs       []charts.Ref
	users      map[string][]chartUse // by charts.Key
	local      []chartUse
	unresolved []unresolved
}

// plan loads and renders the repository as polc check does and resolves the chart of every
// HelmRelease in the named modules (all when none is named). Sources are looked up among the
// objects of every module, since HelmRepositories often live in another module than the
// HelmReleases that use them.
func (o *chartsPullOptions) plan(ctx context.Context, stderr io.Writer, modules []string) (*chartPlan, error) {
	rules := builtin.All()
	sources, err := policySources(stderr, o.repo, "")
	if err != nil {
		return nil, err
	}
	for _, src := range sources {
		rules = append(rules, src.Rules()...)
	}
	repo, _, err := check.Load(o.repo, rules)
	if err != nil {
		return nil, err
	}
	if err := check.Select(repo, modules); err != nil {
		return nil, err
	}
	wanted := repo.Selected
	repo.Selected = nil  // render everything: sources may be in any module
	repo.ChartCache = "" // charts from the cache need not render to be pulled
	for _, f := range check.Render(ctx, repo) {
		if f.Rule == rule.RenderRule {
			fmt.Fprintf(stderr, "polc: warning: %s: %s (module %s; what it renders is not searched for HelmReleases)\n", f.Pos, f.Message, f.Module)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src := repo.Config.Spec.Source
	return newPlan(repo, wanted, charts.SourceRef{Kind: src.Kind, Namespace: src.Namespace, Name: src.Name}), nil
}

// newPlan resolves the HelmReleases of the wanted modules (nil: all) of the rendered repo.
func newPlan(repo *rule.Repo, wanted map[string]bool, self charts.SourceRef) *chartPlan {
	lookup := objectIndex(repo)
	p := &chartPlan{users: map[string][]chartUse{}}
	for _, m := range repo.Modules {
		if wanted != nil && !wanted[m.Name()] {
			continue
		}
		for _, obj := range repo.Objects[m.Name()] {
			if obj.Ref.Kind != "HelmRelease" || obj.Ref.Group() != "helm.toolkit.fluxcd.io" {
				continue
			}
			p.add(obj, lookup, self)
		}
	}
	sort.Slice(p.refs, func(i, j int) bool { return p.refs[i].String() < p.refs[j].String() })
	return p
}

// add resolves one HelmRelease into the plan.
func (p *chartPlan) add(obj *manifest.Object, lookup charts.Lookup, self charts.SourceRef) {
	use := chartUse{ref: obj.Ref, pos: obj.Pos}
	res, reason, detail := charts.Resolve(obj.Node, lookup, self)
	switch {
	case reason != "":
		p.unresolved = append(p.unresolved, unresolved{use: use, reason: reason, detail: detail})
	case res.LocalPath != "":
		p.local = append(p.local, use)
	default:
		key := charts.Key(res.Ref)
		if p.users[key] == nil {
			p.refs = append(p.refs, res.Ref)
		}
		p.users[key] = append(p.users[key], use)
	}
}

// objectIndex returns a lookup of the rendered objects of every module by kind, namespace and
// name; when several modules render the same object, the first module by name wins.
func objectIndex(repo *rule.Repo) charts.Lookup {
	idx := map[[3]string]*yaml.RNode{}
	for _, m := range repo.Modules {
		for _, obj := range repo.Objects[m.Name()] {
			k := [3]string{obj.Ref.Kind, obj.Ref.Namespace, obj.Ref.Name}
			if _, ok := idx[k]; !ok {
				idx[k] = obj.Node
			}
		}
	}
	return func(kind, namespace, name string) *yaml.RNode { return idx[[3]string{kind, namespace, name}] }
}

// pullFailure is a chart that could not be pulled.
type pullFailure struct {
	ref charts.Ref
	err error
}

// pull pulls every chart of the plan in order, printing progress to stderr, and returns the
// failures. It stops early only when ctx ends.
func (p *chartPlan) pull(ctx context.Context, cache charts.Cache, opts charts.PullOptions, stderr io.Writer) []pullFailure {
	var failed []pullFailure
	for i, ref := range p.refs {
		n := fmt.Sprintf("(%d/%d)", i+1, len(p.refs))
		if cache.Valid(ref) {
			fmt.Fprintf(stderr, "cached %s %s\n", ref, n)
			continue
		}
		err := ctx.Err()
		if err == nil {
			err = charts.Pull(ctx, cache, ref, opts)
		}
		if err != nil {
			fmt.Fprintf(stderr, "failed %s %s\n", ref, n)
			failed = append(failed, pullFailure{ref: ref, err: err})
			continue
		}
		fmt.Fprintf(stderr, "pulled %s %s\n", ref, n)
	}
	return failed
}

// summary prints what was pulled, what failed (with the HelmReleases that need it) and the
// HelmReleases left out.
func (p *chartPlan) summary(w io.Writer, failed []pullFailure) {
	fmt.Fprintf(w, "%d charts cached, %d failed; %d HelmReleases use charts from the repository, %d are not resolved\n",
		len(p.refs)-len(failed), len(failed), len(p.local), len(p.unresolved))
	if len(failed) > 0 {
		fmt.Fprintln(w, "failed:")
		for _, f := range failed {
			fmt.Fprintf(w, "  %s\n", errorLine(f.err))
			for _, u := range p.users[charts.Key(f.ref)] {
				fmt.Fprintf(w, "    needed by %s\n", u)
			}
		}
	}
	if len(p.unresolved) > 0 {
		fmt.Fprintln(w, "not resolved (not pulled, reported by polc check):")
		for _, u := range p.unresolved {
			fmt.Fprintf(w, "  %s: %s: %s\n", u.use, u.reason, u.detail)
		}
	}
}

// errorLine flattens an error to one line.
func errorLine(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted: " + err.Error()
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
