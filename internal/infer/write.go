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

// config proposes a polc.yaml when the repository has none and its modules are not under the
// default modules directory; with a polc.yaml that points elsewhere, it says what to change.
func (in *inferrer) config() {
	def := module.DefaultConfig().Spec.ModulesDir
	switch {
	case in.cfg.File == "" && in.modulesDir != def:
		in.res.Config = encodeConfig(in.modulesDir)
		in.res.ConfigFacts = append(in.res.ConfigFacts, Fact{Field: "spec.modulesDir", Value: in.modulesDir,
			Why: "the modules root that was searched; polc check looks for module.yaml files there", Source: "--modules-dir"})
	case in.cfg.File != "" && in.modulesDir != in.cfg.Spec.ModulesDir:
		in.res.ConfigNotes = append(in.res.ConfigNotes, fmt.Sprintf(
			"%s sets spec.modulesDir to %s; set it to %s so that polc check finds the proposed modules (polc init never rewrites %s)",
			in.cfg.File, in.cfg.Spec.ModulesDir, in.modulesDir, in.cfg.File))
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
		),
	)
	body, err := yaml.String(doc)
	if err != nil {
		panic(fmt.Sprintf("encode module.yaml: %v", err)) // the node tree is built above and always encodes
	}
	return []byte("# Proposed by `polc init --infer` from the manifests in this directory; review every field.\n" + body)
}

func encodeConfig(modulesDir string) []byte {
	doc := mapping("apiVersion", module.APIVersion, "kind", "Config", "spec", mapping("modulesDir", modulesDir))
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
	_, err := io.WriteString(w, b.String())
	return err
}
