package polc.loadbalancer_test

import data.polc.loadbalancer

service(type) := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"type": type}}

app := {"name": "media", "type": "application"}

test_application_load_balancer_is_denied if {
	loadbalancer.deny == {{
		"msg": "Service web of application module media: spec.type is LoadBalancer; expected ClusterIP behind an Ingress or HTTPRoute",
		"field": "spec.type",
	}} with input as service("LoadBalancer") with data.polc.module as app
}

test_application_cluster_ip_passes if {
	count(loadbalancer.deny) == 0 with input as service("ClusterIP") with data.polc.module as app
}

test_infrastructure_load_balancer_passes if {
	count(loadbalancer.deny) == 0 with input as service("LoadBalancer")
		with data.polc.module as {"name": "networking-core", "type": "infrastructure"}
}
