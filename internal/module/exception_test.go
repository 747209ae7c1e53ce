package module

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ref names an object for the exception tests.
type ref struct{ Kind, Namespace, Name string }

func TestExceptionSelects(t *testing.T) {
	ex := Exception{Rule: "security/pod-security", Reason: "needed", Resources: []ResourceRef{
		{Kind: "DaemonSet", Name: "longhorn-manager"},
		{Kind: "Deployment", Name: "csi-attacher", Namespace: "longhorn-system"},
	}}
	tests := []struct {
		name string
		ref  ref
		want bool
	}{
		{name: "kind and name, any namespace", ref: ref{Kind: "DaemonSet", Name: "longhorn-manager", Namespace: "longhorn-system"}, want: true},
		{name: "kind and name, cluster-scoped", ref: ref{Kind: "DaemonSet", Name: "longhorn-manager"}, want: true},
		{name: "second resource with its namespace", ref: ref{Kind: "Deployment", Name: "csi-attacher", Namespace: "longhorn-system"}, want: true},
		{name: "namespace differs", ref: ref{Kind: "Deployment", Name: "csi-attacher", Namespace: "default"}, want: false},
		{name: "kind differs", ref: ref{Kind: "Deployment", Name: "longhorn-manager"}, want: false},
		{name: "name differs", ref: ref{Kind: "DaemonSet", Name: "longhorn-driver"}, want: false},
		{name: "kind is case-sensitive", ref: ref{Kind: "daemonset", Name: "longhorn-manager"}, want: false},
		{name: "name is matched exactly, not as a prefix", ref: ref{Kind: "DaemonSet", Name: "longhorn-manager-2"}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, ex.Selects(tc.ref.Kind, tc.ref.Namespace, tc.ref.Name))
		})
	}
	require.False(t, Exception{Rule: "x"}.Selects("DaemonSet", "", "longhorn-manager"), "no resources match nothing")
}

func TestExceptionExpired(t *testing.T) {
	ex := Exception{Expires: "2027-06-30"}
	tests := []struct {
		name string
		ex   Exception
		now  time.Time
		want bool
	}{
		{name: "well before", ex: ex, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), want: false},
		{name: "start of the expiry day", ex: ex, now: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), want: false},
		{name: "end of the expiry day is still valid", ex: ex, now: time.Date(2027, 6, 30, 23, 59, 59, 999, time.UTC), want: false},
		{name: "midnight after the expiry day", ex: ex, now: time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), want: false},
		{name: "just past midnight after the expiry day", ex: ex, now: time.Date(2027, 7, 1, 0, 0, 1, 0, time.UTC), want: true},
		{name: "a year later", ex: ex, now: time.Date(2028, 7, 1, 0, 0, 0, 0, time.UTC), want: true},
		{name: "the day is a UTC day", ex: ex, now: time.Date(2027, 7, 1, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), want: false},
		{name: "no expiry never expires", ex: Exception{}, now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), want: false},
		{name: "malformed expiry is not expired here (exceptions/valid reports it)", ex: Exception{Expires: "30.06.2027"}, now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.ex.Expired(tc.now))
		})
	}
}

func TestExceptionExcuses(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ex := Exception{Rule: "security/image-tag", Reason: "vendor image", Expires: "2027-06-30",
		Resources: []ResourceRef{{Kind: "Deployment", Name: "web"}}}
	require.True(t, ex.Excuses("security/image-tag", "Deployment", "apps", "web", now))
	require.False(t, ex.Excuses("security/image-digest", "Deployment", "apps", "web", now), "another rule")
	require.False(t, ex.Excuses("security/image-tag", "Deployment", "apps", "api", now), "another object")
	require.False(t, ex.Excuses("security/image-tag", "Deployment", "apps", "web", time.Date(2027, 7, 2, 0, 0, 0, 0, time.UTC)), "expired")
	blank := ex
	blank.Reason = "  "
	require.False(t, blank.Excuses("security/image-tag", "Deployment", "apps", "web", now), "no reason excuses nothing")
}
