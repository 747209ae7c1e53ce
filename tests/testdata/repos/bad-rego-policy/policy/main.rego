package main

import data.lib.names

# Settings ConfigMaps of application modules are immutable, so that a changed setting rolls out
# as a new object.
warn contains msg if {
	input.kind == "ConfigMap"
	names.settings(input.metadata.name)
	data.polc.module.type == "application"
	not input.immutable
	msg := sprintf("ConfigMap %s of module %s is not immutable; expected immutable: true", [input.metadata.name, data.polc.module.name])
}
