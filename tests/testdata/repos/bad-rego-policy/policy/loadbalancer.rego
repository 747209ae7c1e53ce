# METADATA
# title: Applications do not expose LoadBalancer Services
# description: >-
#   Application modules reach the outside world through the ingress or gateway that an
#   infrastructure module provides, never through their own cloud load balancer. Infrastructure
#   modules (the ingress controller itself) may use type LoadBalancer.
# custom:
#   remediation: Use type ClusterIP and publish the Service through an Ingress or HTTPRoute.
package polc.loadbalancer

deny contains {"msg": msg, "field": "spec.type"} if {
	data.polc.module.type == "application"
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s of application module %s: spec.type is LoadBalancer; expected ClusterIP behind an Ingress or HTTPRoute", [input.metadata.name, data.polc.module.name])
}
