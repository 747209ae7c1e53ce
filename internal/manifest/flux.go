package manifest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Labels kustomize-controller sets on every object it applies, naming the Flux Kustomization.
const (
	FluxNameLabel      = "kustomize.toolkit.fluxcd.io/name"
	FluxNamespaceLabel = "kustomize.toolkit.fluxcd.io/namespace"
)

// fluxOptions are the krusty options of kustomize-controller's build (fluxcd/pkg/kustomize Build):
// files may be loaded from outside the kustomization's directory, but never from outside the
// repository (repoFS refuses those); plugins are off. polc keeps the input order.
func fluxOptions() *krusty.Options {
	return &krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsNone,
		PluginConfig:     types.DisabledPluginConfig(),
	}
}

// RenderFlux renders the directory dir (relative to the root) that the Flux Kustomization ks
// deploys, as kustomize-controller builds it: when dir has no kustomization file, Flux's own
// generator (fluxcd/pkg/kustomize) lists its manifests; then the generator applies the
// Kustomization's targetNamespace, namePrefix, nameSuffix, patches, images and components, and
// kustomize builds the result. The generated kustomization lives in memory only. The objects are
// attributed to module mod and located in their source documents; they are not substituted
// (FluxVariables and SubstituteObjects do that) and carry no Flux metadata yet (FluxMetadata).
func (r *Renderer) RenderFlux(ctx context.Context, ks *yaml.RNode, dir, mod string) ([]*Object, []Remote, error) {
	if r.Files != nil {
		// Flux's generator and guardScan read the working tree on disk.
		return nil, nil, &RenderError{Msg: fmt.Sprintf("spec.path %q: the paths of Flux Kustomizations are rendered from the working tree only, not from a git revision", dir)}
	}
	lim := r.Limits.withDefaults()
	abs, err := module.Resolve(r.Root, dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &RenderError{Msg: fmt.Sprintf("spec.path %q: %v", dir, err), Err: err}
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, nil, &RenderError{Msg: fmt.Sprintf("spec.path %q is not a directory of the repository (Flux fails with \"kustomization path not found\")", dir)}
	}
	existing := r.kustomizationFile(dir)
	generated := !r.isFile(existing)
	if generated {
		if err := r.guardScan(dir, lim); err != nil {
			return nil, nil, err
		}
	}
	u := &unstructured.Unstructured{}
	data, err := ks.MarshalJSON()
	if err == nil {
		err = u.UnmarshalJSON(data)
	}
	if err != nil {
		return nil, nil, &RenderError{Msg: fmt.Sprintf("read Flux Kustomization %s: %v", RefOf(ks), err)}
	}
	manifest, kfileAbs, _, err := generate(r.Root, *u, abs)
	if err != nil {
		return nil, nil, &RenderError{Msg: "generate the kustomization as Flux does: " + strings.ReplaceAll(err.Error(), r.Root+string(filepath.Separator), ""), Err: err}
	}
	kfile, err := filepath.Rel(r.Root, kfileAbs)
	if err != nil {
		return nil, nil, &RenderError{Msg: err.Error(), Err: err}
	}
	w := newWalk()
	w.local[filepath.ToSlash(kfile)] = manifest
	w.extraIndex = indexAlso(dir, manifest, generated)
	return r.buildObjects(ctx, dir, mod, w, fluxOptions())
}

// generate runs Flux's kustomization generator on the directory abs, without writing, and turns
// its panics into errors.
func generate(root string, ks unstructured.Unstructured, abs string) (manifest []byte, kfile string, action fluxkustomize.Action, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the kustomization generator failed: %v", p)
		}
	}()
	return fluxkustomize.NewGenerator(root, ks).GenerateManifest(abs)
}

