package pack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	policiesv1 "github.com/kyverno/api/api/policies.kyverno.io/v1"
	kyvernov1 "github.com/kyverno/kyverno/api/kyverno/v1"
	kyvernov2 "github.com/kyverno/kyverno/api/kyverno/v2"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/kyverno/testgen"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
	"sigs.k8s.io/yaml"
)

// repoDir is the test repository with modules, namespaces of every level and exceptions.
const repoDir = "../../../tests/testdata/repos/good-exceptions-excepted"

// Targets of the tests.
const (
	ClusterPolicy    = kyverno.ClusterPolicy
	ValidatingPolicy = kyverno.ValidatingPolicy
)

func load(t *testing.T, dir string) *rule.Repo { return kyvernotest.Load(t, dir) }

func build(t *testing.T, repo *rule.Repo, target kyverno.Target) *Pack {
	t.Helper()
	pack, err := Build(repo, builtin.All(), kyverno.Options{Target: target, Now: kyvernotest.Now})
	require.NoError(t, err)
	return pack
}

// TestMirrorsMatchKyvernoTypes decodes every policy and exception polc writes strictly into
// Kyverno's own Go types: the mirror structs of internal/kyverno/clusterpolicy.go cannot drift from them.
func TestMirrorsMatchKyvernoTypes(t *testing.T) {
	for _, target := range []kyverno.Target{ClusterPolicy, ValidatingPolicy} {
		t.Run(string(target), func(t *testing.T) {
			pack := build(t, load(t, repoDir), target)
			n := 0
			for _, f := range pack.Files {
				var obj any
				switch {
				case strings.HasPrefix(f.Path, "tests/") || !strings.HasSuffix(f.Path, ".yaml") || f.Path == "kustomization.yaml":
					continue
				case strings.HasPrefix(f.Path, "exceptions/") && target == ClusterPolicy:
					obj = &kyvernov2.PolicyException{}
				case strings.HasPrefix(f.Path, "exceptions/"):
					obj = &policiesv1.PolicyException{}
				case target == ClusterPolicy:
					obj = &kyvernov1.ClusterPolicy{}
				default:
					obj = &policiesv1.ValidatingPolicy{}
				}
				require.NoError(t, kyvernotest.Strict(f.Data, obj), f.Path)
				n++
			}
			require.Greater(t, n, 5)
		})
	}
}

func TestCompileIsDeterministic(t *testing.T) {
	for _, target := range []kyverno.Target{ClusterPolicy, ValidatingPolicy} {
		t.Run(string(target), func(t *testing.T) {
			a := build(t, load(t, repoDir), target)
			b := build(t, load(t, repoDir), target)
			require.Equal(t, len(a.Files), len(b.Files))
			for i := range a.Files {
				require.Equal(t, a.Files[i].Path, b.Files[i].Path)
				require.Equal(t, string(a.Files[i].Data), string(b.Files[i].Data), a.Files[i].Path)
			}
		})
	}
}

func TestNoStatusNoEmptyFields(t *testing.T) {
	for _, target := range []kyverno.Target{ClusterPolicy, ValidatingPolicy} {
		pack := build(t, load(t, repoDir), target)
		for _, f := range pack.Files {
			if !strings.HasSuffix(f.Path, ".yaml") {
				continue
			}
			s := string(f.Data)
			bads := []string{"status:", ": {}", ": []", ": null", "creationTimestamp"}
			if strings.HasSuffix(f.Path, "/"+testgen.ChainsawTestFile) {
				bads = bads[1:] // a chainsaw test asserts a policy's status
			}
			for _, bad := range bads {
				require.NotContains(t, s, bad, "%s %s", target, f.Path)
			}
		}
	}
}

