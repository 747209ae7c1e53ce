package infer

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// config proposes a polc.yaml when the repository has none and the defaults do not fit: the
// modules root, the spec.modules globs of the module directories when Flux deploys them, and the
// exclude globs. With a polc.yaml, it says what to change instead.
func (in *inferrer) config() {
	def := module.DefaultConfig().Spec.ModulesDir
	if in.res.FluxDeployed {
		var dirs []string
		for _, p := range in.res.Proposals {
			dirs = append(dirs, p.Dir)
		}
		slices.Sort(dirs)
		in.res.Modules = moduleGlobs(dirs, in.scan.dirs, in.modulesDir)
	}
	in.fluxPrefixes()
	if in.cfg.File == "" {
		if in.modulesDir == def && len(in.res.Modules) == 0 && len(in.res.Exclude) == 0 && in.res.FluxPrefixes == nil {
			return
		}
		in.res.Config = encodeConfig(in.modulesDir, in.res.Modules, in.res.Exclude, in.res.FluxPrefixes)
		if in.res.FluxPrefixes != nil {
			var parts []string
			for _, t := range []module.Type{module.Infrastructure, module.Application} {
				parts = append(parts, fmt.Sprintf("%s: %q", t, in.res.FluxPrefixes[t]))
			}
			in.res.ConfigFacts = append(in.res.ConfigFacts, Fact{Field: "spec.fluxPrefixes", Value: strings.Join(parts, ", "),
				Why: "the prefixes the Flux Kustomizations that deploy the modules use (rule naming/flux-kustomization expects <prefix>-<module>)", Source: "Flux Kustomizations"})
		}
		in.res.ConfigFacts = append(in.res.ConfigFacts, Fact{Field: "spec.modulesDir", Value: in.modulesDir,
			Why: "the modules root that was searched; polc new creates modules there", Source: "--modules-dir"})
		if len(in.res.Modules) > 0 {
			in.res.ConfigFacts = append(in.res.ConfigFacts, Fact{Field: "spec.modules", Value: strings.Join(in.res.Modules, ", "),
				Why: "globs that match the proposed module directories (the directories Flux deploys) and no other directory", Source: "Flux Kustomizations"})
		}
		if len(in.res.Exclude) > 0 {
			in.res.ConfigFacts = append(in.res.ConfigFacts, Fact{Field: "spec.exclude", Value: strings.Join(in.res.Exclude, ", "),
				Why: "paths never scanned", Source: "--exclude"})
		}
		return
	}
	file := in.cfg.File
	if in.modulesDir != in.cfg.Spec.ModulesDir && len(in.cfg.Spec.Modules) == 0 {
		in.res.ConfigNotes = append(in.res.ConfigNotes, fmt.Sprintf(
			"%s sets spec.modulesDir to %s; set it to %s so that polc check finds the proposed modules (polc init never rewrites %s)",
			file, in.cfg.Spec.ModulesDir, in.modulesDir, file))
	}
	if len(in.res.Modules) > 0 && !slices.Equal(in.res.Modules, in.cfg.Spec.Modules) {
		in.res.ConfigNotes = append(in.res.ConfigNotes, fmt.Sprintf("set spec.modules in %s to [%s]: the proposed module directories", file, strings.Join(in.res.Modules, ", ")))
	}
	if len(in.res.Exclude) > len(in.cfg.Spec.Exclude) {
		in.res.ConfigNotes = append(in.res.ConfigNotes, fmt.Sprintf("set spec.exclude in %s to [%s]", file, strings.Join(in.res.Exclude, ", ")))
	}
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		var vn *yaml.Node
		switch v := v.(type) {
		case string:
			if v == "" {
				continue
			}
			vn = scalar(v)
		case []string:
			if len(v) == 0 {
				continue
			}
			vn = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, s := range v {
				vn.Content = append(vn.Content, scalar(s))
			}
		case *yaml.Node:
			if v == nil {
				continue
			}
			vn = v
		}
		n.Content = append(n.Content, scalar(kv[i].(string)), vn)
	}
	return n
}

// Encode renders a proposed module.yaml.
func Encode(p *Proposal) []byte {
	m := p.Module
	var nss *yaml.Node
	if len(m.Spec.Namespaces) > 0 {
		nss = &yaml.Node{Kind: yaml.SequenceNode}
		for _, ns := range m.Spec.Namespaces {
			nss.Content = append(nss.Content, mapping("name", ns.Name, "podSecurity", string(ns.PodSecurity), "reason", ns.Reason))
		}
	}
	var provides *yaml.Node
	if len(m.Spec.Provides.APIs) > 0 {
		provides = mapping("apis", m.Spec.Provides.APIs)
	}
	var uses *yaml.Node
	if len(m.Spec.Uses) > 0 {
		uses = &yaml.Node{Kind: yaml.SequenceNode}
		for _, u := range m.Spec.Uses {
			uses.Content = append(uses.Content, mapping("namespace", u.Namespace, "kinds", u.Kinds, "reason", u.Reason))
		}
	}
	doc := mapping(
		"apiVersion", m.APIVersion,
		"kind", m.Kind,
		"metadata", mapping("name", m.Name()),
		"spec", mapping(
			"type", string(m.Spec.Type),
			"tier", string(m.Spec.Tier),
			"version", m.Spec.Version,
			"namespaces", nss,
			"dependsOn", m.Spec.DependsOn,
			"softDependsOn", m.Spec.SoftDependsOn,
			"provides", provides,
			"uses", uses,
		),
	)
	body, err := yaml.String(doc)
	if err != nil {
		panic(fmt.Sprintf("encode module.yaml: %v", err)) // the node tree is built above and always encodes
	}
	return []byte("# Proposed by `polc init --infer` from the manifests in this directory; review every field.\n" + body)
}

