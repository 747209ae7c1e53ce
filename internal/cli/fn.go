package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rego"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/kio/kioutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

const fnLong = `Run polc's resource rules as a KRM function: read a ResourceList on stdin and write it back
with results (severity, message, resource, field, file). Any error result makes the exit code 1.

The module comes from functionConfig, a polc Module object (module.yaml as it is); without one,
each item's module is looked up by its <domain>/module label in the repository that contains
--repo (polc searches upward for polc.yaml or a modules/ directory). Rego rules of the policy
directory (--policy, default policy/ at the repository root when it exists) run too.

As a kustomize validator (kustomize build --enable-alpha-plugins --enable-exec):

  validators:
    - |-
      apiVersion: polc.dev/v1alpha1
      kind: Module
      metadata:
        name: media
        annotations:
          config.kubernetes.io/function: |
            exec:
              path: ../../../bin/polc
              args: [fn]
      spec:
        type: application
        version: 1.0.0
        namespaces: [{name: media}]

Examples:
  kustomize build --enable-alpha-plugins --enable-exec modules/apps/media
  kustomize build modules/apps/media | kustomize fn eval --enable-exec --exec-path bin/polc --exec-args fn`

// maxFnInput caps the ResourceList that polc fn reads, as module.MaxFileSize caps repository files.
const maxFnInput = 64 << 20

// readFnInput reads a KRM function's input with the guards of repository files: a size cap, and
// no alias bomb (the rules and the Rego stage would expand it).
func readFnInput(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFnInput+1))
	if err != nil {
		return nil, fmt.Errorf("read the ResourceList: %w", err)
	}
	if len(data) > maxFnInput {
		return nil, fmt.Errorf("read the ResourceList: input is larger than the %d MiB limit", maxFnInput>>20)
	}
	if err := manifest.CheckStream("stdin", data); err != nil {
		return nil, fmt.Errorf("read the ResourceList: %w", err)
	}
	return data, nil
}

// fnOptions are the flags of polc fn.
type fnOptions struct {
	repo   string
	policy string
}

func newFnCmd() *cobra.Command {
	o := fnOptions{}
	cmd := &cobra.Command{
		Use:   "fn",
		Short: "Run as a KRM function (kustomize validators) on a ResourceList",
		Long:  fnLong,
		Args:  argsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := &fnProcessor{ctx: cmd.Context(), repo: o.repo, policy: o.policy}
			in, err := readFnInput(cmd.InOrStdin())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			err = framework.Execute(p, &kio.ByteReadWriter{Reader: bytes.NewReader(in), Writer: cmd.OutOrStdout(), OmitReaderAnnotations: true, KeepReaderAnnotations: true})
			var results framework.Results
			if errors.As(err, &results) {
				fmt.Fprintln(cmd.ErrOrStderr(), results.Error())
				return &ExitError{Code: results.ExitCode()}
			}
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&o.repo, "repo", ".", "a directory inside the repository whose modules, polc.yaml and policy apply")
	cmd.Flags().StringVar(&o.policy, "policy", "", "directory of Rego rules; default: policy/ at the repository root when it exists")
	return cmd
}

// fnProcessor checks a ResourceList's items. It implements framework.ResourceListProcessor.
type fnProcessor struct {
	// ctx ends the run (the Rego rules stop evaluating).
	ctx context.Context
	// repo is a directory inside the repository; "" means none.
	repo string
	// policy is the Rego policy directory; "" means the repository's policy/ when it exists.
	policy string
	// now decides whether exceptions have expired; zero means the current time.
	now time.Time
}

var _ framework.ResourceListProcessor = (*fnProcessor)(nil)

// Process checks every item and sets rl.Results. It returns the results as an error when one of
// them is an error, which makes the function fail. The items are the objects of their modules;
// the engine runs the resource rules and the Rego rules on them, as polc check does.
func (p *fnProcessor) Process(rl *framework.ResourceList) error {
	fm, ref, err := functionModule(rl.FunctionConfig)
	if err != nil {
		return err
	}
	repo, err := p.loadRepo(fm)
	if err != nil {
		return err
	}
	if repo.Now = p.now; repo.Now.IsZero() {
		repo.Now = time.Now() // one clock for the run
	}
	if ref != "" {
		if fm = repo.ByName[ref]; fm == nil {
			return fmt.Errorf("functionConfig names module %q, which the repository does not have; known modules: %s", ref, strings.Join(moduleNames(repo), ", "))
		}
	}
	sources, err := p.sources(repo)
	if err != nil {
		return err
	}
	var findings []rule.Finding
	files := map[string]*framework.File{}
	for _, item := range rl.Items {
		if path, index, _ := kioutil.GetFileAnnotations(item); path != "" {
			i, _ := strconv.Atoi(index)
			files[fileKey(manifest.RefOf(item), path)] = &framework.File{Path: path, Index: i}
		}
		m, o, f := fnObject(repo, fm, item)
		if m == nil {
			findings = append(findings, f)
			continue
		}
		repo.Objects[m.Name()] = append(repo.Objects[m.Name()], o)
		repo.Rendered[m.Name()] = true
	}
	found, err := check.Evaluate(p.context(), repo, resourceRules(), sources)
	if err != nil {
		return err
	}
	rl.Results = fnResults(check.Finalize(repo, append(findings, found...)), files)
	if rl.Results.ExitCode() != 0 {
		return rl.Results
	}
	return nil
}

