// Command polc checks module repositories offline and compiles their Kyverno policy pack.
package main

import (
	"os"

	"polc.dev/polc/internal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
