package builtin

import (
	"polc.dev/polc/internal/rule"
)

// ModuleMetadata is reported by the loader for module.yaml files that do not load.
var ModuleMetadata = rule.Rule{
	ID:       rule.MetadataRule,
	Title:    "module.yaml parses strictly against the schema",
	Severity: rule.Error,
	Scope:    rule.ModuleScope,
	Doc: "Every module.yaml must parse as YAML and match the module schema exactly: no unknown fields, no " +
		"duplicate keys, no anchors or aliases, the right types, and enum values from the allowed lists. A " +
		"module whose metadata does not load is left out of every other check, so this finding hides others.",
	Remediation: "Fix module.yaml so that it matches the schema in schemas/module.schema.json.",
}
