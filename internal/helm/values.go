package helm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/strvals"
)

// DefaultValuesKey is the data key read when a ValuesReference names none, as in Flux.
const DefaultValuesKey = "values.yaml"

// ValuesReference is one item of a HelmRelease's spec.valuesFrom.
type ValuesReference struct {
	// Kind is ConfigMap or Secret.
	Kind string
	// Name is the object's name, in the HelmRelease's namespace.
	Name string
	// ValuesKey is the data key holding the values (default DefaultValuesKey).
	ValuesKey string
	// TargetPath, when set, is the dot-notation path (Helm's --set syntax) the value of
	// ValuesKey is written at, instead of merging the key's YAML at the root.
	TargetPath string
	// Optional makes a missing object or key no error: the reference is then skipped.
	Optional bool
	// Literal writes the value at TargetPath verbatim, like helm --set-literal, instead of
	// interpreting --set syntax (commas, braces); it has no effect without TargetPath.
	Literal bool
}

// key returns the data key the reference reads.
func (r ValuesReference) key() string {
	if r.ValuesKey == "" {
		return DefaultValuesKey
	}
	return r.ValuesKey
}

// Errors wrapped by ValuesError, as fluxcd/pkg/chartutil names them.
var (
	ErrResourceNotFound   = errors.New("resource not found")
	ErrKeyNotFound        = errors.New("key not found")
	ErrUnsupportedRefKind = errors.New("unsupported values reference kind")
	ErrValuesDataRead     = errors.New("failed to read values data")
	ErrValueMerge         = errors.New("failed to merge value")
)

// ValuesError is a valuesFrom reference that could not be resolved. Its message names the
// reference as Flux's does.
type ValuesError struct {
	// Ref is the reference.
	Ref ValuesReference
	// Reason is one of the Err* values above.
	Reason error
	// Err is the underlying error, if any.
	Err error
}

// Error names the reference and the reason.
func (e *ValuesError) Error() string {
	var b strings.Builder
	b.WriteString("could not resolve")
	if e.Ref.Optional {
		b.WriteString(" optional")
	}
	if e.Ref.Kind != "" {
		b.WriteString(" " + e.Ref.Kind)
	}
	b.WriteString(" chart values reference")
	if e.Ref.Name != "" {
		fmt.Fprintf(&b, " '%s'", e.Ref.Name)
	}
	fmt.Fprintf(&b, " with key '%s'", e.Ref.key())
	reason := e.Reason.Error()
	if e.Err != nil {
		reason = reason + ": " + e.Err.Error()
	}
	b.WriteString(": " + reason)
	return b.String()
}

// Unwrap returns the reason and the underlying error, so that errors.Is sees both.
func (e *ValuesError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Err}
}

// ComposeValues merges the valuesFrom references in order, then the inline values, exactly as
// helm-controller does (fluxcd/pkg/chartutil ChartValuesFromReferences, ported without the
// cluster client). lookup returns the data of the ConfigMap or Secret named name (kind
// "ConfigMap" or "Secret") in the HelmRelease's namespace, Secret data already decoded, and
// whether the object exists. inline is not modified.
//
// As in Flux, a reference with a TargetPath first merges the inline values into the result and
// then sets the path; the inline maps share structure with the result at that point, so a path
// set there also ends up in the inline values merged last, and wins over later references.
func ComposeValues(refs []ValuesReference, inline map[string]any, lookup func(kind, name string) (map[string]string, bool)) (map[string]any, error) {
	values, err := normalize(inline)
	if err != nil {
		return nil, fmt.Errorf("inline values: %w", err)
	}
	result := map[string]any{}
	for _, ref := range refs {
		data, skip, err := referenceData(ref, lookup)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		if ref.TargetPath != "" {
			result = mergeMaps(result, values)
			set := replacePathValue
			if ref.Literal {
				set = replacePathLiteralValue
			}
			if err := set(result, ref.TargetPath, data); err != nil {
				return nil, &ValuesError{Ref: ref, Reason: ErrValueMerge, Err: err}
			}
			continue
		}
		v, err := common.ReadValues([]byte(data))
		if err != nil {
			return nil, &ValuesError{Ref: ref, Reason: ErrValuesDataRead, Err: err}
		}
		result = mergeMaps(result, v)
	}
	return mergeMaps(result, values), nil
}

// referenceData returns the data the reference points at, or skip for an optional reference
// whose object or key is missing.
func referenceData(ref ValuesReference, lookup func(kind, name string) (map[string]string, bool)) (data string, skip bool, err error) {
	if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
		return "", false, &ValuesError{Ref: ref, Reason: ErrUnsupportedRefKind}
	}
	obj, ok := lookup(ref.Kind, ref.Name)
	if !ok {
		if ref.Optional {
			return "", true, nil
		}
		return "", false, &ValuesError{Ref: ref, Reason: ErrResourceNotFound}
	}
	data, ok = obj[ref.key()]
	if !ok {
		if ref.Optional {
			return "", true, nil
		}
		return "", false, &ValuesError{Ref: ref, Reason: ErrKeyNotFound}
	}
	return data, false, nil
}

// normalize returns a deep copy of v as Flux sees spec.values: decoded from JSON, so numbers
// are float64 and maps are map[string]any.
func normalize(v map[string]any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// mergeMaps merges map b into a copy of a and returns it; values of b win, maps merge
// recursively, and a flat value may replace a map or the reverse (fluxcd/pkg/chartutil
// MergeMaps). Maps only in b are shared with the result, not copied, as in Flux.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if v, ok := v.(map[string]any); ok {
			if bv, ok := out[k]; ok {
				if bv, ok := bv.(map[string]any); ok {
					out[k] = mergeMaps(bv, v)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

// replacePathValue sets the value at the dot-notation path with Helm's --set parser; a value in
// single or double quotes is set as a string, like --set-string (fluxcd/pkg/chartutil
// ReplacePathValue).
func replacePathValue(values map[string]any, path, value string) error {
	const singleQuote, doubleQuote = "'", `"`
	isSingleQuoted := strings.HasPrefix(value, singleQuote) && strings.HasSuffix(value, singleQuote)
	isDoubleQuoted := strings.HasPrefix(value, doubleQuote) && strings.HasSuffix(value, doubleQuote)
	if isSingleQuoted || isDoubleQuoted {
		value = strings.Trim(value, singleQuote+doubleQuote)
		return strvals.ParseIntoString(path+"="+value, values)
	}
	return strvals.ParseInto(path+"="+value, values)
}

// literalEscaper escapes the --set metacharacters of a literal value; the backslash first, so
// that the later escapes are not escaped again.
var literalEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `[`, `\[`, `]`, `\]`, `{`, `\{`, `}`, `\}`)

// replacePathLiteralValue sets the value at the dot-notation path verbatim, keeping `\.` escapes
// in the path (fluxcd/pkg/chartutil ReplacePathLiteralValue).
func replacePathLiteralValue(values map[string]any, path, value string) error {
	return strvals.ParseIntoString(path+"="+literalEscaper.Replace(value), values)
}
