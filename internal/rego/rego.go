// Package rego evaluates teams' own rules, written in Rego v1, on rendered objects. A policy
// directory is parsed and compiled once; each deny/warn rule becomes one prepared query, evaluated
// on every object with `input` set to the object and data.polc describing the modules.
//
// Rules are conftest-style partial sets in package main or polc.<name>:
//
//	deny contains msg if { ... }   # error findings
//	warn contains msg if { ... }   # warning findings
//
// msg is a string or an object {"msg": "...", "field": "spec.type"}. A rule's # METADATA title,
// description, custom.severity and custom.remediation describe the rule in polc's reports.
//
// Policies are type-checked against the JSON Schemas of input and data.polc that polc publishes
// (schemas/rego-*.schema.json, see schema.go), so that a misspelled path is a compile error
// instead of a rule that never fires. Deny and warn rules of other packages never run, and Load
// warns about them (Policy.Warnings).
//
// Policies come from the repository that polc checks, often a pull request's, so they are
// untrusted: they are compiled without the builtins that reach the network, the clock, randomness
// or the environment (see Capabilities), some builtins refuse arguments that would allocate too
// much, and every evaluation has a deadline and a memory budget (Policy.Timeout,
// Policy.MaxMemory).
package rego

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	opa "github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// DefaultDir is the policy directory at the repository root that polc check loads when it exists.
const DefaultDir = "policy"

// IDPrefix starts the rule ID of every Rego rule: rego/<package>/<rule>.
const IDPrefix = "rego/"

// maxFileSize caps a policy file, as module.MaxFileSize caps manifests.
const maxFileSize = 1 << 20

// entrypoint names, with the severity of their findings.
var entrypoints = map[string]rule.Severity{"deny": rule.Error, "warn": rule.Warning}

// reserved are the data.polc documents that polc provides; no package may define them.
var reserved = []string{"module", "modules", "graph"}

// Policy is a compiled policy directory.
type Policy struct {
	// Timeout bounds each evaluation of one rule on one object; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxMemory bounds, in bytes, how much the Go heap may grow while one rule is evaluated on
	// one object; zero means DefaultMaxMemory.
	MaxMemory uint64

	compiler *ast.Compiler
	queries  []query
	warnings []string
}

// query is one deny or warn rule of one package.
type query struct {
	rule rule.Rule
	// ref is the rule's document, data.<package>.<name>.
	ref string
}

// Error lists every parse or compile problem of a policy directory, each with file:line:col.
type Error struct {
	// Problems are "file:line:col: code: message" lines, in file order.
	Problems []string
}

// Error returns every problem, one an indented line, below a heading.
func (e *Error) Error() string {
	return "policy does not compile:\n  " + strings.Join(e.Problems, "\n  ")
}

// Load parses and compiles every .rego file under dir, recursively, leaving out tests
// (*_test.rego), with polc's Capabilities (a call of a builtin they leave out is a compile error)
// and type-checked against polc's schemas of input and data.polc (a path they do not have is a
// compile error; see schema.go). Files inside root are named relative to it in errors, warnings
// and findings. A directory without .rego files gives a policy without rules.
func Load(dir, root string) (*Policy, error) {
	caps := Capabilities()
	files, err := regoFiles(dir)
	if err != nil {
		return nil, err
	}
	mods, problems, err := parseFiles(files, root, caps)
	if err != nil {
		return nil, err
	}
	if len(problems) == 0 {
		problems = checkPackages(mods)
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	c, err := compile(mods, caps)
	if err != nil {
		return nil, err
	}
	return &Policy{compiler: c, queries: findQueries(c), warnings: ignoredRules(c)}, nil
}

// parseFiles parses policy files as Rego v1 modules, keyed by their display name. Syntax errors
// are problems; a file that cannot be read is an error.
func parseFiles(files []string, root string, caps *ast.Capabilities) (map[string]*ast.Module, []string, error) {
	mods := map[string]*ast.Module{}
	var problems []string
	for _, f := range files {
		data, err := readFile(f)
		if err != nil {
			return nil, nil, err
		}
		name := displayName(f, root)
		m, err := ast.ParseModuleWithOpts(name, string(data), ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true, Capabilities: caps})
		if err != nil {
			problems = append(problems, describe(err)...)
			continue
		}
		mods[name] = m
	}
	return mods, problems, nil
}

