package builtin

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"polc.dev/polc/internal/module"
)

// compliantPod is a Deployment that meets the restricted level; %s is spliced into its pod spec
// (indented six spaces) and %s into its container (indented ten spaces).
const compliantPod = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: app
spec:
  template:
    metadata:
      annotations: {}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
%s      containers:
        - name: web
          image: nginx:1.27
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
%s`

func TestPodSecurityFieldPositions(t *testing.T) {
	// In compliantPod, line 15 is the container's first key (- name: web), and spliced lines start
	// at 14 in the pod spec or at 20 in the container. A mapping is found at its first key.
	tests := []struct {
		name           string
		pod, container string
		doc            string // the whole document, instead of compliantPod with pod and container
		field          string
		line           int
	}{
		{name: "privileged container", container: "            privileged: true\n",
			field: "spec.template.spec.containers[0].securityContext.privileged", line: 20},
		{name: "host network", pod: "      hostNetwork: true\n",
			field: "spec.template.spec.hostNetwork", line: 14},
		{name: "host port", container: "          ports: [{containerPort: 80, hostPort: 8080}]\n",
			field: "spec.template.spec.containers[0].ports[0].hostPort", line: 20},
		{name: "probe host, located by polc", container: "          livenessProbe:\n            httpGet: {host: 10.0.0.1, port: 80}\n",
			field: "spec.template.spec.containers[0].livenessProbe.httpGet.host", line: 21},
		{name: "unsafe sysctl in a Pod",
			doc:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: app}\nspec:\n  securityContext:\n    runAsNonRoot: true\n    seccompProfile: {type: RuntimeDefault}\n    sysctls:\n      - name: kernel.msgmax\n        value: \"1\"\n  containers:\n    - name: a\n      image: x:1\n      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}\n",
			field: "spec.securityContext.sysctls[0].name", line: 9},
		{name: "missing runAsNonRoot: the container's securityContext",
			doc:   "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: app}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          securityContext:\n            seccompProfile: {type: RuntimeDefault}\n          containers:\n            - name: a\n              image: x:1\n              securityContext:\n                allowPrivilegeEscalation: false\n                capabilities: {drop: [ALL]}\n",
			field: "spec.jobTemplate.spec.template.spec.containers[0].securityContext.runAsNonRoot", line: 15},
		{name: "missing runAsNonRoot: the container without securityContext",
			doc:   "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s, namespace: app}\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: x:1\n",
			field: "spec.template.spec.containers[0].securityContext.runAsNonRoot", line: 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.doc
			if doc == "" {
				doc = fmt.Sprintf(compliantPod, tc.pod, tc.container)
			}
			r, app, _ := securityRepo(nil)
			o := object(t, "apps", doc)
			vs := checkPodSecurity(r, app, o)
			require.NotEmpty(t, vs)
			var fields []string
			for _, v := range vs {
				fields = append(fields, v.Field)
			}
			require.Contains(t, fields, tc.field)
			require.Equal(t, tc.line, o.FieldPos(tc.field).Line, "line of %s", tc.field)
		})
	}
}

func TestPodSecurityMissingRunAsNonRootAtContainerLine(t *testing.T) {
	// Neither the pod nor the container sets runAsNonRoot, and the container has no
	// securityContext: the finding is at the container's first line.
	const doc = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: app}\nspec:\n  securityContext:\n    seccompProfile: {type: RuntimeDefault}\n  containers:\n    - name: a\n      image: x:1\n"
	r, app, _ := securityRepo(nil)
	o := object(t, "apps", doc)
	for _, v := range checkPodSecurity(r, app, o) {
		if v.Field == "spec.containers[0].securityContext.runAsNonRoot" {
			require.Contains(t, v.Message, "runAsNonRoot != true (pod or container \"a\" must set securityContext.runAsNonRoot=true)")
			require.Equal(t, 8, o.FieldPos(v.Field).Line)
			return
		}
	}
	t.Fatal("no runAsNonRoot violation")
}

// TestPodSecurityChecksMatchEvaluator proves that the checks polc runs one by one, to learn their
// fields, give the verdicts and messages of the library's evaluator, which Kyverno runs.
func TestPodSecurityChecksMatchEvaluator(t *testing.T) {
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	specs := []string{
		"{containers: [{name: a, image: x:1}]}",
		"{hostNetwork: true, hostPID: true, containers: [{name: a, image: x:1, securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}}, ports: [{containerPort: 1, hostPort: 2}]}]}",
		"{securityContext: {runAsNonRoot: false, runAsUser: 0, seccompProfile: {type: Unconfined}, sysctls: [{name: kernel.msgmax, value: '1'}], seLinuxOptions: {type: spc_t}}, containers: [{name: a, image: x:1, securityContext: {procMount: Unmasked, allowPrivilegeEscalation: true, capabilities: {drop: [ALL], add: [NET_RAW]}}}]}",
		"{volumes: [{name: h, hostPath: {path: /}}, {name: n, nfs: {server: s, path: /}}], containers: [{name: a, image: x:1, livenessProbe: {httpGet: {host: h, port: 1}}}]}",
		"{securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, appArmorProfile: {type: Unconfined}, windowsOptions: {hostProcess: true}}, containers: [{name: a, image: x:1, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]}",
	}
	for i, spec := range specs {
		doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {container.apparmor.security.beta.kubernetes.io/a: unconfined}}\nspec: " + spec + "\n"
		meta, podSpec, err := decodePod(templateOf(object(t, "apps", doc)))
		require.NoError(t, err)
		for _, level := range []module.Level{module.Baseline, module.Restricted} {
			lv := psaapi.LevelVersion{Level: psaapi.Level(level), Version: psaapi.LatestVersion()}
			agg := policy.AggregateCheckResults(ev.EvaluatePod(lv, meta, podSpec))
			var want, got []string
			for j := range agg.ForbiddenReasons {
				want = append(want, forbidden(policy.CheckResult{ForbiddenReason: agg.ForbiddenReasons[j], ForbiddenDetail: agg.ForbiddenDetails[j]}))
			}
			for _, c := range psaChecks()[lv.Level] {
				if res := c.fn(meta, podSpec, policy.WithFieldErrors()); !res.Allowed {
					got = append(got, forbidden(res))
				}
			}
			if level == module.Restricted {
				require.NotEmpty(t, want, "spec %d passes restricted: the comparison proves nothing", i)
			}
			require.Equal(t, want, got, "spec %d at level %s", i, level)
		}
	}
}
