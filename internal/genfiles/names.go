package genfiles

import (
	"errors"
	"fmt"

	"polc.dev/polc/internal/module"
)

// ErrBadName is wrapped by the errors of names that cannot become file names.
var ErrBadName = errors.New("is not a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)")

// CheckLabel validates a name that becomes (part of) a generated path: it must be a DNS-1123
// label, which can hold no '/', '.', line break or Markdown and YAML syntax.
func CheckLabel(name string) error {
	if !module.IsDNSLabel(name) {
		return fmt.Errorf("%q %w", name, ErrBadName)
	}
	return nil
}

// CheckModuleNames validates the names of modules before a generator turns them into file names:
// every metadata.name must be a DNS-1123 label. The error names the module.yaml position of each
// bad name.
func CheckModuleNames(mods []*module.Module) error {
	var errs []error
	for _, m := range mods {
		if err := CheckLabel(m.Name()); err != nil {
			errs = append(errs, fmt.Errorf("%s: metadata.name %w", m.Pos("metadata.name"), err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("module names become file names; fix them (see polc check, rule module/name): %w", errors.Join(errs...))
	}
	return nil
}
