// Package kschema guards kustomize's OpenAPI schema, which kustomize keeps once for the whole
// process (kyaml's openapi package), against polc's parallel builds.
//
// kyaml parses its built-in schema lazily, on the first use that needs more than its
// precomputed namespace scopes (a strategic merge patch), under its lock, but reads the result
// elsewhere without it (the scope of a kind outside the precomputed table, whenever kustomize
// makes a resource id); and a kustomization with an openapi field replaces the schema of the
// process, for the builds that follow too. So every use of kustomize's resources in polc holds
// the schema (Acquire): builds that may use the schema have it parsed first, with nothing else
// holding it, and a build that replaces it holds it alone and restores the built-in schema
// after. Parsing costs about 0.2 s of CPU and 35 MB, which a run whose kustomizations cannot
// use the schema does not pay.
package kschema

import (
	"sync"

	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var state struct {
	mu     sync.RWMutex
	parsed bool // the built-in schema is parsed (under mu)
}

// Use is how a kustomize build, or other work on kustomize's resources, uses the schema.
type Use int

const (
	// None: no strategic merge patch or other reader of the schema; resource ids only.
	None Use = iota
	// Builtin: may read the built-in schema (a kustomization field of Fields).
	Builtin
	// Custom: replaces the schema (a kustomization's openapi field).
	Custom
)

// Fields are the kustomization fields whose transformers may read the schema: patches
// (strategic merge), the configurations of built-in plugins (which may configure a patch), and
// the rest of what is not a plain field-spec transformer, conservatively.
var Fields = []string{"patches", "patchesStrategicMerge", "patchesJson6902", "transformers", "generators",
	"validators", "helmCharts", "helmChartInflationGenerator", "replacements", "crds"}

// Of is how the kustomization k uses the schema.
func Of(k *yaml.RNode) Use {
	if k.Field("openapi") != nil {
		return Custom
	}
	for _, f := range Fields {
		if k.Field(f) != nil {
			return Builtin
		}
	}
	return None
}

// Acquire holds the schema for work of use u, until release is called.
func Acquire(u Use) (release func()) {
	if u == Custom {
		state.mu.Lock()
		return func() {
			openapi.ResetOpenAPI()
			state.parsed = false
			state.mu.Unlock()
		}
	}
	state.mu.RLock()
	for u == Builtin && !state.parsed {
		state.mu.RUnlock()
		state.mu.Lock()
		if !state.parsed {
			openapi.Schema()
			state.parsed = true
		}
		state.mu.Unlock()
		state.mu.RLock() // a custom build may have reset it in between: check again
	}
	return state.mu.RUnlock
}
