package helm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	chart "helm.sh/helm/v4/pkg/chart/v2"
)

// Helm validates values against a chart's values.schema.json with a loader that fetches http(s)
// references and reads file references from disk. polc validates the same way, except that
// references other than the chart's own schema resolve to the permissive schema `true`, as Helm
// does for unresolved urn: references: nothing is fetched or read.

// rootSchemaURL is the URL Helm gives a chart's own schema.
const rootSchemaURL = "file:///values.schema.json"

// permissiveLoader resolves every reference to the schema `true`.
type permissiveLoader struct{}

// Load returns the schema `true`.
func (permissiveLoader) Load(string) (any, error) { return true, nil }

// validateSchema checks values against the schemas of ch and its subcharts, as Helm's
// ValidateAgainstSchema does.
func validateSchema(ch *chart.Chart, values map[string]any) error {
	var sb strings.Builder
	if ch.Schema != nil {
		if err := validateSingleSchema(values, ch.Schema); err != nil {
			fmt.Fprintf(&sb, "%s:\n%s", ch.Name(), err)
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subValues, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		if err := validateSchema(sub, subValues); err != nil {
			sb.WriteString(err.Error())
		}
	}
	if sb.Len() > 0 {
		return errors.New(sb.String())
	}
	return nil
}

// validateSingleSchema checks values against one schema document.
func validateSingleSchema(values map[string]any, schemaJSON []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %v", r)
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(permissiveLoader{})
	if err := c.AddResource(rootSchemaURL, doc); err != nil {
		return err
	}
	s, err := c.Compile(rootSchemaURL)
	if err != nil {
		return err
	}
	if err := s.Validate(values); err != nil {
		msg := strings.TrimPrefix(err.Error(), "jsonschema validation failed with '"+rootSchemaURL+"#'\n")
		return errors.New(msg + "\n")
	}
	return nil
}
