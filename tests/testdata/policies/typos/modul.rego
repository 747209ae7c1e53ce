# A misspelled document of data.polc.
package polc.types

deny contains "application" if {
	data.polc.modul.type == "application"
}
