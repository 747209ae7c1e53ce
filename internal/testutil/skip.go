package testutil

import (
	"os"
	"testing"
)

// Environment variables that decide whether a suite may skip.
const (
	// EnvCI is set (to anything non-empty) by CI (.ci/run sets CI=1): a suite that would skip
	// because something it needs is missing fails instead, so that CI cannot pass without running it.
	EnvCI = "CI"
	// EnvAllowSkip=1 lets suites skip under CI again, for a run that knowingly leaves them out.
	EnvAllowSkip = "POLC_ALLOW_SKIP"
)

// SkipsFail reports whether a skipped suite must fail the run: CI is set and POLC_ALLOW_SKIP is not 1.
func SkipsFail() bool {
	return os.Getenv(EnvCI) != "" && os.Getenv(EnvAllowSkip) != "1"
}

// SkipOrFail skips t because a prerequisite is missing, or fails it when SkipsFail. reason names
// what is missing and how to install it, for example
// "bin/kustomize is missing: run hack/build-tools.sh kustomize".
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if SkipsFail() {
		t.Fatalf("NOT RUN, and %s is set: %s (set %s=1 to allow the skip)", EnvCI, reason, EnvAllowSkip)
		return
	}
	t.Skipf("SKIPPED: %s", reason)
}

// MissingOrFail is SkipOrFail for part of a test: the rest of the test runs. It logs that the part
// named by reason was not run, and marks the test failed when SkipsFail.
func MissingOrFail(t testing.TB, reason string) {
	t.Helper()
	if SkipsFail() {
		t.Errorf("NOT RUN, and %s is set: %s (set %s=1 to allow the skip)", EnvCI, reason, EnvAllowSkip)
		return
	}
	t.Logf("!!! NOT RUN: %s", reason)
}
