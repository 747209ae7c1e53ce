package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/testutil"
)

// pssImage is a pinned image, so that the image rules stay quiet.
const pssImage = "registry.example.com/app:1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// pssCase is one Pod Security Standards control: a pod that passes it and one that fails it, at
// the level the control belongs to. Both start from a pod that meets that level.
type pssCase struct {
	name string
	// level is baseline or restricted: the level of the namespace the pods run in.
	level string
	// control is the forbidden reason the pod-security-admission library reports for the control.
	control string
	// pass and fail change the compliant base pod.
	pass, fail func(p pod)
}

// pod is a Pod manifest under construction.
type pod map[string]any

func (p pod) spec() map[string]any { return p["spec"].(map[string]any) }

func (p pod) container() map[string]any {
	return p.spec()["containers"].([]any)[0].(map[string]any)
}

// podSC and containerSC return the pod's or the container's securityContext, created when absent.
func (p pod) podSC() map[string]any       { return child(p.spec(), "securityContext") }
func (p pod) containerSC() map[string]any { return child(p.container(), "securityContext") }

func child(m map[string]any, key string) map[string]any {
	if c, ok := m[key].(map[string]any); ok {
		return c
	}
	c := map[string]any{}
	m[key] = c
	return c
}

// basePod returns a pod that meets the level: baseline sets nothing special, restricted sets what
// the restricted level requires.
func basePod(name, ns, level string) pod {
	c := map[string]any{
		"name":  "app",
		"image": pssImage,
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "10m", "memory": "16Mi"},
			"limits":   map[string]any{"memory": "64Mi"},
		},
	}
	spec := map[string]any{"containers": []any{c}}
	if level == "restricted" {
		spec["securityContext"] = map[string]any{
			"runAsNonRoot":   true,
			"runAsUser":      1000,
			"seccompProfile": map[string]any{"type": "RuntimeDefault"},
		}
		c["securityContext"] = map[string]any{
			"allowPrivilegeEscalation": false,
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
		}
	}
	return pod{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata": map[string]any{
			"name":      name,
			"namespace": ns,
			"labels":    map[string]any{"app.kubernetes.io/name": name},
		},
		"spec": spec,
	}
}

