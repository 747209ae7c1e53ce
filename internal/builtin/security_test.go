package builtin

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// object parses one manifest into a rendered object of module mod.
func object(t *testing.T, mod, doc string) *manifest.Object {
	t.Helper()
	n, err := yaml.Parse(doc)
	require.NoError(t, err)
	return &manifest.Object{Node: n, Module: mod, Ref: manifest.RefOf(n), Source: n}
}

// securityRepo is a repository whose module apps (application) owns namespace app (restricted)
// and whose module infra-core (infrastructure) owns node (baseline) and host (privileged).
func securityRepo(objs map[string][]*manifest.Object) (*rule.Repo, *module.Module, *module.Module) {
	app := &module.Module{Metadata: module.Metadata{Name: "apps"}, Spec: module.ModuleSpec{Type: module.Application,
		Namespaces: []module.Namespace{{Name: "app"}}}}
	infra := &module.Module{Metadata: module.Metadata{Name: "infra-core"}, Spec: module.ModuleSpec{Type: module.Infrastructure,
		Namespaces: []module.Namespace{{Name: "node", PodSecurity: module.Baseline}, {Name: "host", PodSecurity: module.Privileged}}}}
	cfg := module.DefaultConfig()
	cfg.Spec.SharedNamespaces = append(cfg.Spec.SharedNamespaces,
		module.SharedNamespace{Name: "kube-system", PodSecurity: module.Privileged, Reason: "node agents"},
		module.SharedNamespace{Name: "tools", PodSecurity: module.Baseline, Reason: "debug pods"})
	r := &rule.Repo{Config: cfg, Modules: []*module.Module{app, infra},
		ByName:  map[string]*module.Module{"apps": app, "infra-core": infra},
		Objects: objs, Rendered: map[string]bool{"apps": true, "infra-core": true},
		NamespaceOwners: map[string][]*module.Module{"app": {app}, "node": {infra}, "host": {infra}}}
	return r, app, infra
}

func TestParseImage(t *testing.T) {
	tests := []struct {
		image string
		want  imageRef
	}{
		{image: "nginx", want: imageRef{Name: "nginx"}},
		{image: "nginx:1.27", want: imageRef{Name: "nginx", Tag: "1.27"}},
		{image: "registry:5000/team/app", want: imageRef{Name: "registry:5000/team/app"}},
		{image: "registry:5000/team/app:v2", want: imageRef{Name: "registry:5000/team/app", Tag: "v2"}},
		{image: "ghcr.io/app@sha256:abc", want: imageRef{Name: "ghcr.io/app", Digest: "sha256:abc"}},
		{image: "ghcr.io/app:1.0@sha256:abc", want: imageRef{Name: "ghcr.io/app", Tag: "1.0", Digest: "sha256:abc"}},
		{image: "registry:5000/app@sha256:abc", want: imageRef{Name: "registry:5000/app", Digest: "sha256:abc"}},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			require.Equal(t, tc.want, parseImage(tc.image))
		})
	}
}

func TestExactVersion(t *testing.T) {
	tests := []struct {
		version string
		exact   bool
	}{
		{version: "1.2.3", exact: true},
		{version: "v1.16.2", exact: true},
		{version: "2.0.0-rc.1", exact: true},
		{version: "1.0.0+build.7", exact: true},
		{version: "", exact: false},
		{version: "*", exact: false},
		{version: "1.x", exact: false},
		{version: "1.2.x", exact: false},
		{version: "1.2", exact: false},
		{version: "~1.2.3", exact: false},
		{version: "^1.2.3", exact: false},
		{version: ">=1.0.0 <2.0.0", exact: false},
		{version: "1.2.3 || 1.2.4", exact: false},
		{version: "01.2.3", exact: false},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			require.Equal(t, tc.exact, exactVersion.MatchString(tc.version))
		})
	}
}

func TestTemplateOf(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		specPath string // "" when the object carries no pod template
	}{
		{name: "pod", doc: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n", specPath: "spec"},
		{name: "deployment", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: a}]}}}\n", specPath: "spec.template.spec"},
		{name: "cronjob", doc: "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a}]}}}}}\n", specPath: "spec.jobTemplate.spec.template.spec"},
		{name: "replicationcontroller", doc: "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: r}\nspec: {template: {spec: {containers: [{name: a}]}}}\n", specPath: "spec.template.spec"},
		{name: "job of another group", doc: "apiVersion: example.com/v1\nkind: Job\nmetadata: {name: j}\nspec: {template: {spec: {containers: [{name: a}]}}}\n"},
		{name: "deployment without template", doc: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n"},
		{name: "service", doc: "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl := templateOf(object(t, "m", tc.doc))
			if tc.specPath == "" {
				require.Nil(t, tpl)
				return
			}
			require.NotNil(t, tpl)
			require.Equal(t, tc.specPath, tpl.SpecPath())
			cs := tpl.Containers(allContainerLists...)
			require.Len(t, cs, 1)
			require.Equal(t, tc.specPath+".containers[0]", cs[0].Path)
		})
	}
}