// compile compiles mods with polc's capabilities, type-checked against polc's schemas (the
// schemas of the policy's own METADATA annotations are dropped), with print statements erased.
func compile(mods map[string]*ast.Module, caps *ast.Capabilities) (*ast.Compiler, error) {
	ss, annots, err := typeSchemas(mods)
	if err != nil {
		return nil, err
	}
	annotate(mods, annots)
	c := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1).WithCapabilities(caps).
		WithSchemas(ss).WithUseTypeCheckAnnotations(true).WithEnablePrintStatements(false)
	c.Compile(mods)
	if c.Failed() {
		return nil, &Error{Problems: describe(c.Errors)}
	}
	return c, nil
}

// regoFiles lists the policy files under dir, sorted.
func regoFiles(dir string) ([]string, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read policy directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("read policy directory: %s is not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A symlink may lead outside the repository; skipping it silently would hide rules.
			return fmt.Errorf("%s is a symlink: polc does not follow symlinks in a policy directory", p)
		}
		if strings.HasSuffix(p, ".rego") && !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".rego") && !strings.HasSuffix(p, "_test.rego") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read policy directory: %w", err)
	}
	sort.Strings(files)
	return files, nil
}

// readFile reads a policy file, refusing huge ones.
func readFile(p string) ([]byte, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	if info.Size() > maxFileSize {
		return nil, fmt.Errorf("read policy %s: %d bytes is over the %d byte limit", p, info.Size(), maxFileSize)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return data, nil
}

// displayName names a policy file relative to the repository root when it is inside it.
func displayName(p, root string) string {
	abs, err := filepath.Abs(p)
	if err == nil && root != "" {
		if rel, err := filepath.Rel(root, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(p)
}

// describe turns OPA's parse and compile errors into file:line:col lines, saying why a builtin
// that polc leaves out is not there.
func describe(err error) []string {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return []string{err.Error()}
	}
	errs = slices.Clone(errs)
	slices.SortStableFunc(errs, func(a, b *ast.Error) int { return compareLocations(a.Location, b.Location) })
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		e = explain(e)
		out = append(out, position(e.Location)+e.Code+": "+refHint(e))
	}
	return out
}

// compareLocations orders locations by file, line and column; a missing location comes first.
func compareLocations(a, b *ast.Location) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Row, b.Row), cmp.Compare(a.Col, b.Col))
}

// position formats a Rego location as "file:line:col: ".
func position(l *ast.Location) string {
	if l == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d: ", l.File, l.Row, l.Col)
}

// checkPackages refuses packages that would shadow the documents polc provides under data.polc.
func checkPackages(mods map[string]*ast.Module) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		m := mods[name]
		path := pkgPath(m.Package)
		for _, r := range reserved {
			if path == "polc."+r || strings.HasPrefix(path, "polc."+r+".") {
				out = append(out, fmt.Sprintf("%spolc_error: package %s shadows data.polc.%s, which polc provides; rename the package", position(m.Package.Location), path, r))
			}
		}
	}
	return out
}

// pkgPath returns a package's path without the data. prefix: main, polc.owner.
func pkgPath(p *ast.Package) string {
	return strings.TrimPrefix(p.Path.String(), "data.")
}

// evaluated reports whether polc evaluates the deny/warn rules of a package.
func evaluated(path string) bool {
	return path == "main" || strings.HasPrefix(path, "polc.") && !strings.Contains(strings.TrimPrefix(path, "polc."), ".")
}

