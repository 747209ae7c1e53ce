package kyverno

import (
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/module"
)

// The Pod Security Standards as CEL, one expression per control of the pod-security-admission
// library at version latest (the code behind Kyverno's podSecurity rule and polc's offline
// check), for the ValidatingPolicy target, which has no podSecurity rule. Each expression reads
// variables.pod and is true when the pod passes the control. The parity test compares them with
// the library on every rendered pod.

const (
	psSpec = "variables.pod.spec"
	// psAllContainers are all containers, as the library visits them; the policy keeps them in
	// variables.containers.
	psAllContainers = "(" + psSpec + ".?initContainers.orValue([]) + " + psSpec + ".?containers.orValue([]) + " + psSpec + ".?ephemeralContainers.orValue([]))"
	psContainers    = "variables.containers"
	// psNotWindows is true unless the pod declares the Windows OS, which some restricted
	// controls exempt.
	psNotWindows = psSpec + `.?os.?name.orValue("") != "windows"`
)

// celSet quotes a list of strings as a CEL list.
func celSet(s ...string) string { return expr.CELStrings(s) }

// optionalIn is true when the optional opt is absent, or its field f (default "") is in set.
func optionalIn(opt, f, set string) string {
	return "(!" + opt + ".hasValue() || " + opt + ".value().?" + f + `.orValue("") in ` + set + ")"
}

// psControl is one Pod Security control.
type psControl struct {
	// name is the control's name in messages.
	name string
	// level is the lowest level that has the control.
	level module.Level
	// cel is true when the pod passes.
	cel string
}

// psControls are the controls of the library's latest version. Restricted controls that replace a
// baseline one (capabilities, seccomp, volumes) make the baseline one redundant: they are stricter.
var psControls = []psControl{
	{"hostProcess", module.Baseline,
		psSpec + `.?securityContext.?windowsOptions.?hostProcess.orValue(false) != true && ` +
			psContainers + `.all(c, c.?securityContext.?windowsOptions.?hostProcess.orValue(false) != true)`},
	{"host namespaces", module.Baseline,
		psSpec + `.?hostNetwork.orValue(false) != true && ` + psSpec + `.?hostPID.orValue(false) != true && ` +
			psSpec + `.?hostIPC.orValue(false) != true`},
	{"privileged", module.Baseline,
		psContainers + `.all(c, c.?securityContext.?privileged.orValue(false) != true)`},
	{"capabilities (baseline)", module.Baseline,
		psContainers + `.all(c, c.?securityContext.?capabilities.?add.orValue([]).all(a, a in ` +
			celSet("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
				"SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT") + `))`},
	{"hostPath volumes", module.Baseline,
		psSpec + `.?volumes.orValue([]).all(v, !has(v.hostPath))`},
	{"hostPort", module.Baseline,
		psContainers + `.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))`},
	{"AppArmor", module.Baseline,
		optionalIn(psSpec+`.?securityContext.?appArmorProfile`, "type", celSet("RuntimeDefault", "Localhost")) + ` && ` +
			psContainers + `.all(c, ` + optionalIn(`c.?securityContext.?appArmorProfile`, "type", celSet("RuntimeDefault", "Localhost")) + `) && ` +
			`variables.pod.?metadata.?annotations.orValue({}).all(k, !k.startsWith("container.apparmor.security.beta.kubernetes.io/") || ` +
			`variables.pod.metadata.annotations[k] == "" || variables.pod.metadata.annotations[k] == "runtime/default" || ` +
			`variables.pod.metadata.annotations[k].startsWith("localhost/"))`},
	{"SELinux", module.Baseline,
		`[` + psSpec + `.?securityContext.?seLinuxOptions.orValue({})].all(o, ` + seLinuxOK + `) && ` +
			psContainers + `.all(c, [c.?securityContext.?seLinuxOptions.orValue({})].all(o, ` + seLinuxOK + `))`},
	{"procMount", module.Baseline,
		psContainers + `.all(c, c.?securityContext.?procMount.orValue("Default") == "Default")`},
	{"seccomp (baseline)", module.Baseline,
		optionalIn(psSpec+`.?securityContext.?seccompProfile`, "type", celSet("RuntimeDefault", "Localhost")) + ` && ` +
			psContainers + `.all(c, ` + optionalIn(`c.?securityContext.?seccompProfile`, "type", celSet("RuntimeDefault", "Localhost")) + `)`},
	{"sysctls", module.Baseline,
		psSpec + `.?securityContext.?sysctls.orValue([]).all(s, s.?name.orValue("") in ` +
			celSet("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
				"net.ipv4.ip_unprivileged_port_start", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
				"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
				"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem") + `)`},
	{"probe or lifecycle host", module.Baseline,
		psContainers + `.all(c, [c.?livenessProbe.orValue({}), c.?readinessProbe.orValue({}), c.?startupProbe.orValue({}), ` +
			`c.?lifecycle.?postStart.orValue({}), c.?lifecycle.?preStop.orValue({})].all(h, ` +
			`h.?httpGet.?host.orValue("") == "" && h.?tcpSocket.?host.orValue("") == ""))`},
	{"restricted volume types", module.Restricted,
		psSpec + `.?volumes.orValue([]).all(v, has(v.configMap) || has(v.csi) || has(v.downwardAPI) || has(v.emptyDir) || ` +
			`has(v.ephemeral) || has(v.image) || has(v.persistentVolumeClaim) || has(v.projected) || has(v.secret))`},
	{"allowPrivilegeEscalation", module.Restricted,
		`!(` + psNotWindows + `) || ` + psContainers + `.all(c, c.?securityContext.?allowPrivilegeEscalation.orValue(true) == false)`},
	{"runAsNonRoot", module.Restricted,
		psSpec + `.?securityContext.?runAsNonRoot.orValue(true) != false && ` +
			psContainers + `.all(c, c.?securityContext.?runAsNonRoot.hasValue() ? c.securityContext.runAsNonRoot == true : ` +
			psSpec + `.?securityContext.?runAsNonRoot.orValue(false) == true)`},
	{"runAsUser", module.Restricted,
		psSpec + `.?securityContext.?runAsUser.orValue(1) != 0 && ` + psContainers + `.all(c, c.?securityContext.?runAsUser.orValue(1) != 0)`},
	{"seccomp (restricted)", module.Restricted,
		`!(` + psNotWindows + `) || (` + psContainers + `.all(c, c.?securityContext.?seccompProfile.hasValue() ? ` +
			`c.securityContext.seccompProfile.?type.orValue("") in ` + celSet("RuntimeDefault", "Localhost") + ` : ` +
			psSpec + `.?securityContext.?seccompProfile.?type.orValue("") in ` + celSet("RuntimeDefault", "Localhost") + `))`},
	{"capabilities (restricted)", module.Restricted,
		`!(` + psNotWindows + `) || ` + psContainers + `.all(c, c.?securityContext.?capabilities.hasValue() && ` +
			`c.securityContext.capabilities.?drop.orValue([]).exists(d, d == "ALL") && ` +
			`c.securityContext.capabilities.?add.orValue([]).all(a, a == "NET_BIND_SERVICE"))`},
}

// seLinuxOK is true when SELinux options o set an allowed type and no user or role.
var seLinuxOK = `o.?type.orValue("") in ` + celSet("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t") +
	` && o.?user.orValue("") == "" && o.?role.orValue("") == ""`