func TestPodSecurityLevels(t *testing.T) {
	// hostNetwork fails baseline; a pod without securityContext passes baseline and fails restricted.
	const hostNet = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d, namespace: %s}\nspec:\n  template:\n    spec:\n      hostNetwork: true\n      containers: [{name: a, image: x:1}]\n"
	const plain = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: %s}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: x:1}]\n"
	restricted := []string{"allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true", "seccompProfile"}
	tests := []struct {
		name, doc, ns string
		want          string   // the start of every message; "" for none
		controls      []string // the failed control of each violation, in order
		field         string   // the field of the first violation
	}{
		{name: "restricted namespace", doc: plain, ns: "app", want: `pod template violates PodSecurity "restricted:latest" (declared for namespace app by module apps): `,
			controls: restricted, field: "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"},
		{name: "baseline namespace, baseline pod", doc: plain, ns: "node"},
		{name: "baseline namespace, host network", doc: hostNet, ns: "node", want: `pod template violates PodSecurity "baseline:latest" (declared for namespace node by module infra-core): `,
			controls: []string{"host namespaces (hostNetwork=true)"}, field: "spec.template.spec.hostNetwork"},
		{name: "privileged namespace", doc: hostNet, ns: "host"},
		{name: "undeclared namespace", doc: plain, ns: "elsewhere", want: `pod template violates PodSecurity "restricted:latest" (the default: no module declares namespace elsewhere and polc.yaml spec.sharedNamespaces does not list it): `,
			controls: restricted, field: "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation"},
		{name: "shared privileged namespace", doc: hostNet, ns: "kube-system"},
		{name: "shared baseline namespace", doc: hostNet, ns: "tools", want: `pod template violates PodSecurity "baseline:latest" (set for shared namespace tools in polc.yaml spec.sharedNamespaces): `,
			controls: []string{"host namespaces (hostNetwork=true)"}, field: "spec.template.spec.hostNetwork"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, app, _ := securityRepo(nil)
			doc := fmt.Sprintf(tc.doc, tc.ns)
			vs := checkPodSecurity(r, app, object(t, "apps", doc))
			if tc.want == "" {
				require.Empty(t, vs)
				return
			}
			require.Len(t, vs, len(tc.controls), "one violation per failed control")
			for i, v := range vs {
				require.True(t, strings.HasPrefix(v.Message, tc.want+tc.controls[i]), "violation %d: %s", i, v.Message)
			}
			require.Equal(t, tc.field, vs[0].Field)
		})
	}
}

func TestNamespacePSA(t *testing.T) {
	tests := []struct {
		name   string
		ns     string
		labels string
		fields []string
	}{
		{name: "matches", ns: "app", labels: "pod-security.kubernetes.io/enforce: restricted"},
		{name: "missing", ns: "app", labels: "team: a", fields: []string{"metadata.labels"}},
		{name: "wrong level", ns: "node", labels: "pod-security.kubernetes.io/enforce: privileged", fields: []string{"metadata.labels[pod-security.kubernetes.io/enforce]"}},
		{name: "stricter warn is fine", ns: "node", labels: "{pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/warn: restricted}"},
		{name: "looser audit", ns: "node", labels: "{pod-security.kubernetes.io/enforce: baseline, pod-security.kubernetes.io/audit: privileged}", fields: []string{"metadata.labels[pod-security.kubernetes.io/audit]"}},
		{name: "undeclared namespace", ns: "other", labels: "team: a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, app, _ := securityRepo(nil)
			o := object(t, "apps", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+tc.ns+"\n  labels: "+wrapFlow(tc.labels)+"\n")
			var fields []string
			for _, v := range checkNamespacePSA(r, app, o) {
				fields = append(fields, v.Field)
			}
			require.Equal(t, tc.fields, fields)
		})
	}
}

func wrapFlow(s string) string {
	if len(s) > 0 && s[0] == '{' {
		return s
	}
	return "{" + s + "}"
}

func TestImageAndResourceRules(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cron := "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: app}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n" +
		"          initContainers: [{name: init, image: 'busybox:latest', resources: {requests: {cpu: 1m, memory: 1Mi}, limits: {memory: 2Mi}}}]\n" +
		"          containers: [{name: main, image: 'app@" + digest + "', resources: {requests: {cpu: 1m}}}]\n" +
		"          ephemeralContainers: [{name: debug, image: 'registry:5000/tools'}]\n"
	r, app, _ := securityRepo(nil)
	o := object(t, "apps", cron)
	fields := func(vs []rule.Violation) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.Field)
		}
		return out
	}
	base := "spec.jobTemplate.spec.template.spec."
	require.Equal(t, []string{base + "initContainers[0].image", base + "ephemeralContainers[0].image"}, fields(checkImageTag(r, app, o)))
	require.Equal(t, []string{base + "initContainers[0].image", base + "ephemeralContainers[0].image"}, fields(checkImageDigest(r, app, o)))
	res := checkResources(r, app, o)
	require.Equal(t, []string{base + "containers[0].resources"}, fields(res))
	require.Contains(t, res[0].Message, "resources.requests.memory, resources.limits.memory")
}