// findQueries returns one query per deny or warn rule of every evaluated package, sorted by ID.
func findQueries(c *ast.Compiler) []query {
	seen := map[string]bool{}
	var out []query
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		m := c.Modules[name]
		path := pkgPath(m.Package)
		if !evaluated(path) {
			continue
		}
		for _, r := range m.Rules {
			head, ok := entrypoint(r)
			id := IDPrefix + path + "/" + head
			if !ok || seen[id] {
				continue
			}
			sev := entrypoints[head]
			seen[id] = true
			out = append(out, query{ref: "data." + path + "." + head, rule: describeRule(c, r, path, head, sev)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rule.ID < out[j].rule.ID })
	return out
}

// describeRule builds a rule's metadata from its # METADATA annotations (rule, document and
// package scope, nearest first).
func describeRule(c *ast.Compiler, r *ast.Rule, path, head string, sev rule.Severity) rule.Rule {
	ru := rule.Rule{ID: IDPrefix + path + "/" + head, Severity: sev, Scope: rule.ResourceScope,
		Title:       fmt.Sprintf("Rego rule %s of package %s", head, path),
		Doc:         "A rule of the repository's own Rego policy; see " + r.Location.File + ".",
		Remediation: "See the rule in " + r.Location.File + ".",
	}
	var title, doc, remediation, severity string
	for _, ar := range c.GetAnnotationSet().Chain(r) {
		a := ar.Annotations
		if a == nil {
			continue
		}
		title = first(title, a.Title)
		doc = first(doc, a.Description)
		if s, ok := a.Custom["remediation"].(string); ok {
			remediation = first(remediation, s)
		}
		if s, ok := a.Custom["severity"].(string); ok {
			severity = first(severity, s)
		}
	}
	ru.Title = first(title, ru.Title)
	ru.Doc = first(doc, ru.Doc)
	ru.Remediation = first(remediation, ru.Remediation)
	if s := rule.Severity(severity); s == rule.Error || s == rule.Warning {
		ru.Severity = s
	}
	return ru
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Warnings are problems of the policy that do not stop polc, as "file:line:col: code: message"
// lines in file order: deny and warn rules that never run because polc does not evaluate their
// package.
func (p *Policy) Warnings() []string {
	return slices.Clone(p.warnings)
}

// ignoredRules warns about each deny and warn rule of a package that polc does not evaluate and
// that no other rule uses: it is likely meant to run, in a misnamed package (policy.lb instead of
// polc.lb, polc.team.lb). A package that other rules use is a library, and not reported.
func ignoredRules(c *ast.Compiler) []string {
	seen := map[string]bool{}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		m := c.Modules[name]
		path := pkgPath(m.Package)
		if evaluated(path) {
			continue
		}
		for _, r := range m.Rules {
			head, ok := entrypoint(r)
			if !ok || seen[path+"."+head] || len(c.Graph.Dependents(r)) > 0 {
				continue
			}
			seen[path+"."+head] = true
			out = append(out, fmt.Sprintf("%spolc_warning: rule %s of package %s never runs: polc evaluates deny and warn rules only in package main and packages polc.<name>; rename the package, or use the rule from one of those",
				position(r.Location), head, path))
		}
	}
	return out
}

// entrypoint returns the name of a deny or warn rule.
func entrypoint(r *ast.Rule) (string, bool) {
	ref := r.Head.Ref()
	if len(ref) != 1 {
		return "", false
	}
	head := ref[0].Value.(ast.Var).String()
	_, ok := entrypoints[head]
	return head, ok
}

// Rules describes the policy's deny and warn rules, sorted by ID.
func (p *Policy) Rules() []rule.Rule {
	out := make([]rule.Rule, len(p.queries))
	for i, q := range p.queries {
		out[i] = q.rule
	}
	return out
}

// Evaluator runs a policy's prepared queries on objects. It is safe for concurrent use.
type Evaluator struct {
	queries []prepared
	limits  limits
	// stopped is the first evaluation that a limit stopped, whose error every later CheckObject
	// returns: its builtin may still be running, and the policy would likely stop again.
	stopped atomic.Pointer[error]
}

type prepared struct {
	rule  rule.Rule
	query opa.PreparedEvalQuery
}

// Prepare stores data.polc for the repository and prepares every query once, with the policy's
// Timeout and MaxMemory. Each query evaluates its rule with input replaced by the object and
// data.polc.module by its module: input is {"module": NAME, "object": OBJECT} only on the way in.
func (p *Policy) Prepare(ctx context.Context, repo *rule.Repo) (*Evaluator, error) {
	store := inmem.NewFromObject(map[string]any{"polc": Data(repo)})
	e := &Evaluator{limits: limitsOf(p)}
	for _, q := range p.queries {
		pq, err := opa.New(
			opa.Query("result := "+q.ref+" with input as input.object with data.polc.module as data.polc.modules[input.module]"),
			opa.Compiler(p.compiler),
			opa.Capabilities(p.compiler.Capabilities()),
			opa.Store(store),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", q.rule.ID, err)
		}
		e.queries = append(e.queries, prepared{rule: q.rule, query: pq})
	}
	return e, nil
}

// CheckObject evaluates every rule on one rendered object of module m. An evaluation error (a
// conflict, a bad message, a builtin's argument over polc's limits) is a bug in the policy and
// is returned as an error, as is an evaluation that takes longer than the policy's Timeout or
// grows the heap by more than its MaxMemory. Once a limit stopped an evaluation, every later call
// returns that error. Cancelling ctx stops the evaluation.
func (e *Evaluator) CheckObject(ctx context.Context, m *module.Module, o *manifest.Object) ([]rule.Finding, error) {
	if len(e.queries) == 0 {
		return nil, nil
	}
	if err := e.stopped.Load(); err != nil {
		return nil, *err
	}
	in := ast.NewObject(
		[2]*ast.Term{ast.StringTerm("module"), ast.StringTerm(m.Name())},
		[2]*ast.Term{ast.StringTerm("object"), ast.NewTerm(Value(o.Node.YNode()))},
	)
	var out []rule.Finding
	for _, q := range e.queries {
		rs, err := eval(ctx, q.query, in, e.limits)
		if err != nil {
			if te, ok := errors.AsType[*topdown.Error](err); ok && te.Location != nil {
				err = &located{te}
			}
			err = fmt.Errorf("evaluate %s on %s: %w", q.rule.ID, o.Ref, err)
			if _, ok := errors.AsType[*errLimit](err); ok {
				e.stopped.CompareAndSwap(nil, &err)
			}
			return nil, err
		}
		for _, r := range rs {
			vs, err := violations(r.Bindings["result"])
			if err != nil {
				return nil, fmt.Errorf("evaluate %s on %s: %w", q.rule.ID, o.Ref, err)
			}
			for _, v := range vs {
				ref := o.Ref
				out = append(out, rule.Finding{Rule: q.rule.ID, Severity: q.rule.Severity, Module: m.Name(), Pos: o.FieldPos(v.Field),
					Object: &ref, Field: v.Field, Message: v.Message, Hint: q.rule.Remediation})
			}
		}
	}
	return out, nil
}

// located is an evaluation error written as compile errors are: "file:line:col: code: message".
type located struct{ err *topdown.Error }

func (e *located) Error() string { return position(e.err.Location) + e.err.Code + ": " + e.err.Message }

func (e *located) Unwrap() error { return e.err }

// violations reads a deny/warn result, a Rego value (see keepAST): a set of messages, or a
// single one.
func violations(v any) ([]rule.Violation, error) {
	t, ok := v.(*ast.Term)
	if !ok {
		return nil, fmt.Errorf("result %T is not a Rego value", v)
	}
	var list []*ast.Term
	switch x := t.Value.(type) {
	case ast.Set:
		sorted := x.Sorted()
		for i := range sorted.Len() {
			list = append(list, sorted.Elem(i))
		}
	default:
		list = []*ast.Term{t}
	}
	out := make([]rule.Violation, 0, len(list))
	for _, x := range list {
		switch x := x.Value.(type) {
		case ast.String:
			out = append(out, rule.Violation{Message: string(x)})
		case ast.Object:
			msg, ok := str(x, "msg")
			if !ok {
				return nil, fmt.Errorf("message %s has no string msg", show(x))
			}
			field, ok := str(x, "field")
			if x.Get(ast.StringTerm("field")) != nil && !ok {
				return nil, fmt.Errorf("message %s: field must be a string path such as spec.type", show(x))
			}
			out = append(out, rule.Violation{Message: msg, Field: field})
		default:
			return nil, fmt.Errorf("message %s is neither a string nor an object {msg, field}", show(x))
		}
	}
	return out, nil
}

// str returns the string under key in o.
func str(o ast.Object, key string) (string, bool) {
	if t := o.Get(ast.StringTerm(key)); t != nil {
		s, ok := t.Value.(ast.String)
		return string(s), ok
	}
	return "", false
}

// show writes out a value for an error message, or only its type when it is large.
func show(v ast.Value) string {
	if textSize(v, 0, 200) > 200 {
		return "(a large " + ast.ValueName(v) + ")"
	}
	return v.String()
}

// Bind prepares the policy for a repository and returns the function that checks one object,
// so that a Policy is one of polc check's extra rule sources (check.Source).
func (p *Policy) Bind(ctx context.Context, repo *rule.Repo) (func(m *module.Module, o *manifest.Object) ([]rule.Finding, error), error) {
	e, err := p.Prepare(ctx, repo)
	if err != nil {
		return nil, err
	}
	return func(m *module.Module, o *manifest.Object) ([]rule.Finding, error) {
		return e.CheckObject(ctx, m, o)
	}, nil
}
