package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/yaml"
)

// RunLabel is the label that polc puts on every object it creates in a test run; its value is
// the run's ID. polc deletes only objects that carry it with its own run's ID.
const RunLabel = "polc.dev/test-run"

// fieldManager is the server-side apply field manager of polc's objects.
const fieldManager = "polc"

// Platform API groups are served by the cluster's own Flux installation, which deploys modules;
// no module declares them, and polc test serves them with schemaless CustomResourceDefinitions.
var platformGroups = []string{
	"helm.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io",
	"notification.toolkit.fluxcd.io", "source.toolkit.fluxcd.io",
}

// Options tune a test run.
type Options struct {
	// RunID is the value of RunLabel on the objects of this run.
	RunID string
	// Wait bounds each wait: a CRD becoming Established, an object going away.
	Wait time.Duration
	// NoControllers says that the API server runs no controllers (a local control plane): polc
	// then removes the finalizers of the objects it deletes and finalizes deleted namespaces
	// itself, which the namespace controller and the PVC protection controller would do.
	NoControllers bool
	// Progress receives one line per step; nil discards it.
	Progress io.Writer
}

// Cluster applies plans to one API server.
type Cluster struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	opt    Options
}

// NewCluster returns a cluster for the API server of cfg.
func NewCluster(cfg *rest.Config, opt Options) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 500, 1000
	// Deprecation warnings (kyverno.io/v1 ClusterPolicy, say) would flood stderr through klog.
	cfg.WarningHandler = rest.NoWarnings{}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if opt.Wait <= 0 {
		opt.Wait = time.Minute
	}
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	return &Cluster{dyn: dyn, mapper: mapper, opt: opt}, nil
}

// created is an object that this run created, to delete at the end of the module's test.
type created struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
	kind      string
}

// run is the state of one module's test.
type run struct {
	c        *Cluster
	plan     Plan
	res      *Result
	created  []created
	provided map[string]bool
	stubbed  map[schema.GroupKind]bool
}

// Run applies plan and deletes what it created again. The context bounds the whole test.
func (c *Cluster) Run(ctx context.Context, plan Plan) Result {
	t0 := time.Now()
	res := Result{Module: plan.Module}
	r := &run{c: c, plan: plan, res: &res, provided: map[string]bool{}, stubbed: map[schema.GroupKind]bool{}}
	for _, g := range append(slices.Clone(plan.Provided), platformGroups...) {
		r.provided[g] = true
	}
	c.mapper.Reset() // the previous test deleted its CRDs
	for _, n := range plan.Unrendered {
		res.Errors = append(res.Errors, fmt.Sprintf("module %s does not render: its objects are missing from the test", n))
	}
	for _, s := range plan.Steps {
		res.Modules = append(res.Modules, s.Module)
		if ctx.Err() != nil {
			res.Errors = append(res.Errors, "interrupted: "+ctx.Err().Error())
			break
		}
		fmt.Fprintf(c.opt.Progress, "polc test %s: applying %s (%d objects)\n", plan.Module, s.Module, len(s.Objects))
		r.step(ctx, s)
	}
	if err := r.cleanup(context.WithoutCancel(ctx)); err != nil {
		res.Errors = append(res.Errors, "cleanup: "+err.Error())
	}
	res.Seconds = elapsed(time.Since(t0))
	return res
}

// step applies the objects of one module: CRDs, waiting until they are Established, then the rest.
func (r *run) step(ctx context.Context, s Step) {
	var crds []*manifest.Object
	for _, o := range s.Objects {
		if isCRD(o.Ref) {
			crds = append(crds, o)
		}
	}
	for _, o := range crds {
		r.apply(ctx, s, o)
	}
	if len(crds) > 0 {
		for _, o := range crds {
			if err := r.waitEstablished(ctx, o.Ref.Name); err != nil {
				r.res.Errors = append(r.res.Errors, fmt.Sprintf("%s: %s: %v", o.Pos, o.Ref, err))
			}
		}
		r.c.mapper.Reset()
	}
	for _, o := range s.Objects {
		if !isCRD(o.Ref) {
			r.apply(ctx, s, o)
		}
	}
}

// apply applies one object of step s with server-side apply and strict field validation.
func (r *run) apply(ctx context.Context, s Step, o *manifest.Object) {
	mapping, err := r.mapping(ctx, o)
	if err != nil {
		if meta.IsNoMatchError(err) {
			gv, _ := schema.ParseGroupVersion(o.Ref.APIVersion)
			r.res.Unserved = append(r.res.Unserved, newProblem(o, fmt.Sprintf(
				"kind %s of group %s is not served: no declared dependency provides it", o.Ref.Kind, groupName(gv.Group)), ""))
			return
		}
		r.res.Errors = append(r.res.Errors, newProblem(o, err.Error(), "").String())
		return
	}
	ns := ""
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = o.Ref.Namespace
		if ns == "" {
			ns = metav1.NamespaceDefault
		}
	}
	body, err := r.body(o, ns, s.FluxName)
	if err != nil {
		r.res.Errors = append(r.res.Errors, newProblem(o, err.Error(), "").String())
		return
	}
	ri := r.c.dyn.Resource(mapping.Resource).Namespace(ns)
	if err := r.claim(ctx, ri, o.Ref.Name); err != nil {
		r.res.Errors = append(r.res.Errors, newProblem(o, err.Error(), "").String())
		return
	}
	if err := r.serverApply(ctx, ri, created{gvr: mapping.Resource, namespace: ns, name: o.Ref.Name, kind: o.Ref.Kind}, body); err != nil {
		r.res.Rejected = append(r.res.Rejected, rejection(o, err))
		return
	}
	r.res.Applied++
}

