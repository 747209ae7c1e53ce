package parity

import (
	"fmt"

	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// pssVariant changes a compliant pod (spec, its first container, its metadata) to exercise one
// Pod Security control, passing or failing it.
type pssVariant struct {
	name string
	edit func(pod, c, meta map[string]any)
}

// sc returns m's securityContext, created when absent.
func sc(m map[string]any) map[string]any {
	if s, ok := m["securityContext"].(map[string]any); ok {
		return s
	}
	s := map[string]any{}
	m["securityContext"] = s
	return s
}

// pssVariants cover every control of the Pod Security Standards, with values on both sides of
// each line the library draws.
var pssVariants = []pssVariant{
	{"compliant", func(_, _, _ map[string]any) {}},
	{"host-network", func(p, _, _ map[string]any) { p["hostNetwork"] = true }},
	{"host-pid", func(p, _, _ map[string]any) { p["hostPID"] = true }},
	{"host-ipc", func(p, _, _ map[string]any) { p["hostIPC"] = true }},
	{"host-network-false", func(p, _, _ map[string]any) { p["hostNetwork"] = false }},
	{"privileged", func(_, c, _ map[string]any) { sc(c)["privileged"] = true }},
	{"privileged-false", func(_, c, _ map[string]any) { sc(c)["privileged"] = false }},
	{"host-process", func(p, _, _ map[string]any) { sc(p)["windowsOptions"] = map[string]any{"hostProcess": true} }},
	{"cap-add-net-bind", func(_, c, _ map[string]any) {
		sc(c)["capabilities"] = map[string]any{"drop": []any{"ALL"}, "add": []any{"NET_BIND_SERVICE"}}
	}},
	{"cap-add-chown", func(_, c, _ map[string]any) {
		sc(c)["capabilities"] = map[string]any{"drop": []any{"ALL"}, "add": []any{"CHOWN"}}
	}},
	{"cap-add-sys-admin", func(_, c, _ map[string]any) {
		sc(c)["capabilities"] = map[string]any{"drop": []any{"ALL"}, "add": []any{"SYS_ADMIN"}}
	}},
	{"cap-no-drop", func(_, c, _ map[string]any) { sc(c)["capabilities"] = map[string]any{"drop": []any{"NET_RAW"}} }},
	{"cap-missing", func(_, c, _ map[string]any) { delete(sc(c), "capabilities") }},
	{"host-path", func(p, _, _ map[string]any) {
		p["volumes"] = []any{map[string]any{"name": "h", "hostPath": map[string]any{"path": "/var"}}}
	}},
	{"volume-nfs", func(p, _, _ map[string]any) {
		p["volumes"] = []any{map[string]any{"name": "n", "nfs": map[string]any{"server": "nas", "path": "/"}}}
	}},
	{"volume-allowed", func(p, _, _ map[string]any) {
		p["volumes"] = []any{map[string]any{"name": "e", "emptyDir": map[string]any{}}, map[string]any{"name": "c", "configMap": map[string]any{"name": "x"}},
			map[string]any{"name": "p", "persistentVolumeClaim": map[string]any{"claimName": "x"}}, map[string]any{"name": "s", "secret": map[string]any{"secretName": "x"}}}
	}},
	{"host-port", func(_, c, _ map[string]any) {
		c["ports"] = []any{map[string]any{"containerPort": 80, "hostPort": 8080}}
	}},
	{"host-port-zero", func(_, c, _ map[string]any) {
		c["ports"] = []any{map[string]any{"containerPort": 80, "hostPort": 0}}
	}},
	{"apparmor-unconfined", func(p, _, _ map[string]any) { sc(p)["appArmorProfile"] = map[string]any{"type": "Unconfined"} }},
	{"apparmor-runtime-default", func(_, c, _ map[string]any) { sc(c)["appArmorProfile"] = map[string]any{"type": "RuntimeDefault"} }},
	{"apparmor-annotation-unconfined", func(_, _, m map[string]any) {
		m["annotations"] = map[string]any{"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
	}},
	{"apparmor-annotation-localhost", func(_, _, m map[string]any) {
		m["annotations"] = map[string]any{"container.apparmor.security.beta.kubernetes.io/app": "localhost/profile"}
	}},
	{"selinux-type-bad", func(_, c, _ map[string]any) { sc(c)["seLinuxOptions"] = map[string]any{"type": "spc_t"} }},
	{"selinux-type-ok", func(p, _, _ map[string]any) {
		sc(p)["seLinuxOptions"] = map[string]any{"type": "container_init_t", "level": "s0:c1"}
	}},
	{"selinux-user", func(p, _, _ map[string]any) { sc(p)["seLinuxOptions"] = map[string]any{"user": "root"} }},
	{"proc-mount-unmasked", func(_, c, _ map[string]any) { sc(c)["procMount"] = "Unmasked" }},
	{"proc-mount-default", func(_, c, _ map[string]any) { sc(c)["procMount"] = "Default" }},
	{"seccomp-unconfined-pod", func(p, _, _ map[string]any) { sc(p)["seccompProfile"] = map[string]any{"type": "Unconfined"} }},
	{"seccomp-unconfined-container", func(_, c, _ map[string]any) { sc(c)["seccompProfile"] = map[string]any{"type": "Unconfined"} }},
	{"seccomp-missing", func(p, _, _ map[string]any) { delete(sc(p), "seccompProfile") }},
	{"seccomp-container-localhost", func(p, c, _ map[string]any) {
		delete(sc(p), "seccompProfile")
		sc(c)["seccompProfile"] = map[string]any{"type": "Localhost", "localhostProfile": "p.json"}
	}},
	{"sysctl-safe", func(p, _, _ map[string]any) {
		sc(p)["sysctls"] = []any{map[string]any{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}}
	}},
	{"sysctl-unsafe", func(p, _, _ map[string]any) {
		sc(p)["sysctls"] = []any{map[string]any{"name": "kernel.msgmax", "value": "1"}}
	}},
	{"probe-host", func(_, c, _ map[string]any) {
		c["livenessProbe"] = map[string]any{"httpGet": map[string]any{"host": "10.0.0.1", "port": 80}}
	}},
	{"lifecycle-host", func(_, c, _ map[string]any) {
		c["lifecycle"] = map[string]any{"preStop": map[string]any{"tcpSocket": map[string]any{"host": "example.com", "port": 80}}}
	}},
	{"probe-no-host", func(_, c, _ map[string]any) {
		c["readinessProbe"] = map[string]any{"httpGet": map[string]any{"path": "/", "port": 80}}
	}},
	{"escalation-missing", func(_, c, _ map[string]any) { delete(sc(c), "allowPrivilegeEscalation") }},
	{"escalation-true", func(_, c, _ map[string]any) { sc(c)["allowPrivilegeEscalation"] = true }},
	{"non-root-false-pod", func(p, _, _ map[string]any) { sc(p)["runAsNonRoot"] = false }},
	{"non-root-missing", func(p, c, _ map[string]any) { delete(sc(p), "runAsNonRoot"); delete(sc(c), "runAsNonRoot") }},
	{"non-root-container-only", func(p, c, _ map[string]any) { delete(sc(p), "runAsNonRoot"); sc(c)["runAsNonRoot"] = true }},
	{"non-root-container-false", func(_, c, _ map[string]any) { sc(c)["runAsNonRoot"] = false }},
	{"run-as-user-zero", func(_, c, _ map[string]any) { sc(c)["runAsUser"] = 0 }},
	{"run-as-user-pod-zero", func(p, _, _ map[string]any) { sc(p)["runAsUser"] = 0 }},
	{"run-as-user-1000", func(p, _, _ map[string]any) { sc(p)["runAsUser"] = 1000 }},
	{"windows", func(p, c, _ map[string]any) {
		p["os"] = map[string]any{"name": "windows"}
		delete(sc(p), "seccompProfile")
		delete(sc(c), "allowPrivilegeEscalation")
		delete(sc(c), "capabilities")
	}},
	{"init-container-privileged", func(p, _, _ map[string]any) {
		p["initContainers"] = []any{map[string]any{"name": "init", "image": "registry.example.com/init:1.0.0",
			"securityContext": map[string]any{"privileged": true}}}
	}},
	{"ephemeral-container-escalation", func(p, _, _ map[string]any) {
		p["ephemeralContainers"] = []any{map[string]any{"name": "debug", "image": "registry.example.com/debug:1.0.0"}}
	}},
}

// pssInput is a repository whose one module owns a restricted, a baseline and a privileged
// namespace, with every variant as a Deployment in each, and as a Pod and a CronJob in the
// restricted one: the Pod Security controls of both targets meet the library here.
func pssInput() input {
	m := &module.Module{APIVersion: module.APIVersion, Kind: "Module", Metadata: module.Metadata{Name: "pss"},
		Spec: module.ModuleSpec{Type: module.Application, Version: "1.0.0", Namespaces: []module.Namespace{
			{Name: "pss-restricted"}, {Name: "pss-baseline", PodSecurity: module.Baseline, Reason: "test"},
			{Name: "pss-privileged", PodSecurity: module.Privileged, Reason: "test"}}}, Dir: "modules/apps/pss"}
	repo := rule.NewRepo(".", module.DefaultConfig(), []*module.Module{m})
	repo.Rendered["pss"] = true
	for _, v := range pssVariants {
		for _, ns := range []string{"pss-restricted", "pss-baseline", "pss-privileged"} {
			repo.Objects["pss"] = append(repo.Objects["pss"], pssObject(repo, m, v, "Deployment", ns))
		}
		for _, kind := range []string{"Pod", "CronJob"} {
			repo.Objects["pss"] = append(repo.Objects["pss"], pssObject(repo, m, v, kind, "pss-restricted"))
		}
	}
	return input{name: "synthetic/pod-security", repo: repo, units: 1}
}

// pssObject builds one variant as a kind in a namespace.
func pssObject(repo *rule.Repo, m *module.Module, v pssVariant, kind, ns string) *manifest.Object {
	c := map[string]any{"name": "app", "image": example.Image,
		"securityContext": map[string]any{"allowPrivilegeEscalation": false, "capabilities": map[string]any{"drop": []any{"ALL"}}, "runAsNonRoot": true},
		"resources":       map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "16Mi"}, "limits": map[string]any{"memory": "64Mi"}}}
	pod := map[string]any{"containers": []any{c},
		"securityContext": map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}}}
	podMeta := map[string]any{"labels": map[string]any{"app.kubernetes.io/name": v.name}}
	v.edit(pod, c, podMeta)
	labels := rule.ModuleLabels(repo, m)
	labels["app.kubernetes.io/name"] = v.name
	meta := map[string]any{"name": fmt.Sprintf("%s-%s", v.name, kindSuffix(kind)), "namespace": ns, "labels": labels}
	obj := map[string]any{"metadata": meta}
	template := map[string]any{"metadata": podMeta, "spec": pod}
	switch kind {
	case "Pod":
		obj["apiVersion"], obj["kind"], obj["spec"] = "v1", "Pod", pod
		if a, ok := podMeta["annotations"]; ok {
			meta["annotations"] = a
		}
	case "CronJob":
		obj["apiVersion"], obj["kind"] = "batch/v1", "CronJob"
		obj["spec"] = map[string]any{"schedule": "0 * * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": template}}}
	default:
		obj["apiVersion"], obj["kind"] = "apps/v1", "Deployment"
		obj["spec"] = map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": v.name}}, "template": template}
	}
	n, err := yaml.FromMap(obj)
	if err != nil {
		panic(err)
	}
	return &manifest.Object{Node: n, Module: "pss", Ref: manifest.RefOf(n)}
}

func kindSuffix(kind string) string {
	switch kind {
	case "Pod":
		return "pod"
	case "CronJob":
		return "cronjob"
	}
	return "deploy"
}
