# METADATA
# title: Application modules name their owner
# description: >-
#   Every application module declares spec.owner in its module.yaml, so that reviews, alerts and
#   policy reports reach a team. The finding is reported on each Namespace the module renders.
# custom:
#   severity: error
#   remediation: Set spec.owner in the module's module.yaml to the team that runs it.
package polc.owner

deny contains msg if {
	data.polc.module.type == "application"
	data.polc.module.owner == ""
	input.kind == "Namespace"
	msg := sprintf("application module %s declares no spec.owner; expected the team that runs it", [data.polc.module.name])
}