// pssCases covers every control of the baseline and restricted levels.
var pssCases = []pssCase{
	// baseline
	{name: "host-network", level: "baseline", control: "host namespaces",
		pass: func(p pod) { p.spec()["hostNetwork"] = false },
		fail: func(p pod) { p.spec()["hostNetwork"] = true }},
	{name: "host-pid", level: "baseline", control: "host namespaces",
		pass: func(p pod) { p.spec()["hostPID"] = false },
		fail: func(p pod) { p.spec()["hostPID"] = true }},
	{name: "host-ipc", level: "baseline", control: "host namespaces",
		pass: func(p pod) { p.spec()["hostIPC"] = false },
		fail: func(p pod) { p.spec()["hostIPC"] = true }},
	{name: "privileged", level: "baseline", control: "privileged",
		pass: func(p pod) { p.containerSC()["privileged"] = false },
		fail: func(p pod) { p.containerSC()["privileged"] = true }},
	{name: "capabilities-baseline", level: "baseline", control: "non-default capabilities",
		pass: func(p pod) {
			p.containerSC()["capabilities"] = map[string]any{"add": []any{"CHOWN", "NET_BIND_SERVICE"}}
		},
		fail: func(p pod) { p.containerSC()["capabilities"] = map[string]any{"add": []any{"SYS_ADMIN"}} }},
	{name: "host-path", level: "baseline", control: "hostPath volumes",
		pass: func(p pod) { p.spec()["volumes"] = []any{map[string]any{"name": "data", "emptyDir": map[string]any{}}} },
		fail: func(p pod) {
			p.spec()["volumes"] = []any{map[string]any{"name": "data", "hostPath": map[string]any{"path": "/var/lib"}}}
		}},
	{name: "host-ports", level: "baseline", control: "hostPort",
		pass: func(p pod) { p.container()["ports"] = []any{map[string]any{"containerPort": 8080}} },
		fail: func(p pod) { p.container()["ports"] = []any{map[string]any{"containerPort": 8080, "hostPort": 8080}} }},
	{name: "apparmor-field", level: "baseline", control: "forbidden AppArmor profile",
		pass: func(p pod) { p.containerSC()["appArmorProfile"] = map[string]any{"type": "RuntimeDefault"} },
		fail: func(p pod) { p.containerSC()["appArmorProfile"] = map[string]any{"type": "Unconfined"} }},
	{name: "apparmor-annotation", level: "baseline", control: "forbidden AppArmor profile",
		pass: func(p pod) {
			p["metadata"].(map[string]any)["annotations"] = map[string]any{"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"}
		},
		fail: func(p pod) {
			p["metadata"].(map[string]any)["annotations"] = map[string]any{"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
		}},
	{name: "selinux", level: "baseline", control: "seLinuxOptions",
		pass: func(p pod) {
			p.containerSC()["seLinuxOptions"] = map[string]any{"type": "container_t", "level": "s0:c123,c456"}
		},
		fail: func(p pod) { p.containerSC()["seLinuxOptions"] = map[string]any{"type": "spc_t"} }},
	{name: "selinux-user", level: "baseline", control: "seLinuxOptions",
		pass: func(p pod) { p.podSC()["seLinuxOptions"] = map[string]any{"type": "container_init_t"} },
		fail: func(p pod) { p.podSC()["seLinuxOptions"] = map[string]any{"user": "system_u"} }},
	{name: "proc-mount", level: "baseline", control: "procMount",
		pass: func(p pod) { p.containerSC()["procMount"] = "Default" },
		fail: func(p pod) { p.containerSC()["procMount"] = "Unmasked" }},
	{name: "seccomp-baseline", level: "baseline", control: "seccompProfile",
		pass: func(p pod) { p.podSC()["seccompProfile"] = map[string]any{"type": "RuntimeDefault"} },
		fail: func(p pod) { p.containerSC()["seccompProfile"] = map[string]any{"type": "Unconfined"} }},
	{name: "sysctls", level: "baseline", control: "forbidden sysctls",
		pass: func(p pod) {
			p.podSC()["sysctls"] = []any{map[string]any{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}}
		},
		fail: func(p pod) { p.podSC()["sysctls"] = []any{map[string]any{"name": "vm.swappiness", "value": "10"}} }},
	{name: "probe-host", level: "baseline", control: "probe or lifecycle host",
		pass: func(p pod) {
			p.container()["livenessProbe"] = map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080}}
		},
		fail: func(p pod) {
			p.container()["livenessProbe"] = map[string]any{"httpGet": map[string]any{"host": "10.0.0.1", "path": "/healthz", "port": 8080}}
		}},
	// restricted
	{name: "volume-types", level: "restricted", control: "restricted volume types",
		pass: func(p pod) {
			p.spec()["volumes"] = []any{
				map[string]any{"name": "cache", "emptyDir": map[string]any{}},
				map[string]any{"name": "config", "configMap": map[string]any{"name": "app"}},
				map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "data"}},
			}
		},
		fail: func(p pod) {
			p.spec()["volumes"] = []any{map[string]any{"name": "share", "nfs": map[string]any{"server": "nas", "path": "/export"}}}
		}},
	{name: "privilege-escalation", level: "restricted", control: "allowPrivilegeEscalation != false",
		pass: func(p pod) { p.containerSC()["allowPrivilegeEscalation"] = false },
		fail: func(p pod) { p.containerSC()["allowPrivilegeEscalation"] = true }},
	{name: "run-as-non-root", level: "restricted", control: "runAsNonRoot != true",
		pass: func(p pod) { delete(p.podSC(), "runAsNonRoot"); p.containerSC()["runAsNonRoot"] = true },
		fail: func(p pod) { p.podSC()["runAsNonRoot"] = false }},
	{name: "run-as-user-0", level: "restricted", control: "runAsUser=0",
		pass: func(p pod) { p.containerSC()["runAsUser"] = 65534 },
		fail: func(p pod) { p.containerSC()["runAsUser"] = 0 }},
	{name: "seccomp-restricted", level: "restricted", control: "seccompProfile",
		pass: func(p pod) {
			delete(p.podSC(), "seccompProfile")
			p.containerSC()["seccompProfile"] = map[string]any{"type": "Localhost", "localhostProfile": "profiles/app.json"}
		},
		fail: func(p pod) { delete(p.podSC(), "seccompProfile") }},
	{name: "capabilities-restricted", level: "restricted", control: "unrestricted capabilities",
		pass: func(p pod) {
			p.containerSC()["capabilities"] = map[string]any{"drop": []any{"ALL"}, "add": []any{"NET_BIND_SERVICE"}}
		},
		fail: func(p pod) { p.containerSC()["capabilities"] = map[string]any{"drop": []any{"NET_RAW"}} }},
}

