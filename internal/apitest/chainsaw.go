package apitest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"polc.dev/polc/internal/manifest"
	"sigs.k8s.io/yaml"
)

// ChainsawTestFile is the name of each emitted chainsaw test.
const ChainsawTestFile = "chainsaw-test.yaml"

// EmitChainsaw writes one chainsaw test per plan into dir/<module>/: a step per module of the
// plan that applies its CRDs and waits until they are Established, then applies the rest and
// asserts that each object exists with its apiVersion, kind, name and namespace. Kinds of groups
// that the plan declares in provides.apis without rendering their CRDs get schemaless CRDs first,
// as in polc test; the cluster must serve Flux's APIs itself. Existing files are overwritten.
func EmitChainsaw(dir string, plans []Plan) error {
	for _, p := range plans {
		files, err := chainsawFiles(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p.Module, err)
		}
		d := filepath.Join(dir, p.Module)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(d, f.name), f.data, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// file is one emitted file.
type file struct {
	name string
	data []byte
}

// chainsawFiles returns the files of a plan's chainsaw test, the test last.
func chainsawFiles(p Plan) ([]file, error) {
	var files []file
	var steps []any
	add := func(name string, docs []any) (string, error) {
		data, err := stream(docs)
		files = append(files, file{name: name, data: data})
		return name, err
	}
	if stubs := stubCRDs(p); len(stubs) > 0 {
		f, err := add("00-stub-crds.yaml", stubs)
		if err != nil {
			return nil, err
		}
		steps = append(steps, chainsawStep("schemaless CRDs for the kinds of groups the plan declares in provides.apis without rendering their CRDs",
			applyOp(f), waitOps(stubs)))
	}
	for i, s := range p.Steps {
		role := "dependency"
		if i == len(p.Steps)-1 {
			role = "the module under test"
		}
		var crds, rest []any
		var asserts []any
		for _, o := range s.Objects {
			doc, err := objectDoc(o)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.Pos, err)
			}
			if isCRD(o.Ref) {
				crds = append(crds, doc)
			} else {
				rest = append(rest, doc)
			}
			asserts = append(asserts, identity(doc))
		}
		var ops []any
		prefix := fmt.Sprintf("%02d-%s", i+1, s.Module)
		if len(crds) > 0 {
			f, err := add(prefix+"-crds.yaml", crds)
			if err != nil {
				return nil, err
			}
			ops = append(append(ops, applyOp(f)), waitOps(crds)...)
		}
		if len(rest) > 0 {
			f, err := add(prefix+".yaml", rest)
			if err != nil {
				return nil, err
			}
			ops = append(ops, applyOp(f))
		}
		if len(asserts) > 0 {
			f, err := add(prefix+"-assert.yaml", asserts)
			if err != nil {
				return nil, err
			}
			ops = append(ops, map[string]any{"assert": map[string]any{"file": f}})
		}
		if len(ops) > 0 {
			steps = append(steps, chainsawStep(fmt.Sprintf("apply %s (%s)", s.Module, role), ops...))
		}
	}
	test := map[string]any{
		"apiVersion": "chainsaw.kyverno.io/v1alpha1",
		"kind":       "Test",
		"metadata":   map[string]any{"name": p.Module},
		"spec": map[string]any{
			"description": fmt.Sprintf("Module %s applied onto a cluster that holds only its declared dependencies (%s), as polc test does.",
				p.Module, strings.Join(stepModules(p), ", ")),
			"concurrent": false,
			"template":   false,
			"steps":      steps,
		},
	}
	data, err := stream([]any{test})
	return append(files, file{name: ChainsawTestFile, data: data}), err
}

// chainsawStep is a step of a chainsaw test.
func chainsawStep(name string, ops ...any) map[string]any {
	var flat []any
	for _, op := range ops {
		if l, ok := op.([]any); ok {
			flat = append(flat, l...)
		} else {
			flat = append(flat, op)
		}
	}
	return map[string]any{"name": name, "try": flat}
}

func applyOp(f string) map[string]any { return map[string]any{"apply": map[string]any{"file": f}} }

// waitOps wait until each CRD of docs is Established.
func waitOps(docs []any) []any {
	var ops []any
	for _, d := range docs {
		meta, _ := d.(map[string]any)["metadata"].(map[string]any)
		ops = append(ops, map[string]any{"wait": map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "name": meta["name"],
			"timeout": "1m", "for": map[string]any{"condition": map[string]any{"name": "Established", "value": "true"}},
		}})
	}
	return ops
}

// stepModules names the modules of a plan in order.
func stepModules(p Plan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Module)
	}
	return out
}

// objectDoc is o's node as a JSON-like value.
func objectDoc(o *manifest.Object) (map[string]any, error) {
	s, err := o.Node.String()
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	return doc, yaml.Unmarshal([]byte(s), &doc)
}

// identity keeps an object's apiVersion, kind, name and namespace: what the assert step checks.
func identity(doc map[string]any) map[string]any {
	meta, _ := doc["metadata"].(map[string]any)
	m := map[string]any{"name": meta["name"]}
	if ns, ok := meta["namespace"]; ok {
		m["namespace"] = ns
	}
	return map[string]any{"apiVersion": doc["apiVersion"], "kind": doc["kind"], "metadata": m}
}

// stubCRDs are schemaless CRDs for the kinds of the plan whose group a module of the plan declares
// in provides.apis and that no CRD of the plan defines; namespaced when the object has a namespace.
func stubCRDs(p Plan) []any {
	defined := map[schema.GroupKind]bool{}
	for _, s := range p.Steps {
		for _, o := range s.Objects {
			if isCRD(o.Ref) {
				if doc, err := objectDoc(o); err == nil {
					g, _, _ := unstructuredString(doc, "spec", "group")
					k, _, _ := unstructuredString(doc, "spec", "names", "kind")
					defined[schema.GroupKind{Group: g, Kind: k}] = true
				}
			}
		}
	}
	var out []any
	seen := map[schema.GroupKind]bool{}
	for _, s := range p.Steps {
		for _, o := range s.Objects {
			gv, err := schema.ParseGroupVersion(o.Ref.APIVersion)
			gk := gv.WithKind(o.Ref.Kind).GroupKind()
			if err != nil || !slices.Contains(p.Provided, gv.Group) || defined[gk] || seen[gk] {
				continue
			}
			seen[gk] = true
			out = append(out, stubCRD(gv.WithKind(o.Ref.Kind), o.Ref.Namespace != "", ""))
		}
	}
	return out
}

// unstructuredString reads a nested string field of doc.
func unstructuredString(doc map[string]any, path ...string) (string, bool, error) {
	var cur any = doc
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[p]
	}
	s, ok := cur.(string)
	return s, ok, nil
}

// stream writes docs as one YAML stream.
func stream(docs []any) ([]byte, error) {
	var b bytes.Buffer
	for _, d := range docs {
		y, err := yaml.Marshal(d)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}