// errNotOurs is claim's error for an object that exists without the run's label.
var errNotOurs = errors.New("exists in the cluster and was not created by this test run: left untouched")

// claim checks that the object name of ri is absent or was created by this run: an object that
// exists without the run's label is errNotOurs (polc never applies over it); an error reading it
// is returned as it is.
func (r *run) claim(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	cur, err := ri.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case cur.GetLabels()[RunLabel] != r.c.opt.RunID:
		return errNotOurs
	}
	return nil
}

// serverApply applies body as the object c of ri with server-side apply and strict field
// validation, and records c for the run's cleanup.
func (r *run) serverApply(ctx context.Context, ri dynamic.ResourceInterface, c created, body []byte) error {
	force := true
	if _, err := ri.Patch(ctx, c.name, types.ApplyPatchType, body, metav1.PatchOptions{
		FieldManager: fieldManager, Force: &force, FieldValidation: "Strict"}); err != nil {
		return err
	}
	r.created = append(r.created, c)
	return nil
}

// groupName names an API group in messages; the core group is "core".
func groupName(g string) string {
	if g == "" {
		return "core"
	}
	return g
}

// mapping finds the resource of o's kind. A kind of a group that a module of the plan provides
// (provides.apis) or that the platform serves, but that no applied CRD defines (its CRDs come
// from a Helm chart that polc does not render, say), is served by a schemaless stub CRD.
func (r *run) mapping(ctx context.Context, o *manifest.Object) (*meta.RESTMapping, error) {
	gv, err := schema.ParseGroupVersion(o.Ref.APIVersion)
	if err != nil {
		return nil, err
	}
	gk := gv.WithKind(o.Ref.Kind).GroupKind()
	m, err := r.c.mapper.RESTMapping(gk, gv.Version)
	if err == nil || !meta.IsNoMatchError(err) || !r.provided[gv.Group] || r.stubbed[gk] {
		return m, err
	}
	r.stubbed[gk] = true
	if err := r.stub(ctx, gv.WithKind(o.Ref.Kind), o.Ref.Namespace != "", why(gv.Group)); err != nil {
		return nil, err
	}
	r.c.mapper.Reset()
	return r.c.mapper.RESTMapping(gk, gv.Version)
}

// crdGVR is the resource of CustomResourceDefinitions.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// stub creates a schemaless CRD for gvk and waits until it is Established.
func (r *run) stub(ctx context.Context, gvk schema.GroupVersionKind, namespaced bool, reason string) error {
	crd := stubCRD(gvk, namespaced, r.c.opt.RunID)
	name := crd["metadata"].(map[string]any)["name"].(string)
	body, err := json.Marshal(crd)
	if err != nil {
		return err
	}
	force := true
	ri := r.c.dyn.Resource(crdGVR)
	if _, err := ri.Get(ctx, name, metav1.GetOptions{}); err == nil {
		return fmt.Errorf("CustomResourceDefinition %s exists without serving %s: left untouched", name, gvk)
	}
	if _, err := ri.Patch(ctx, name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
		return fmt.Errorf("stub CustomResourceDefinition for %s: %w", gvk, err)
	}
	r.created = append(r.created, created{gvr: crdGVR, name: name, kind: "CustomResourceDefinition"})
	fmt.Fprintf(r.c.opt.Progress, "polc test %s: %s served by a schemaless CustomResourceDefinition (%s)\n", r.plan.Module, gvk.GroupKind(), reason)
	return r.waitEstablished(ctx, name)
}

