package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildPolc builds the polc command at pkg (a relative package path such as ../cmd/polc) into a
// new temporary directory, for tests that run the binary as users do. remove deletes it.
func BuildPolc(pkg string) (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "polc-bin-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "polc")
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build polc: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}
