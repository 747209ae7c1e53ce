# Evaluated: package polc.<name>.
package polc.owner

deny contains msg if {
	data.polc.module.type == "application"
	data.polc.module.owner == ""
	input.kind == "Namespace"
	msg := sprintf("application module %s declares no spec.owner", [data.polc.module.name])
}