// context returns the run's context.
func (p *fnProcessor) context() context.Context {
	if p.ctx == nil {
		return context.Background()
	}
	return p.ctx
}

// resourceRules returns the built-in rules that check one object: the rules of a KRM function.
func resourceRules() []rule.Rule {
	var out []rule.Rule
	for _, ru := range builtin.All() {
		if ru.CheckObject != nil {
			out = append(out, ru)
		}
	}
	return out
}

// functionModule reads the Module in functionConfig; nil when there is none. A Module with only
// metadata.name (no spec) refers to the repository's module of that name: ref is set. The
// function annotations that kustomize adds are left out before the strict decoding.
func functionModule(fc *yaml.RNode) (m *module.Module, ref string, err error) {
	if fc == nil || fc.IsNilOrEmpty() {
		return nil, "", nil
	}
	if err := manifest.NotObject(fc); err != nil {
		return nil, "", fmt.Errorf("functionConfig: %w", err)
	}
	if fc.GetKind() == "" {
		return nil, "", nil
	}
	if fc.GetApiVersion() != module.APIVersion || fc.GetKind() != "Module" {
		return nil, "", fmt.Errorf("functionConfig is %s %s; expected apiVersion %s kind Module, or none", fc.GetApiVersion(), fc.GetKind(), module.APIVersion)
	}
	if fc.Field("spec") == nil {
		if fc.GetName() == "" {
			return nil, "", fmt.Errorf("functionConfig Module has neither metadata.name nor spec")
		}
		return nil, fc.GetName(), nil
	}
	c := fc.Copy()
	if meta := c.Field(yaml.MetadataField); meta != nil {
		_ = meta.Value.PipeE(yaml.Clear(yaml.AnnotationsField))
		_ = meta.Value.PipeE(yaml.Clear(yaml.LabelsField))
	}
	s, err := c.String()
	if err != nil {
		return nil, "", fmt.Errorf("read functionConfig: %w", err)
	}
	m, err = module.ParseModule("functionConfig", []byte(s))
	if err != nil {
		return nil, "", fmt.Errorf("read functionConfig: %w", err)
	}
	return m, "", nil
}

// moduleNames lists the repository's module names.
func moduleNames(repo *rule.Repo) []string {
	var out []string
	for _, m := range repo.Modules {
		out = append(out, m.Name())
	}
	return out
}

// loadRepo loads the repository that contains p.repo, and puts fm (when set) in place of its
// module of the same name. A repository without a modules directory, or none at all, gives fm
// alone, with the repository's polc.yaml or the default config.
func (p *fnProcessor) loadRepo(fm *module.Module) (*rule.Repo, error) {
	root := findRoot(p.repo)
	repo := rule.NewRepo(root, module.DefaultConfig(), nil)
	if root != "" {
		cfg, err := module.LoadConfig(root)
		if err != nil {
			return nil, fmt.Errorf("load repository %s: %w", root, err)
		}
		repo = rule.NewRepo(root, cfg, nil)
		if info, err := os.Stat(filepath.Join(root, cfg.Spec.ModulesDir)); err == nil && info.IsDir() {
			if repo, _, err = check.Load(root, builtin.All()); err != nil {
				return nil, fmt.Errorf("load repository %s: %w", root, err)
			}
		}
	}
	if fm == nil && len(repo.Modules) == 0 {
		return nil, fmt.Errorf("no module: pass a polc Module as functionConfig, or run inside a module repository (--repo %s)", p.repo)
	}
	if fm != nil {
		repo = withModule(repo, fm)
	}
	return repo, nil
}