func TestClusterRBAC(t *testing.T) {
	r, app, infra := securityRepo(nil)
	role := object(t, "apps", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n")
	require.Len(t, checkClusterRBAC(r, app, role), 1)
	require.Empty(t, checkClusterRBAC(r, infra, role))
}

func TestChartPinnedSources(t *testing.T) {
	tests := []struct {
		name, kind, spec string
		ok               bool
	}{
		{name: "oci tag", kind: "OCIRepository", spec: "{ref: {tag: 1.0.0}}", ok: true},
		{name: "oci semver range", kind: "OCIRepository", spec: "{ref: {semver: '>=1.0.0', tag: 1.0.0}}"},
		{name: "oci digest wins", kind: "OCIRepository", spec: "{ref: {semver: '>=1.0.0', digest: 'sha256:abc'}}", ok: true},
		{name: "oci latest", kind: "OCIRepository", spec: "{ref: {tag: latest}}"},
		{name: "oci no ref", kind: "OCIRepository", spec: "{url: oci://ghcr.io/x}"},
		{name: "chart exact", kind: "HelmChart", spec: "{chart: app, version: 1.2.3}", ok: true},
		{name: "chart range", kind: "HelmChart", spec: "{chart: app, version: 1.x}"},
		{name: "chart from git", kind: "HelmChart", spec: "{chart: ./charts/app, sourceRef: {kind: GitRepository, name: repo}}", ok: true},
	}
	r, app, _ := securityRepo(nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := object(t, "apps", "apiVersion: source.toolkit.fluxcd.io/v1\nkind: "+tc.kind+"\nmetadata: {name: s, namespace: app}\nspec: "+tc.spec+"\n")
			vs := checkChartPinned(r, app, o)
			if tc.ok {
				require.Empty(t, vs)
			} else {
				require.Len(t, vs, 1)
			}
		})
	}
	hr := object(t, "apps", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: h, namespace: app}\nspec: {chartRef: {kind: OCIRepository, name: elsewhere, namespace: node}}\n")
	require.Empty(t, checkChartPinned(r, app, hr), "a chartRef is judged on its source object")
}

func TestExceptionsValid(t *testing.T) {
	dep := object(t, "apps", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: app}\n")
	res := []module.ResourceRef{{Kind: "Deployment", Name: "web"}}
	tests := []struct {
		name   string
		ex     module.Exception
		fields []string
	}{
		{name: "valid", ex: module.Exception{Rule: "security/pod-security", Resources: res, Reason: "vendor image", Expires: "2099-12-31"}},
		{name: "unknown rule", ex: module.Exception{Rule: "security/nope", Resources: res, Reason: "r"}, fields: []string{"spec.exceptions[0].rule"}},
		{name: "no reason", ex: module.Exception{Rule: "security/pod-security", Resources: res, Reason: " "}, fields: []string{"spec.exceptions[0]"}},
		{name: "expired", ex: module.Exception{Rule: "security/pod-security", Resources: res, Reason: "r", Expires: "2020-01-01"}, fields: []string{"spec.exceptions[0].expires"}},
		{name: "bad date", ex: module.Exception{Rule: "security/pod-security", Resources: res, Reason: "r", Expires: "31.12.2099"}, fields: []string{"spec.exceptions[0].expires"}},
		{name: "stale", ex: module.Exception{Rule: "security/pod-security", Resources: []module.ResourceRef{{Kind: "Deployment", Name: "old"}}, Reason: "r"}, fields: []string{"spec.exceptions[0].resources"}},
		{name: "other namespace", ex: module.Exception{Rule: "security/pod-security", Resources: []module.ResourceRef{{Kind: "Deployment", Name: "web", Namespace: "x"}}, Reason: "r"}, fields: []string{"spec.exceptions[0].resources"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, app, _ := securityRepo(map[string][]*manifest.Object{"apps": {dep}})
			app.Spec.Exceptions = []module.Exception{tc.ex}
			r.Rules = map[string]*rule.Rule{}
			for _, ru := range All() {
				r.Rules[ru.ID] = &ru
			}
			var fields []string
			for _, f := range checkExceptionsValid(r) {
				require.Equal(t, app.Name(), f.Module)
				fields = append(fields, f.Field)
			}
			require.Equal(t, tc.fields, fields)
			r.Rendered["apps"] = false
			for _, f := range checkExceptionsValid(r) {
				require.NotEqual(t, "spec.exceptions[0].resources", f.Field, "modules that did not render are not judged stale")
			}
		})
	}
}
