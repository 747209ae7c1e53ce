package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"polc.dev/polc/internal/genfiles"
	"sigs.k8s.io/yaml"
)

// ErrKyvernoNotServed says that the API server does not serve a kind of the policy pack: Kyverno
// (its CustomResourceDefinitions) is not installed there.
var ErrKyvernoNotServed = errors.New("the API server does not serve Kyverno's policy kinds")

// exceptionKind is the kind of Kyverno's PolicyExceptions, in both of its API groups.
const exceptionKind = "PolicyException"

// settle is how long InstallPack waits after every policy is ready: PolicyExceptions have no
// status to wait for, and Kyverno's informers and its webhook configuration follow new policies
// and exceptions a moment after they are stored.
var settle = 2 * time.Second

// PackObject is one object of a compiled policy pack.
type PackObject struct {
	// File is the pack file that holds it, relative to the pack's directory.
	File string
	// Object is the object as the file writes it.
	Object *unstructured.Unstructured
}

// String names the object and its file: "ClusterPolicy polc-labels-module (labels/polc-labels-module.yaml)".
func (p PackObject) String() string {
	name := p.Object.GetName()
	if ns := p.Object.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s (%s)", p.Object.GetKind(), name, p.File)
}

// isException reports whether the object is a Kyverno PolicyException.
func (p PackObject) isException() bool {
	return p.Object.GetKind() == exceptionKind && strings.HasSuffix(p.Object.GroupVersionKind().Group, "kyverno.io")
}

// PackObjects returns the objects of a compiled pack (the files of pack.Build) that a cluster
// applies: those of the files that the pack's kustomization.yaml lists as resources, as Flux
// applies them; not kustomization.yaml itself, the README or the generated tests. Policies come
// first, then the PolicyExceptions that refer to them, each in the kustomization's order.
func PackObjects(files []genfiles.File) ([]PackObject, error) {
	data := map[string][]byte{}
	for _, f := range files {
		data[f.Path] = f.Data
	}
	k, ok := data["kustomization.yaml"]
	if !ok {
		return nil, errors.New("the policy pack has no kustomization.yaml")
	}
	var kust struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(k, &kust); err != nil {
		return nil, fmt.Errorf("policy pack kustomization.yaml: %w", err)
	}
	var out []PackObject
	for _, r := range kust.Resources {
		p := path.Clean(r)
		d, ok := data[p]
		if !ok {
			return nil, fmt.Errorf("policy pack kustomization.yaml: resource %s is not a file of the pack", r)
		}
		objs, err := decodeAll(p, d)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	slices.SortStableFunc(out, func(a, b PackObject) int { return packRank(a) - packRank(b) })
	return out, nil
}

// packRank orders pack objects: policies, then PolicyExceptions.
func packRank(p PackObject) int {
	if p.isException() {
		return 1
	}
	return 0
}

// maxPackDoc bounds the size of one YAML document of a pack file while decoding it.
const maxPackDoc = 4 << 20

// decodeAll decodes the YAML documents of the pack file name; an empty document is skipped, a
// document without apiVersion, kind or name is an error.
func decodeAll(name string, data []byte) ([]PackObject, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), maxPackDoc)
	var out []PackObject
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("policy pack %s: %w", name, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("policy pack %s: a document without apiVersion, kind or metadata.name", name)
		}
		out = append(out, PackObject{File: name, Object: u})
	}
}

// InstalledPack is a policy pack that InstallPack applied; Remove deletes it again.
type InstalledPack struct {
	r *run
}

// InstallPack applies the objects of a policy pack (in the order of PackObjects) with server-side
// apply, each labelled RunLabel with the run's ID, and waits until every policy is ready, each
// for at most the run's wait. When the API server serves a kind of the pack not at all, it applies
// nothing and returns an error that wraps ErrKyvernoNotServed. An object of the pack that exists
// without this run's label is left untouched and fails the installation: the cluster has a pack
// already. On any error, InstallPack removes what it applied before it returns.
func (c *Cluster) InstallPack(ctx context.Context, objs []PackObject) (*InstalledPack, error) {
	t0 := time.Now()
	p := &InstalledPack{r: &run{c: c}}
	c.mapper.Reset()
	mappings, err := c.packMappings(objs)
	if err != nil {
		return nil, err
	}
	if err := p.install(ctx, objs, mappings); err != nil {
		return nil, errors.Join(err, p.Remove(ctx))
	}
	fmt.Fprintf(c.opt.Progress, "polc test: policy pack installed (%d objects, every policy ready) in %.1fs\n", len(objs), time.Since(t0).Seconds())
	return p, nil
}

