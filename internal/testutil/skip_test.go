package testutil

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that records what a helper asks of it instead of ending the test.
type recorder struct {
	testing.TB
	calls []string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.record("Fatalf", format, args...) }
func (r *recorder) Errorf(format string, args ...any) { r.record("Errorf", format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.record("Skipf", format, args...) }
func (r *recorder) Logf(format string, args ...any)   { r.record("Logf", format, args...) }

func (r *recorder) record(method, format string, args ...any) {
	r.calls = append(r.calls, method+": "+fmt.Sprintf(format, args...))
}

func TestSkipOrFail(t *testing.T) {
	const reason = "bin/tool is missing: run hack/build-tools.sh tool"
	const failed = "NOT RUN, and CI is set: " + reason + " (set POLC_ALLOW_SKIP=1 to allow the skip)"
	tests := []struct {
		name, ci, allow string
		skip, missing   string
	}{
		{name: "outside CI the suite skips", skip: "Skipf: SKIPPED: " + reason, missing: "Logf: !!! NOT RUN: " + reason},
		{name: "CI set fails", ci: "1", skip: "Fatalf: " + failed, missing: "Errorf: " + failed},
		{name: "any non-empty CI counts", ci: "true", skip: "Fatalf: " + failed, missing: "Errorf: " + failed},
		{name: "POLC_ALLOW_SKIP=1 allows the skip under CI", ci: "1", allow: "1", skip: "Skipf: SKIPPED: " + reason, missing: "Logf: !!! NOT RUN: " + reason},
		{name: "POLC_ALLOW_SKIP other than 1 does not", ci: "1", allow: "yes", skip: "Fatalf: " + failed, missing: "Errorf: " + failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvCI, tc.ci)
			t.Setenv(EnvAllowSkip, tc.allow)
			r := &recorder{TB: t}
			SkipOrFail(r, reason)
			MissingOrFail(r, reason)
			require.Equal(t, []string{tc.skip, tc.missing}, r.calls)
		})
	}
}

// TestSkipOrFailEndsTheTest runs SkipOrFail on a real test outside CI: the test is skipped and
// nothing after the call runs.
func TestSkipOrFailEndsTheTest(t *testing.T) {
	t.Setenv(EnvCI, "")
	ran := false
	t.Run("skipped", func(t *testing.T) {
		SkipOrFail(t, "nothing")
		ran = true
	})
	require.False(t, ran)
}
