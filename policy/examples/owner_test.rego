package polc.owner_test

import data.polc.owner

namespace := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "media"}}

test_application_without_owner_is_denied if {
	msgs := owner.deny with input as namespace with data.polc.module as {"name": "media", "type": "application", "owner": ""}
	msgs == {"application module media declares no spec.owner; expected the team that runs it"}
}

test_application_with_owner_passes if {
	count(owner.deny) == 0 with input as namespace with data.polc.module as {"name": "media", "type": "application", "owner": "media-team"}
}

test_infrastructure_needs_no_owner if {
	count(owner.deny) == 0 with input as namespace with data.polc.module as {"name": "storage-core", "type": "infrastructure", "owner": ""}
}

test_only_namespaces_are_reported if {
	count(owner.deny) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
		with data.polc.module as {"name": "media", "type": "application", "owner": ""}
}
