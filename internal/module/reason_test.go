package module

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNamespaceReasonRequired: a level looser than restricted needs a reason, at the level's position.
func TestNamespaceReasonRequired(t *testing.T) {
	const head = "apiVersion: polc.dev/v1alpha1\nkind: Module\nmetadata:\n  name: a\nspec:\n  type: application\n  version: 1.0.0\n  namespaces:\n"
	tests := []struct {
		name    string
		ns      string
		wantErr string
	}{
		{name: "restricted without reason", ns: "    - name: a\n"},
		{name: "privileged with reason", ns: "    - name: a\n      podSecurity: privileged\n      reason: host network\n"},
		{name: "baseline without reason", ns: "    - name: a\n      podSecurity: baseline\n",
			wantErr: "module.yaml:10:20: spec.namespaces[0].reason: required when podSecurity is baseline"},
		{name: "privileged with blank reason", ns: "    - name: a\n      podSecurity: privileged\n      reason: \" \"\n",
			wantErr: "module.yaml:10:20: spec.namespaces[0].reason: required when podSecurity is privileged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseModule("module.yaml", []byte(head+tc.ns))
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