// indexAlso returns what to index, besides the kustomization files on disk, to locate the objects
// of a Flux build in dir: every resource and component of a generated kustomization (which
// exists only in memory), or the components that the Flux Kustomization adds to an existing one.
func indexAlso(dir string, manifest []byte, generated bool) []string {
	f := ParseFile("", manifest)
	if f.Err != nil || len(f.Docs) == 0 {
		return nil
	}
	fields := []string{"components"}
	if generated {
		fields = append(fields, "resources")
	}
	var out []string
	for _, field := range fields {
		for _, e := range listField(f.Docs[0].Node, field) {
			if e.Kind == yaml.ScalarNode && !IsRemote(e.Value) {
				if filepath.IsAbs(e.Value) {
					continue
				}
				out = append(out, path.Join(dir, e.Value))
			}
		}
	}
	return out
}

// guardScan checks, before Flux's generator reads them, the files it will list in a directory
// without a kustomization file: every .yaml and .yml file below dir, not descending into
// directories that have their own kustomization file (kustomize builds those). Each must be a
// regular file inside the repository, within the size cap, free of alias bombs and parseable; the
// number of documents is capped. The generator itself reads the disk without these checks.
func (r *Renderer) guardScan(dir string, lim Limits) *RenderError {
	root := filepath.Join(r.Root, filepath.FromSlash(dir))
	docs := 0
	var stop *RenderError
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, rerr := filepath.Rel(r.Root, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if p != root && slices.ContainsFunc(KustomizationFiles, func(n string) bool { return r.isFile(path.Join(rel, n)) }) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := path.Ext(rel); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if !r.isFile(rel) {
			if _, err := module.Resolve(r.Root, rel); err != nil {
				stop = &RenderError{Msg: fmt.Sprintf("%s: %v", rel, err), Pos: Pos{File: rel}, Err: err}
			} else {
				stop = &RenderError{Msg: fmt.Sprintf("%s is not a regular file; Flux would read it as a manifest", rel), Pos: Pos{File: rel}}
			}
			return filepath.SkipAll
		}
		f := r.Sources.Get(rel)
		if e := refused(f.Err, Pos{File: rel}); e != nil {
			stop = e
			return filepath.SkipAll
		}
		if f.Err != nil {
			stop = &RenderError{Msg: f.Err.Error(), Pos: errPos(f.Err, rel), Err: f.Err}
			return filepath.SkipAll
		}
		if docs += len(f.Docs); docs > lim.MaxObjects {
			stop = &RenderError{Msg: fmt.Sprintf("Flux would read more than %d documents under %s; the limit is %d objects", lim.MaxObjects, dir, lim.MaxObjects), Pos: Pos{File: rel}}
			return filepath.SkipAll
		}
		return nil
	})
	if stop != nil {
		return stop
	}
	if err != nil {
		return &RenderError{Msg: strings.ReplaceAll(err.Error(), r.Root+string(filepath.Separator), ""), Pos: Pos{File: dir}, Err: err}
	}
	return nil
}

// errPos returns the position a file error names, or the file.
func errPos(err error, rel string) Pos {
	var fe *module.FieldError
	if errors.As(err, &fe) {
		return fe.Pos
	}
	return Pos{File: rel}
}

// HasPostBuild reports whether the Flux Kustomization ks sets spec.postBuild: kustomize-controller
// substitutes variables only then.
func HasPostBuild(ks *yaml.RNode) bool {
	n, err := ks.Pipe(yaml.Lookup("spec", "postBuild"))
	return err == nil && n != nil && n.YNode().Tag != yaml.NodeTagNull
}

// Lookup finds an object of the repository by kind, namespace and name, or returns nil.
type Lookup func(kind, namespace, name string) *yaml.RNode