// stubCRD is a schemaless CustomResourceDefinition (any spec is stored) that serves gvk, labelled
// with RunLabel=runID unless runID is empty.
func stubCRD(gvk schema.GroupVersionKind, namespaced bool, runID string) map[string]any {
	singular := strings.ToLower(gvk.Kind)
	plural := pluralOf(singular)
	scope := "Cluster"
	if namespaced {
		scope = "Namespaced"
	}
	meta := map[string]any{"name": plural + "." + gvk.Group}
	if runID != "" {
		meta["labels"] = map[string]any{RunLabel: runID}
	}
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": meta,
		"spec": map[string]any{
			"group": gvk.Group, "scope": scope,
			"names": map[string]any{"kind": gvk.Kind, "listKind": gvk.Kind + "List", "plural": plural, "singular": singular},
			"versions": []any{map[string]any{
				"name": gvk.Version, "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}
}

// why says where a stubbed group comes from.
func why(group string) string {
	if slices.Contains(platformGroups, group) {
		return "a Flux API, served by the cluster that deploys modules"
	}
	return "declared in provides.apis of a module of the plan, with no CRD rendered"
}

// pluralOf is the conventional plural of a lower-case kind.
func pluralOf(s string) string {
	switch {
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}

// body is o as JSON for server-side apply, with the namespace ns and the labels RunLabel and, as
// Flux sets it, rule.FluxNameLabel with fluxName (when not empty): the module's Flux Kustomization.
func (r *run) body(o *manifest.Object, ns, fluxName string) ([]byte, error) {
	s, err := o.Node.String()
	if err != nil {
		return nil, err
	}
	var u map[string]any
	if err := yaml.Unmarshal([]byte(s), &u); err != nil {
		return nil, err
	}
	obj := unstructured.Unstructured{Object: u}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RunLabel] = r.c.opt.RunID
	if fluxName != "" {
		labels[rule.FluxNameLabel] = fluxName
	}
	obj.SetLabels(labels)
	if ns != "" {
		obj.SetNamespace(ns)
	}
	return json.Marshal(obj.Object)
}

// waitEstablished polls the CRD name until its Established condition is True, for at most the
// run's wait.
func (r *run) waitEstablished(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, r.c.opt.Wait)
	defer cancel()
	for {
		u, err := r.c.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err == nil && established(u) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("CustomResourceDefinition %s not Established: %w", name, err)
			}
			return fmt.Errorf("CustomResourceDefinition %s not Established after %s", name, r.c.opt.Wait)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// established reports whether a CRD's Established condition is True.
func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// cleanup deletes what the run created, newest first, namespaces last, each only when it still
// carries this run's label, and waits until they are gone.
func (r *run) cleanup(ctx context.Context) error {
	order := slices.Clone(r.created)
	slices.Reverse(order)
	slices.SortStableFunc(order, func(a, b created) int { return cleanupRank(a) - cleanupRank(b) })
	var errs []error
	for _, c := range order {
		if err := r.delete(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range order {
		if err := r.waitGone(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cleanupRank orders deletion: namespaced objects, cluster-scoped objects, CRDs, namespaces.
func cleanupRank(c created) int {
	switch {
	case c.gvr == crdGVR:
		return 2
	case c.kind == "Namespace" && c.gvr.Group == "":
		return 3
	case c.namespace == "":
		return 1
	}
	return 0
}

// delete deletes one created object when it still carries this run's label.
func (r *run) delete(ctx context.Context, c created) error {
	ri := r.c.dyn.Resource(c.gvr).Namespace(c.namespace)
	cur, err := ri.Get(ctx, c.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.GetLabels()[RunLabel] != r.c.opt.RunID {
		return nil // not ours (any more): never touched
	}
	bg := metav1.DeletePropagationBackground
	uid := cur.GetUID()
	err = ri.Delete(ctx, c.name, metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", c.kind, c.name, err)
	}
	if !r.c.opt.NoControllers {
		return nil
	}
	if c.kind == "Namespace" && c.gvr.Group == "" {
		return r.finalize(ctx, c.name)
	}
	return r.dropFinalizers(ctx, ri, c)
}

// dropFinalizers removes the finalizers of a deleted object that still has them (a
// PersistentVolumeClaim's kubernetes.io/pvc-protection, say) when no controller will.
func (r *run) dropFinalizers(ctx context.Context, ri dynamic.ResourceInterface, c created) error {
	cur, err := ri.Get(ctx, c.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && len(cur.GetFinalizers()) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, c.name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove the finalizers of %s %s: %w", c.kind, c.name, err)
	}
	return nil
}

// finalize empties the spec.finalizers of a deleted namespace, which a namespace controller does
// once the namespace is empty; a local control plane runs none.
func (r *run) finalize(ctx context.Context, name string) error {
	ri := r.c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	cur, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := unstructured.SetNestedSlice(cur.Object, []any{}, "spec", "finalizers"); err != nil {
		return err
	}
	_, err = ri.Update(ctx, cur, metav1.UpdateOptions{}, "finalize")
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalize namespace %s: %w", name, err)
	}
	return nil
}

// waitGone polls until a deleted object is gone, for at most the run's wait.
func (r *run) waitGone(ctx context.Context, c created) error {
	ctx, cancel := context.WithTimeout(ctx, r.c.opt.Wait)
	defer cancel()
	ri := r.c.dyn.Resource(c.gvr).Namespace(c.namespace)
	for {
		cur, err := ri.Get(ctx, c.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && cur.GetLabels()[RunLabel] != r.c.opt.RunID) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s still there after %s", c.kind, c.name, r.c.opt.Wait)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