func encodeConfig(modulesDir string, modules, exclude []string, prefixes map[module.Type]string) []byte {
	list := func(s []string) *yaml.Node {
		if len(s) == 0 {
			return nil
		}
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range s {
			n.Content = append(n.Content, scalar(v))
		}
		return n
	}
	var fp *yaml.Node
	if prefixes != nil {
		// Written out even when empty: an empty prefix means Kustomizations named after the modules.
		fp = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			scalar("infrastructure"), scalar(prefixes[module.Infrastructure]),
			scalar("application"), scalar(prefixes[module.Application])}}
	}
	doc := mapping("apiVersion", module.APIVersion, "kind", "Config", "spec", mapping("modulesDir", modulesDir, "modules", list(modules), "exclude", list(exclude), "fluxPrefixes", fp))
	body, err := yaml.String(doc)
	if err != nil {
		panic(fmt.Sprintf("encode polc.yaml: %v", err))
	}
	return []byte("# Proposed by `polc init --infer`; the polc README documents every field.\n" + body)
}

// Write writes the proposed module.yaml files, and polc.yaml when one is proposed. It never
// overwrites: a file that exists (or a symlink) is skipped (reported in skipped). written lists
// the files written, relative to the root. It writes through genfiles.Create: every file or none
// (on an error, written is empty), inside the repository, and never through a symlink.
func (r *Result) Write() (written, skipped []string, err error) {
	var files []genfiles.File
	for _, p := range r.Proposals {
		if p.Existing {
			continue
		}
		if err := genfiles.CheckLabel(p.Name()); err != nil {
			return nil, nil, fmt.Errorf("%s: module name %w", p.File(), err)
		}
		files = append(files, genfiles.File{Path: p.File(), Data: Encode(p)})
	}
	if r.Config != nil {
		files = append(files, genfiles.File{Path: module.ConfigFile, Data: r.Config})
	}
	written, skipped, err = genfiles.Create(r.Root, files, genfiles.SkipExisting)
	if err != nil {
		return nil, nil, fmt.Errorf("write the proposals: %w", err)
	}
	return written, skipped, nil
}

// Print writes what was inferred and why: per module, the file it would write, one line per
// fact with its source, and the notes; then the skipped directories and polc.yaml.
func (r *Result) Print(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "modules root %s: %d modules proposed, %d directories skipped\n", r.ModulesDir, len(r.Proposals), len(r.Skipped))
	for _, p := range r.Proposals {
		state := "propose"
		if p.Existing {
			state = "keep existing"
		}
		fmt.Fprintf(&b, "\n%s: %s module %s (%s)\n", p.File(), state, p.Name(), p.Module.Spec.Type)
		for _, f := range p.Facts {
			fmt.Fprintf(&b, "  %s: %s  because %s  [%s]\n", f.Field, f.Value, f.Why, f.Source)
		}
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "  note: %s\n", n)
		}
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\n")
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "skipped %s: %s\n", s.Dir, s.Reason)
	}
	if r.Config != nil || len(r.ConfigNotes)+len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	if r.Config != nil {
		fmt.Fprintf(&b, "%s: propose\n", module.ConfigFile)
		for _, f := range r.ConfigFacts {
			fmt.Fprintf(&b, "  %s: %s  because %s  [%s]\n", f.Field, f.Value, f.Why, f.Source)
		}
	}
	for _, n := range slices.Concat(r.ConfigNotes, r.Notes) {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	if len(r.Defaulted) > 0 {
		fmt.Fprintf(&b, "\nWARNING: %d namespace(s) are declared restricted without evidence (no pod-security.kubernetes.io/enforce label, no rendered pod or well-known chart that needs more); check each before polc enforces restricted there:\n", len(r.Defaulted))
		for _, d := range r.Defaulted {
			fmt.Fprintf(&b, "  %s\n", d)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fluxPrefixes finds the Flux Kustomization name prefix of each module type from the
// Kustomizations that deploy the proposed modules: "" when they are named after the modules,
// <prefix> when each is <prefix>-<module>. Types whose Kustomizations disagree keep polc's
// default; the result is kept only when it differs from the defaults.
func (in *inferrer) fluxPrefixes() {
	seen := map[module.Type]map[string]bool{}
	for _, p := range in.res.Proposals {
		t := p.Module.Spec.Type
		if t == module.Component || p.Existing {
			continue
		}
		for _, f := range p.deployedBy {
			pre, ok := "", f.name == p.Name()
			if !ok {
				pre, ok = strings.CutSuffix(f.name, "-"+p.Name())
			}
			if ok {
				if seen[t] == nil {
					seen[t] = map[string]bool{}
				}
				seen[t][pre] = true
			}
		}
	}
	def := module.DefaultConfig().Spec.FluxPrefixes
	out := map[module.Type]string{module.Infrastructure: in.cfg.FluxPrefix(module.Infrastructure), module.Application: in.cfg.FluxPrefix(module.Application)}
	for t, pres := range seen {
		if len(pres) == 1 {
			for pre := range pres {
				out[t] = pre
			}
		}
	}
	if out[module.Infrastructure] != def[module.Infrastructure] || out[module.Application] != def[module.Application] {
		in.res.FluxPrefixes = out
	}
}
