package scaffold

import (
	"embed"
	"fmt"
	"path"

	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/module"
)

// SchemaDir is where polc writes the JSON Schemas of module.yaml and polc.yaml in a repository,
// relative to its root: the yaml-language-server modelines of the files that polc new and polc
// init write point there, so editors validate them offline. It is the same place as in polc's own
// repository.
const SchemaDir = "schemas"

// embedded holds copies of schemas/*.json of polc's repository (a test keeps them equal) and the
// starter polc.yaml.
//
//go:embed schemas/*.json starter/polc.yaml
var embedded embed.FS

// schemaNames maps a metadata file to the name of its JSON Schema.
var schemaNames = map[string]string{module.MetadataFile: "module.schema.json", module.ConfigFile: "polc.schema.json"}

// SchemaPath returns the repository-relative path of the JSON Schema of file (module.yaml or
// polc.yaml).
func SchemaPath(file string) string { return path.Join(SchemaDir, schemaNames[file]) }

// Schema returns the JSON Schema of file (module.yaml or polc.yaml), to be written at
// SchemaPath(file).
func Schema(file string) genfiles.File {
	name, ok := schemaNames[file]
	if !ok {
		panic(fmt.Sprintf("scaffold: no schema for %q", file)) // callers pass the constants of module
	}
	return genfiles.File{Path: SchemaPath(file), Data: mustRead("schemas/" + name)}
}

// StarterConfig returns the commented polc.yaml that polc init writes: every field at its default,
// with a modeline pointing at SchemaPath(polc.yaml).
func StarterConfig() []byte { return mustRead("starter/polc.yaml") }

// InitFiles returns the files of a new polc repository: the starter polc.yaml and the JSON
// Schemas of polc.yaml and module.yaml.
func InitFiles() []genfiles.File {
	return []genfiles.File{
		{Path: module.ConfigFile, Data: StarterConfig()},
		Schema(module.ConfigFile),
		Schema(module.MetadataFile),
	}
}

// CreateMissing creates the files that do not exist below root and leaves the others alone: they
// may be the user's. It writes through genfiles.Create (never through a symlink, every file or
// none). created and skipped are repository-relative.
func CreateMissing(root string, files []genfiles.File) (created, skipped []string, err error) {
	return genfiles.Create(root, files, genfiles.SkipExisting)
}

// mustRead reads an embedded file; the embed directive guarantees that it exists.
func mustRead(name string) []byte {
	data, err := embedded.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("scaffold: embedded %s: %v", name, err))
	}
	return data
}
