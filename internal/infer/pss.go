package infer

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/module"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// privilegedCharts are charts whose pods need the privileged level with their default values
// (host networking, privileged containers, host paths): CNI, storage, node agents.
var privilegedCharts = map[string]string{
	"cilium":                        "the Cilium agent runs privileged with host networking",
	"rook-ceph":                     "the Ceph CSI plugins run privileged with host paths",
	"rook-ceph-cluster":             "the Ceph daemons use host paths and host networking",
	"longhorn":                      "the Longhorn manager and CSI plugin run privileged with host paths",
	"democratic-csi":                "the CSI node plugin runs privileged with host paths",
	"csi-driver-nfs":                "the CSI node plugin runs privileged with host paths",
	"csi-driver-smb":                "the CSI node plugin runs privileged with host paths",
	"node-feature-discovery":        "the worker reads host paths",
	"intel-device-plugins-operator": "the device plugins use host paths",
	"intel-device-plugins-gpu":      "the GPU plugin uses host paths",
	"spegel":                        "the registry mirror uses host paths and host ports",
	"metallb":                       "the speaker runs with host networking and NET_RAW",
	"kube-prometheus-stack":         "node-exporter uses host networking, host PID and host paths",
	"prometheus-node-exporter":      "node-exporter uses host networking, host PID and host paths",
	"multus":                        "the CNI plugin runs privileged with host paths",
	"kube-vip":                      "kube-vip runs with host networking and NET_ADMIN",
	"openebs":                       "the storage node agents run privileged",
	"nvidia-device-plugin":          "the device plugin uses host paths",
	"smartctl-exporter":             "the exporter reads host devices",
}

// evaluator is the pod-security-admission library's evaluator at its latest version.
var evaluator = sync.OnceValue(func() policy.Evaluator {
	e, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(fmt.Sprintf("pod security evaluator: %v", err)) // the library's own checks always validate
	}
	return e
})

// evidence is why a namespace needs a level looser than restricted.
type evidence struct {
	level  module.Level
	why    string
	source string
}

// podSecurity sets the level of every declared namespace without a pod-security label from
// evidence: the rendered pods placed in it, evaluated by the pod-security-admission library at
// restricted and baseline (the loosest level a pod needs wins), else the well-known privileged
// charts installed into it. A namespace without evidence stays restricted and is listed in
// Result.Defaulted.
func (in *inferrer) podSecurity() {
	for _, p := range in.res.Proposals {
		if p.Existing {
			continue
		}
		for i := range p.Module.Spec.Namespaces {
			ns := &p.Module.Spec.Namespaces[i]
			if in.labelled[ns.Name] {
				continue
			}
			ev := in.podEvidence(ns.Name)
			if ev == nil {
				ev = in.chartEvidence(ns.Name)
			}
			fi := p.namespaceFact(ns.Name)
			if ev == nil {
				in.res.Defaulted = append(in.res.Defaulted, p.Name()+"/"+ns.Name)
				if fi >= 0 {
					p.Facts[fi].Why = "Namespace object without a pod-security.kubernetes.io/enforce label, and no rendered pod or well-known chart shows that it needs more; restricted by default (a guess)"
				}
				continue
			}
			ns.PodSecurity = ev.level
			ns.Reason = ev.why + " (inferred by polc init from " + ev.source + "); confirm that its workloads need it"
			if fi >= 0 {
				p.Facts[fi].Value = ns.Name + " (" + string(ev.level) + ")"
				p.Facts[fi].Why = "Namespace object without a pod-security.kubernetes.io/enforce label; " + ev.why
				p.Facts[fi].Source = ev.source
			}
		}
	}
}

// namespaceFact returns the index of the spec.namespaces fact of ns, or -1.
func (p *Proposal) namespaceFact(ns string) int {
	for i, f := range p.Facts {
		if f.Field == "spec.namespaces" && strings.HasPrefix(f.Value, ns+" (") {
			return i
		}
	}
	return -1
}

// podEvidence evaluates every rendered pod placed in namespace ns and returns the loosest level
// one of them needs, or nil when all meet restricted.
func (in *inferrer) podEvidence(ns string) *evidence {
	var best *evidence
	for _, q := range in.res.Proposals {
		for _, o := range q.objects {
			if q.namespaceOf(o.Node) != ns {
				continue
			}
			meta, spec := podOf(o.Node, o.Ref.Group())
			if spec == nil {
				continue
			}
			level, reason := needed(meta, spec)
			if level == module.Restricted || best != nil && best.level.Rank() >= level.Rank() {
				continue
			}
			best = &evidence{level: level, source: posString(o.Pos),
				why: fmt.Sprintf("%s %s needs %s: %s", o.Ref.Kind, o.Ref.Name, level, reason)}
		}
	}
	return best
}

// needed returns the strictest level a pod meets, and what keeps it from the next stricter one.
func needed(meta *metav1.ObjectMeta, spec *corev1.PodSpec) (module.Level, string) {
	latest := psaapi.LatestVersion()
	if r := policy.AggregateCheckResults(evaluator().EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelBaseline, Version: latest}, meta, spec)); !r.Allowed {
		return module.Privileged, "it violates baseline (" + r.ForbiddenReason() + ")"
	}
	if r := policy.AggregateCheckResults(evaluator().EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: latest}, meta, spec)); !r.Allowed {
		return module.Baseline, "it violates restricted (" + r.ForbiddenReason() + ")"
	}
	return module.Restricted, ""
}

// podOf decodes the pod of a Pod or the pod template of a pod controller, or returns nil.
func podOf(n *yaml.RNode, group string) (*metav1.ObjectMeta, *corev1.PodSpec) {
	k, ok := kinds.Lookup(n.GetKind())
	if !ok || !k.Pod || !k.Served(group) {
		return nil, nil
	}
	node := n
	if len(k.Template) > 0 {
		t, err := n.Pipe(yaml.Lookup(k.Template...))
		if err != nil || t == nil || t.YNode().Kind != yaml.MappingNode {
			return nil, nil
		}
		node = t
	}
	meta, spec := &metav1.ObjectMeta{}, &corev1.PodSpec{}
	if m, _ := node.Pipe(yaml.Lookup("metadata")); m != nil {
		if b, err := m.MarshalJSON(); err != nil || json.Unmarshal(b, meta) != nil {
			return nil, nil
		}
	}
	s, _ := node.Pipe(yaml.Lookup("spec"))
	if s == nil || s.YNode().Kind != yaml.MappingNode {
		return nil, nil
	}
	if b, err := s.MarshalJSON(); err != nil || json.Unmarshal(b, spec) != nil {
		return nil, nil
	}
	return meta, spec
}

// chartEvidence returns privileged when a HelmRelease placed in ns (or installing into it)
// installs a well-known privileged chart.
func (in *inferrer) chartEvidence(ns string) *evidence {
	for _, q := range in.res.Proposals {
		for _, it := range q.items() {
			if !isKind(it.node, helmGroup, "HelmRelease") {
				continue
			}
			target := str(it.node, "spec", "targetNamespace")
			if target == "" {
				target = q.namespaceOf(it.node)
			}
			if target != ns {
				continue
			}
			chart, _ := in.chartOf(q, it)
			if why := privilegedCharts[chart]; why != "" {
				return &evidence{level: module.Privileged, source: posString(it.pos),
					why: fmt.Sprintf("HelmRelease %s installs the chart %s: %s", it.node.GetName(), chart, why)}
			}
		}
	}
	return nil
}
