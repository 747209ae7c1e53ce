package lib.names

# Helpers live in packages that polc does not query: only main and polc.<name> hold rules.
settings(name) if endswith(name, "-settings")
