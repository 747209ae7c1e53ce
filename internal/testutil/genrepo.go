package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// GenerateRepo writes a synthetic module repository with n modules to dir, for benchmarks: one
// infrastructure core module per 20 modules, the rest applications that depend on one of them.
// Each module renders 25 objects (Namespace, Deployment, Service, ServiceAccount and 21
// ConfigMaps), so 200 modules give 5,000 objects. The repository passes the foundation rules.
func GenerateRepo(dir string, n int) error { return generateRepo(dir, n, nil) }

// generateRepo writes the repository of GenerateRepo; extra, when not nil, returns more files
// (name to content) for module i, each also listed in the module's kustomization resources.
func generateRepo(dir string, n int, extra func(i int, name, ns string) map[string]string) error {
	write := func(rel, content string) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o644)
	}
	if err := write("polc.yaml", "apiVersion: polc.dev/v1alpha1\nkind: Config\nspec:\n  substitute:\n    cluster_domain: example.com\n"); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		name, typ, sub, deps := fmt.Sprintf("app%03d", i), "application", "apps", ""
		tier := ""
		if i%20 == 0 {
			name, typ, sub, tier = fmt.Sprintf("area%03d-core", i), "infrastructure", "infrastructure", "  tier: core\n"
		} else {
			deps = fmt.Sprintf("  dependsOn: [area%03d-core]\n", i/20*20)
		}
		ns := name
		annot := ""
		if deps != "" {
			annot = fmt.Sprintf("  annotations:\n    polc.dev/depends-on: area%03d-core\n", i/20*20)
		}
		resources := "  - namespace.yaml\n  - workload.yaml\n  - config.yaml\n"
		var more map[string]string
		if extra != nil {
			more = extra(i, name, ns)
		}
		for _, f := range sortedNames(more) {
			resources += "  - " + f + "\n"
		}
		files := map[string]string{
			"module.yaml": fmt.Sprintf("apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: %s\nspec:\n  type: %s\n%s  version: 1.0.0\n  description: generated module %d\n  namespaces:\n    - name: %s\n%s",
				name, typ, tier, i, ns, deps),
			"CHANGELOG.md":       "# Changelog\n\n## 1.0.0\n\n- Generated.\n",
			"kustomization.yaml": fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nlabels:\n  - pairs:\n      polc.dev/module: %s\n      polc.dev/module-type: %s\nresources:\n%s", name, typ, resources),
			"namespace.yaml":     fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n%s", ns, annot),
			"workload.yaml":      workload(name, ns),
			"config.yaml":        configMaps(ns, 21),
		}
		for f, content := range more {
			files[f] = content
		}
		for f, content := range files {
			if err := write(filepath.Join("modules", sub, name, f), content); err != nil {
				return err
			}
		}
	}
	return nil
}

// sortedNames returns the keys of files in order.
func sortedNames(files map[string]string) []string {
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	return names
}

func workload(name, ns string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
    spec:
      serviceAccountName: %[1]s
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: ghcr.io/example/%[1]s:1.0.0@sha256:%[3]s
          env:
            - name: DOMAIN
              value: ${cluster_domain}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
          resources:
            requests: {cpu: 10m, memory: 32Mi}
            limits: {memory: 64Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  selector:
    app.kubernetes.io/name: %[1]s
  ports:
    - port: 80
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
  namespace: %[2]s
`, name, ns, strings.Repeat("ab", 32))
}

func configMaps(ns string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-%02d\n  namespace: %s\ndata:\n  key: value-%d\n", i, ns, i)
	}
	return b.String()
}
