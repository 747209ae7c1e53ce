# data.polc.module is the module's metadata, not its module.yaml: spec.type is type.
package polc.apps

deny contains "application" if {
	data.polc.module.spec.type == "application"
}
