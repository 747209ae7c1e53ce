package helm

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"text/template"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// cloneChart copies ch and its subcharts deeply enough for a render to modify the copy: the
// install processes dependencies in place (removing disabled subcharts, renaming aliases,
// importing values). File contents are shared; Helm does not modify them.
func cloneChart(ch *chart.Chart) *chart.Chart {
	out := *ch
	if ch.Metadata != nil {
		md := *ch.Metadata
		md.Dependencies = make([]*chart.Dependency, len(ch.Metadata.Dependencies))
		for i, d := range ch.Metadata.Dependencies {
			if d != nil {
				c := *d
				md.Dependencies[i] = &c
			}
		}
		if ch.Metadata.Dependencies == nil {
			md.Dependencies = nil
		}
		out.Metadata = &md
	}
	out.Values = deepCopyMap(ch.Values)
	out.Templates = slices.Clone(ch.Templates)
	out.Files = slices.Clone(ch.Files)
	out.SetDependencies()
	for _, d := range ch.Dependencies() {
		out.AddDependency(cloneChart(d))
	}
	return &out
}

// deepCopyMap copies a values map: maps and lists are copied, scalars shared.
func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopyValue(v)
	}
	return out
}

// deepCopyValue copies one value of a values map.
func deepCopyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return deepCopyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopyValue(e)
		}
		return out
	default:
		return v
	}
}

// checkDependencies fails when a dependency that Chart.yaml lists is not loaded (in charts/),
// naming the missing ones, in ch or its subcharts (path is ch's chart path).
func checkDependencies(ch *chart.Chart, path string) error {
	path += ch.Name()
	var missing []string
	for _, req := range ch.Metadata.Dependencies {
		if req == nil {
			continue
		}
		if !slices.ContainsFunc(ch.Dependencies(), func(d *chart.Chart) bool { return d.Name() == req.Name }) {
			missing = append(missing, req.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("chart %s: dependencies listed in Chart.yaml are missing in charts/: %s", path, strings.Join(missing, ", "))
	}
	for _, d := range ch.Dependencies() {
		if err := checkDependencies(d, path+"/charts/"); err != nil {
			return err
		}
	}
	return nil
}

// parseCRDs parses the files of a chart's crds/ directories and returns their
// CustomResourceDefinitions, ordered by file, and the size of the files; other kinds are
// dropped, as helm-controller does.
func parseCRDs(files []chart.CRD) ([]Object, int, error) {
	slices.SortStableFunc(files, func(a, b chart.CRD) int { return cmp.Compare(a.Filename, b.Filename) })
	var out []Object
	size := 0
	for _, f := range files {
		size += len(f.File.Data)
		nodes, err := (&kio.ByteReader{Reader: strings.NewReader(string(f.File.Data)), OmitReaderAnnotations: true}).Read()
		if err != nil {
			return nil, 0, fmt.Errorf("failed to parse CustomResourceDefinitions from %s: %w", f.Filename, err)
		}
		for _, n := range nodes {
			if n.GetKind() != "CustomResourceDefinition" || !strings.HasPrefix(n.GetApiVersion(), "apiextensions.k8s.io/") {
				continue
			}
			out = append(out, Object{Node: n, Template: f.Filename})
		}
	}
	return out, size, nil
}

// crdAPIVersions returns the group/versions and group/version/kinds the CRDs serve: the
// cluster offers them once helm-controller has created the CRDs, before it installs.
func crdAPIVersions(crds []Object) []string {
	var out []string
	for _, c := range crds {
		group, _ := c.Node.GetString("spec.group")
		kind, _ := c.Node.GetString("spec.names.kind")
		versions, _ := c.Node.Pipe(yaml.Lookup("spec", "versions"))
		els, _ := versions.Elements()
		for _, v := range els {
			name, _ := v.GetString("name")
			if served, err := v.GetFieldValue("served"); err == nil && served == false {
				continue
			}
			if group == "" || name == "" {
				continue
			}
			out = append(out, group+"/"+name)
			if kind != "" {
				out = append(out, group+"/"+name+"/"+kind)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// maxRangeItems caps the lists until and untilStep build: a template cannot allocate a list of
// a hundred million integers before the deadline can stop it.
const maxRangeItems = 1 << 20

// guardFuncs replaces the template functions that allocate in proportion to an argument with
// capped equivalents (the same results within the caps).
func guardFuncs(maxBytes int) template.FuncMap {
	return template.FuncMap{
		"until": func(count int) ([]int, error) {
			step := 1
			if count < 0 {
				step = -1
			}
			return untilStep(0, count, step)
		},
		"untilStep": untilStep,
		"repeat": func(count int, str string) (string, error) {
			if count > 0 && len(str) > 0 && count > maxBytes/len(str) {
				return "", fmt.Errorf("repeat %d: the result would exceed the %d MiB output limit", count, maxBytes>>20)
			}
			return strings.Repeat(str, count), nil // panics on a negative count, as sprig's does
		},
	}
}

// untilStep is sprig's untilStep with a cap on the length of the list.
func untilStep(start, stop, step int) ([]int, error) {
	v := []int{}
	if (stop < start && step >= 0) || (stop >= start && step <= 0) {
		return v, nil
	}
	n := (stop - start) / step
	if n > maxRangeItems {
		return nil, fmt.Errorf("untilStep %d %d %d: more than %d items", start, stop, step, maxRangeItems)
	}
	if stop < start {
		for i := start; i > stop; i += step {
			v = append(v, i)
		}
		return v, nil
	}
	for i := start; i < stop; i += step {
		v = append(v, i)
	}
	return v, nil
}
