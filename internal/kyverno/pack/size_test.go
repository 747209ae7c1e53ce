package pack

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/yaml"
)

// maxBytesPerModule bounds what one more module adds to a compiled policy: its record in the
// module table (name, action, a few names) and its entries in the indexes, nothing more.
const maxBytesPerModule = 700

// TestPackIsConstantInModules compiles the generated repository with 10 and with 40 modules:
// every policy has the same rules (ClusterPolicy) or validations and variables (ValidatingPolicy)
// in both, and grows by no more than a module table's records.
func TestPackIsConstantInModules(t *testing.T) {
	for _, target := range []string{string(ClusterPolicy), string(ValidatingPolicy)} {
		t.Run(target, func(t *testing.T) {
			shape := map[int]map[string]int{}
			size := map[int]map[string]int{}
			for _, n := range []int{10, 40} {
				dir := t.TempDir()
				require.NoError(t, testutil.GenerateRepo(dir, n))
				pk := build(t, load(t, dir), ClusterPolicy)
				if target == string(ValidatingPolicy) {
					pk = build(t, load(t, dir), ValidatingPolicy)
				}
				shape[n], size[n] = map[string]int{}, map[string]int{}
				for _, p := range pk.Policies {
					for _, f := range pk.Files {
						if f.Path != p.Path {
							continue
						}
						var obj struct {
							Spec struct {
								Rules       []any `json:"rules"`
								Validations []any `json:"validations"`
								Variables   []any `json:"variables"`
							} `json:"spec"`
						}
						require.NoError(t, yaml.Unmarshal(f.Data, &obj), f.Path)
						shape[n][p.Name] = len(obj.Spec.Rules)*1000000 + len(obj.Spec.Validations)*1000 + len(obj.Spec.Variables)
						size[n][p.Name] = len(f.Data)
					}
				}
			}
			require.Equal(t, shape[10], shape[40], "rules, validations and variables per policy")
			for name := range size[40] {
				per := (size[40][name] - size[10][name]) / 30
				t.Logf("%s: %d bytes at 10 modules, %d at 40 (%d per module)", name, size[10][name], size[40][name], per)
				require.LessOrEqual(t, per, maxBytesPerModule, "%s grows by %d bytes per module", name, per)
				require.False(t, strings.Contains(name, "module-"), name)
			}
		})
	}
}
