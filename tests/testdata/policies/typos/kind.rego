# Module metadata has no kind.
package polc.kinds

warn contains "module" if {
	data.polc.module.kind == "Module"
}