// FluxVariables returns the post-build variables of the Flux Kustomization ks, as
// kustomize-controller loads them: the data of each spec.postBuild.substituteFrom ConfigMap or
// Secret in ks's namespace, in order, found with find, then spec.postBuild.substitute; later values
// win and newlines are removed. base (values polc.yaml provides for what only the cluster holds)
// comes first of all. A reference that is not in the repository and not optional is listed in
// missing (Flux would fail until it exists in the cluster); keys that are not variable names are
// listed in invalid (Flux fails the Kustomization on them). substitute says whether
// kustomize-controller substitutes at all: spec.postBuild is set and it has variables (a
// reference polc could not read counts), or spec.postBuild.substituteStrategy is Always.
func FluxVariables(ks *yaml.RNode, base map[string]string, find Lookup) (vars map[string]string, missing, invalid []string, substitute bool) {
	vars = map[string]string{}
	for k, v := range base {
		vars[k] = v
	}
	own := 0
	set := func(from, k, v string) {
		if !module.IsVarName(k) {
			invalid = append(invalid, fmt.Sprintf("%q in %s", k, from))
			return
		}
		vars[k] = strings.ReplaceAll(v, "\n", "")
		own++
	}
	ns := ks.GetNamespace()
	from, _ := ks.Pipe(yaml.Lookup("spec", "postBuild", "substituteFrom"))
	if from != nil && from.YNode().Kind == yaml.SequenceNode {
		for _, ref := range from.Content() {
			rn := yaml.NewRNode(ref)
			kind, name := String(rn, "kind"), String(rn, "name")
			obj := find(kind, ns, name)
			if obj == nil {
				if String(rn, "optional") != "true" {
					missing = append(missing, kind+"/"+ns+"/"+name)
				}
				continue
			}
			data := ObjectData(obj)
			for _, k := range slices.Sorted(maps.Keys(data)) {
				set(kind+"/"+ns+"/"+name, k, data[k])
			}
		}
	}
	sub, _ := ks.Pipe(yaml.Lookup("spec", "postBuild", "substitute"))
	if sub != nil && sub.YNode().Kind == yaml.MappingNode {
		c := sub.YNode().Content
		for i := 0; i+1 < len(c); i += 2 {
			set("spec.postBuild.substitute", c[i].Value, c[i+1].Value)
		}
	}
	substitute = HasPostBuild(ks) && (own > 0 || len(missing) > 0 || String(ks, "spec", "postBuild", "substituteStrategy") == "Always")
	return vars, missing, invalid, substitute
}

// ObjectData returns the string data of a ConfigMap, or of a Secret (data decoded from base64,
// then stringData, as the API server merges them). Values that are not scalars are skipped.
func ObjectData(n *yaml.RNode) map[string]string {
	out := map[string]string{}
	secret := n.GetKind() == "Secret"
	for _, field := range []string{"data", "stringData"} {
		m, _ := n.Pipe(yaml.Lookup(field))
		if m == nil || m.YNode().Kind != yaml.MappingNode {
			continue
		}
		c := m.YNode().Content
		for i := 0; i+1 < len(c); i += 2 {
			if c[i+1].Kind != yaml.ScalarNode {
				continue
			}
			v := c[i+1].Value
			if secret && field == "data" {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					continue // an encrypted or broken value: unknown offline
				}
				v = string(b)
			}
			out[c[i].Value] = v
		}
	}
	return out
}

// FluxMetadata sets on each object what kustomize-controller sets when it applies it: the
// Kustomization's spec.commonMetadata labels and annotations, and the labels that name the
// Kustomization (FluxNameLabel, FluxNamespaceLabel).
func FluxMetadata(objs []*Object, ks *yaml.RNode) error {
	labels := mapAt(ks, "spec", "commonMetadata", "labels")
	annotations := mapAt(ks, "spec", "commonMetadata", "annotations")
	labels[FluxNameLabel] = ks.GetName()
	labels[FluxNamespaceLabel] = ks.GetNamespace()
	for _, o := range objs {
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			if err := o.Node.PipeE(yaml.SetLabel(k, labels[k])); err != nil {
				return err
			}
		}
		for _, k := range slices.Sorted(maps.Keys(annotations)) {
			if err := o.Node.PipeE(yaml.SetAnnotation(k, annotations[k])); err != nil {
				return err
			}
		}
	}
	return nil
}

// mapAt returns the string map at path below n (empty when missing).
func mapAt(n *yaml.RNode, path ...string) map[string]string {
	out := map[string]string{}
	m, _ := n.Pipe(yaml.Lookup(path...))
	if m == nil || m.YNode().Kind != yaml.MappingNode {
		return out
	}
	c := m.YNode().Content
	for i := 0; i+1 < len(c); i += 2 {
		out[c[i].Value] = c[i+1].Value
	}
	return out
}
