package main

# Tests are left out of polc check; this one would report if it were loaded as a rule.
deny contains "tests are not rules" if true

test_settings_configmap_warns if {
	count(warn) == 1 with input as {"kind": "ConfigMap", "metadata": {"name": "a-settings"}}
		with data.polc.module as {"name": "media", "type": "application"}
}