// pssNamespaces maps a level to the namespace and module of the generated repository.
var pssNamespaces = map[string]struct{ ns, module, dir, typ, extra string }{
	"baseline":   {ns: "loose", module: "loose-core", dir: "modules/infrastructure/loose-core", typ: "infrastructure", extra: "  tier: core\n"},
	"restricted": {ns: "strict", module: "strict", dir: "modules/apps/strict", typ: "application"},
}

// writePSSRepo writes a repository with a baseline and a restricted namespace and, for every case,
// a passing and a failing Pod in the namespace of its level.
func writePSSRepo(t *testing.T) string {
	t.Helper()
	pods := map[string][]string{}
	for _, c := range pssCases {
		ns := pssNamespaces[c.level].ns
		for suffix, change := range map[string]func(pod){"pass": c.pass, "fail": c.fail} {
			p := basePod(c.name+"-"+suffix, ns, c.level)
			change(p)
			b, err := json.MarshalIndent(p, "", "  ")
			require.NoError(t, err)
			pods[c.level] = append(pods[c.level], string(b))
		}
	}
	files := map[string]string{}
	for level, n := range pssNamespaces {
		reason := ""
		if level != "restricted" {
			reason = "      podSecurity: " + level + "\n      reason: node agents\n"
		}
		files[n.dir+"/module.yaml"] = "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: " + n.module + "\nspec:\n  type: " + n.typ + "\n" + n.extra +
			"  version: 1.0.0\n  description: Pod Security controls\n  namespaces:\n    - name: " + n.ns + "\n" + reason
		files[n.dir+"/CHANGELOG.md"] = "# Changelog\n\n## 1.0.0\n\n- First release.\n"
		files[n.dir+"/kustomization.yaml"] = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n  - pairs:\n" +
			"      polc.dev/module: " + n.module + "\n      polc.dev/module-type: " + n.typ + "\nresources:\n  - namespace.yaml\n  - pods.yaml\n"
		files[n.dir+"/namespace.yaml"] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + n.ns +
			"\n  annotations:\n    polc.dev/depends-on: \"\"\n  labels:\n    pod-security.kubernetes.io/enforce: " + level + "\n"
		files[n.dir+"/pods.yaml"] = strings.Join(pods[level], "\n---\n") + "\n"
	}
	return testutil.WriteRepo(t, files)
}

// controls splits the library's detail (reason (detail), reason (detail), ...) into the reasons.
func controls(detail string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(detail); i++ {
		switch detail[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, detail[start:i])
				start = i + 2
			}
		}
	}
	out = append(out, detail[start:])
	for i, c := range out {
		out[i], _, _ = strings.Cut(c, " (")
	}
	return out
}

// TestPodSecurityControls runs polc check on a repository holding, for every Pod Security
// Standards control, a pod that passes it and one that fails it: each failing pod is reported with
// exactly its control, at its namespace's level, and no passing pod is reported.
func TestPodSecurityControls(t *testing.T) {
	root := writePSSRepo(t)
	res := Polc(t, root, "check", "--format", "json")
	require.Empty(t, res.Stderr)
	require.Equal(t, 1, res.Code, res.Stdout)
	var rep report.JSONReport
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep))
	got := map[string][]string{}
	for _, f := range rep.Findings {
		require.NotNil(t, f.Object, "finding without object: %+v", f)
		require.Equal(t, "security/pod-security", f.Rule, "unexpected finding: %+v", f)
		got[f.Object.Name] = append(got[f.Object.Name], f.Message)
	}
	for _, c := range pssCases {
		t.Run(c.name, func(t *testing.T) {
			require.Empty(t, got[c.name+"-pass"], "the passing pod is reported")
			msgs := got[c.name+"-fail"]
			require.Len(t, msgs, 1, "the failing pod is not reported once")
			prefix := `pod template violates PodSecurity "` + c.level + `:latest" (declared for namespace ` + pssNamespaces[c.level].ns + ` by module ` + pssNamespaces[c.level].module + `): `
			require.True(t, strings.HasPrefix(msgs[0], prefix), "message %q does not start with %q", msgs[0], prefix)
			require.Equal(t, []string{c.control}, controls(strings.TrimPrefix(msgs[0], prefix)), msgs[0])
		})
	}
	require.Len(t, got, len(pssCases), "findings on pods that no case expects: %v", got)
}