// TestHostileMetadataIsRefused compiles metadata that tries to inject JMESPath, CEL or YAML: names
// are refused, free text only reaches quoted annotation values.
func TestHostileMetadataIsRefused(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(m *module.Module)
		error string
	}{
		{name: "jmespath in a namespace", edit: func(m *module.Module) {
			m.Spec.Namespaces = append(m.Spec.Namespaces, module.Namespace{Name: "{{request.object.metadata.name}}"})
		}, error: "is not a DNS-1123 label"},
		{name: "cel in an excepted name", edit: func(m *module.Module) {
			m.Spec.Exceptions = append(m.Spec.Exceptions, module.Exception{Rule: "labels/module", Reason: "x",
				Resources: []module.ResourceRef{{Kind: "ConfigMap", Name: `a" || true || "`}}})
		}, error: "is not a Kubernetes object name"},
		{name: "pattern operator in a kind", edit: func(m *module.Module) {
			m.Spec.Exceptions = append(m.Spec.Exceptions, module.Exception{Rule: "labels/module", Reason: "x",
				Resources: []module.ResourceRef{{Kind: "*", Name: "a"}}})
		}, error: "is not a Kubernetes kind"},
		{name: "yaml and markdown in free text", edit: func(m *module.Module) {
			m.Spec.Description = "x\n---\nkind: ClusterRole | {{ evil }}"
			for i := range m.Spec.Exceptions {
				m.Spec.Exceptions[i].Reason = "reason\n---\napiVersion: v1\nkind: Secret | ${x} {{ y }}"
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := load(t, repoDir)
			tc.edit(repo.Modules[0])
			pack, err := Build(repo, builtin.All(), kyverno.Options{Target: ValidatingPolicy, Now: kyvernotest.Now})
			if tc.error != "" {
				require.ErrorContains(t, err, tc.error)
				return
			}
			require.NoError(t, err)
			for _, f := range pack.Files {
				if !strings.HasSuffix(f.Path, ".yaml") {
					continue
				}
				var docs int
				for _, d := range strings.Split(string(f.Data), "\n---\n") {
					var v map[string]any
					require.NoError(t, yaml.Unmarshal([]byte(d), &v), f.Path)
					docs++
				}
				if !strings.HasPrefix(f.Path, "tests/") {
					require.Equal(t, 1, docs, "%s must stay one document", f.Path)
				}
			}
		})
	}
}

func TestWriteAndDiff(t *testing.T) {
	pack := build(t, load(t, repoDir), ClusterPolicy)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("kind: Mine\n"), 0o644))
	stale := filepath.Join(dir, "old", "polc-old.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(stale), 0o755))
	require.NoError(t, os.WriteFile(stale, []byte(header+"kind: Old\n"), 0o644))

	diff, err := pack.Diff(dir)
	require.NoError(t, err)
	require.Contains(t, diff, "old/polc-old.yaml")
	require.Contains(t, diff, "kustomization.yaml")

	require.NoError(t, pack.Write(dir))
	diff, err = pack.Diff(dir)
	require.NoError(t, err)
	require.Empty(t, diff)
	require.NoFileExists(t, stale)
	require.FileExists(t, filepath.Join(dir, "mine.yaml"), "files polc did not generate stay")

	// An edit that keeps polc's header is stale: polc rewrites it.
	edited := filepath.Join(dir, pack.Files[0].Path)
	require.NoError(t, os.WriteFile(edited, []byte(header+"edited"), 0o644))
	diff, err = pack.Diff(dir)
	require.NoError(t, err)
	require.Equal(t, []string{pack.Files[0].Path}, diff)

	// A file without the header is the user's: reported, and never overwritten.
	require.NoError(t, os.WriteFile(edited, []byte("mine"), 0o644))
	diff, err = pack.Diff(dir)
	require.NoError(t, err)
	require.Len(t, diff, 1)
	require.Contains(t, diff[0], "was not written by polc")
	require.ErrorContains(t, pack.Write(dir), "polc never overwrites it")
	data, err := os.ReadFile(edited)
	require.NoError(t, err)
	require.Equal(t, "mine", string(data), "the user's file is left alone")
}