// findRoot returns the nearest directory at or above dir that holds polc.yaml or a modules
// directory, or "".
func findRoot(dir string) string {
	if dir == "" {
		return ""
	}
	d, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(d, module.ConfigFile)); err == nil {
			return d
		}
		if info, err := os.Stat(filepath.Join(d, module.DefaultConfig().Spec.ModulesDir)); err == nil && info.IsDir() {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// withModule returns the repository with m in place of its module of the same name (m takes that
// module's directory when it has none), and nothing rendered.
func withModule(repo *rule.Repo, m *module.Module) *rule.Repo {
	var mods []*module.Module
	for _, x := range repo.Modules {
		if x.Name() != m.Name() {
			mods = append(mods, x)
		} else if m.Dir == "" {
			m.Dir, m.File = x.Dir, x.File
		}
	}
	return rule.NewRepo(repo.Root, repo.Config, append(mods, m))
}

// sources loads the Rego rules of the policy directory, if any: --policy, or policy/ at the
// repository root when it exists.
func (p *fnProcessor) sources(repo *rule.Repo) ([]check.Source, error) {
	dir := p.policy
	if dir == "" {
		if repo.Root == "" {
			return nil, nil
		}
		dir = filepath.Join(repo.Root, rego.DefaultDir)
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return nil, nil
		}
	}
	pol, err := rego.Load(dir, repo.Root)
	if err != nil {
		return nil, err
	}
	return []check.Source{pol}, nil
}

// fnObject turns an item into the object rules see, with its module: fm, or the module its label
// names. When there is no such module, m is nil and f says why.
func fnObject(repo *rule.Repo, fm *module.Module, item *yaml.RNode) (m *module.Module, o *manifest.Object, f rule.Finding) {
	if err := manifest.NotObject(item); err != nil {
		return nil, nil, rule.Finding{Rule: rule.RenderRule,
			Message: "item " + err.Error(), Hint: "Pass only Kubernetes objects (mappings with mapping metadata) to polc fn."}
	}
	path, _, _ := kioutil.GetFileAnnotations(item)
	n := item.Copy()
	stripFnAnnotations(n)
	o = &manifest.Object{Node: n, Ref: manifest.RefOf(n), Pos: module.Pos{File: path}, Source: n}
	ref := o.Ref
	m = fm
	if m == nil {
		label := repo.Config.ModuleLabel()
		name := n.GetLabels()[label]
		m = repo.ByName[name]
		if m == nil {
			msg := fmt.Sprintf("object has no %s label; expected the name of one of the repository's modules, or pass the Module as functionConfig", label)
			if name != "" {
				msg = fmt.Sprintf("label %s is %q; expected the name of one of the repository's modules, or pass the Module as functionConfig", label, name)
			}
			return nil, nil, rule.Finding{Rule: "labels/module", Object: &ref, Pos: o.Pos,
				Field: "metadata.labels[" + label + "]", Message: msg,
				Hint: "Label the object with its module (a kustomize `labels:` transformer does it for all of them), or pass the Module as functionConfig."}
		}
	}
	o.Module = m.Name()
	return m, o, rule.Finding{}
}

// stripFnAnnotations removes the annotations that kio readers and kustomize add to items.
func stripFnAnnotations(n *yaml.RNode) {
	for k := range n.GetAnnotations() {
		if strings.HasPrefix(k, "internal.config.kubernetes.io/") || slices.Contains(manifest.LegacyReaderAnnotations, k) {
			_ = n.PipeE(yaml.ClearAnnotation(k))
		}
	}
	_ = yaml.ClearEmptyAnnotations(n)
}

// fileKey identifies an item by its identity and file, to find its file index again.
func fileKey(ref manifest.ObjectRef, path string) string { return ref.String() + "\x00" + path }

// fnResults turns findings into KRM function results, sorted.
func fnResults(findings []rule.Finding, files map[string]*framework.File) framework.Results {
	var out framework.Results
	for _, f := range findings {
		r := &framework.Result{Message: f.Rule + ": " + f.Message, Severity: framework.Severity(f.Severity),
			Tags: map[string]string{"rule": f.Rule}}
		if f.Module != "" {
			r.Tags["module"] = f.Module
		}
		if f.Hint != "" {
			r.Tags["hint"] = f.Hint
		}
		if f.Excepted {
			r.Severity = framework.Info
			r.Message += " (excepted: " + f.Reason + ")"
		}
		if f.Object != nil {
			r.ResourceRef = &yaml.ResourceIdentifier{
				TypeMeta: yaml.TypeMeta{APIVersion: f.Object.APIVersion, Kind: f.Object.Kind},
				NameMeta: yaml.NameMeta{Name: f.Object.Name, Namespace: f.Object.Namespace},
			}
			if file := files[fileKey(*f.Object, f.Pos.File)]; file != nil {
				r.File = file
			}
		}
		if f.Field != "" {
			r.Field = &framework.Field{Path: f.Field}
		}
		out = append(out, r)
	}
	out.Sort()
	return out
}
