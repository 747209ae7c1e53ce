package helm

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// kyvernoModule is the directory of the github.com/kyverno/kyverno module that go.mod requires:
// its charts/kyverno is a real upstream chart, available without the network.
var kyvernoModule = sync.OnceValues(func() (string, error) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/kyverno/kyverno (v\S+)`).FindSubmatch(mod)
	if m == nil {
		return "", os.ErrNotExist
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com", "kyverno", "kyverno@"+string(m[1]))
	if _, err := os.Stat(filepath.Join(dir, "charts", "kyverno", "Chart.yaml")); err != nil {
		return "", err
	}
	return dir, nil
})

// kyvernoDir returns the kyverno module directory, or skips the test when it is not downloaded.
func kyvernoDir(t testing.TB) string {
	t.Helper()
	dir, err := kyvernoModule()
	if err != nil {
		t.Skipf("kyverno module not available (go mod download github.com/kyverno/kyverno): %v", err)
	}
	return dir
}

// stubDependencies are the kyverno chart's dependencies from remote repositories, which the Go
// module does not ship: empty charts of the versions Chart.yaml pins stand in for them.
var stubDependencies = map[string]string{"kyverno-api": "0.0.1-alpha.4", "openreports": "0.1.0", "reports-server": "0.1.6"}

// addStubs adds the stub dependencies to ch.
func addStubs(ch *chart.Chart) {
	for _, name := range []string{"kyverno-api", "openreports", "reports-server"} {
		ch.AddDependency(&chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: name, Version: stubDependencies[name]}})
	}
	sortDependencies(ch)
}

// kyvernoChart loads the kyverno chart from its directory, with the stub dependencies.
func kyvernoChart(t testing.TB) *chart.Chart {
	t.Helper()
	ch, err := LoadDir(kyvernoDir(t), "charts/kyverno")
	if err != nil {
		t.Fatal(err)
	}
	addStubs(ch)
	return ch
}
