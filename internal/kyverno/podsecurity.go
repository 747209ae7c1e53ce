package kyverno

import "polc.dev/polc/internal/module"

// podSecurityCEL returns one CEL expression per Pod Security control of level, over variables.pod.
func podSecurityCEL(level module.Level) []string {
	return nil
}