// packMappings finds the resource of each pack object's kind; the kinds the server does not serve
// are one error that wraps ErrKyvernoNotServed.
func (c *Cluster) packMappings(objs []PackObject) ([]*meta.RESTMapping, error) {
	out := make([]*meta.RESTMapping, len(objs))
	var missing []string
	for i, o := range objs {
		gvk := o.Object.GroupVersionKind()
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case meta.IsNoMatchError(err):
			if k := gvk.Kind + " (" + gvk.GroupVersion().String() + ")"; !slices.Contains(missing, k) {
				missing = append(missing, k)
			}
		case err != nil:
			return nil, fmt.Errorf("%s: %w", o, err)
		}
		out[i] = m
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no %s", ErrKyvernoNotServed, strings.Join(missing, ", no "))
	}
	return out, nil
}

// install applies the objects, then waits until the policies are ready and Kyverno has settled.
func (p *InstalledPack) install(ctx context.Context, objs []PackObject, mappings []*meta.RESTMapping) error {
	for i, o := range objs {
		if err := p.apply(ctx, o, mappings[i]); err != nil {
			return err
		}
	}
	for i, o := range objs {
		if !o.isException() {
			if err := p.waitReady(ctx, o, mappings[i]); err != nil {
				return err
			}
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(settle):
		return nil
	}
}

// apply applies one pack object with server-side apply, labelled with the run's ID.
func (p *InstalledPack) apply(ctx context.Context, o PackObject, m *meta.RESTMapping) error {
	obj := o.Object.DeepCopy()
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RunLabel] = p.r.c.opt.RunID
	obj.SetLabels(labels)
	ns := namespaceOf(o, m)
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	ri := p.r.c.dyn.Resource(m.Resource).Namespace(ns)
	switch err := p.r.claim(ctx, ri, obj.GetName()); {
	case errors.Is(err, errNotOurs):
		return fmt.Errorf("%s %w (the cluster has a policy pack installed already)", o, err)
	case err != nil:
		return fmt.Errorf("%s: %w", o, err)
	}
	if err := p.r.serverApply(ctx, ri, created{gvr: m.Resource, namespace: ns, name: obj.GetName(), kind: obj.GetKind()}, body); err != nil {
		return fmt.Errorf("apply %s: %w", o, err)
	}
	return nil
}

// namespaceOf is the namespace of a pack object of a namespaced kind, else "".
func namespaceOf(o PackObject, m *meta.RESTMapping) string {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return o.Object.GetNamespace()
	}
	return ""
}

// waitReady polls a policy until Kyverno reports it ready, for at most the run's wait.
func (p *InstalledPack) waitReady(ctx context.Context, o PackObject, m *meta.RESTMapping) error {
	wait := p.r.c.opt.Wait
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ri := p.r.c.dyn.Resource(m.Resource).Namespace(namespaceOf(o, m))
	for {
		u, err := ri.Get(ctx, o.Object.GetName(), metav1.GetOptions{})
		var why string
		if err == nil {
			var ready bool
			if ready, why = policyReady(u); ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if why == "" {
				why = "Kyverno reported no status: does Kyverno run in this cluster?"
			}
			if err != nil {
				why = err.Error()
			}
			return fmt.Errorf("%s not ready after %s: %s", o, wait, why)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// policyReady reports whether Kyverno reports a policy ready: a ClusterPolicy (or Policy) by its
// Ready condition, a ValidatingPolicy by status.conditionStatus.ready. When it is not, the
// message says why, when Kyverno says so.
func policyReady(u *unstructured.Unstructured) (bool, string) {
	if ready, found, _ := unstructured.NestedBool(u.Object, "status", "conditionStatus", "ready"); found {
		if ready {
			return true, ""
		}
		return false, conditionMessages(u, "status", "conditionStatus", "conditions")
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" {
			msg, _ := m["message"].(string)
			return m["status"] == "True", msg
		}
	}
	return false, ""
}

// conditionMessages joins the messages of the conditions at fields that are not True.
func conditionMessages(u *unstructured.Unstructured, fields ...string) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, fields...)
	var msgs []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if msg, _ := m["message"].(string); msg != "" && m["status"] != "True" {
			msgs = append(msgs, msg)
		}
	}
	return strings.Join(msgs, "; ")
}

// Remove deletes what InstallPack applied (each object only while it carries this run's label)
// and waits until it is gone. It is safe to call more than once, and it is not interrupted by
// the cancellation of ctx: the cluster must not keep policies of a finished run.
func (p *InstalledPack) Remove(ctx context.Context) error {
	if p == nil || len(p.r.created) == 0 {
		return nil
	}
	err := p.r.cleanup(context.WithoutCancel(ctx))
	p.r.created = nil
	if err != nil {
		return fmt.Errorf("remove the policy pack: %w", err)
	}
	fmt.Fprintln(p.r.c.opt.Progress, "polc test: policy pack removed")
	return nil
}
