package cli

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOutputsRefuseSharedDestination: two reports never go to the same place, where they would be
// concatenated into output no tool can parse.
func TestOutputsRefuseSharedDestination(t *testing.T) {
	tests := []struct {
		name    string
		formats []string
		wantErr string
	}{
		{name: "one report", formats: []string{"json"}},
		{name: "one on stdout, others in files", formats: []string{"text", "json=a.json", "sarif=a.sarif"}},
		{name: "two on stdout", formats: []string{"json", "text"}, wantErr: "json and text would both write to standard output"},
		{name: "two in one file", formats: []string{"json=r", "sarif=r"}, wantErr: "json and sarif would both write to r"},
		{name: "unknown format", formats: []string{"yaml"}, wantErr: "--format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := checkOptions{formats: tc.formats, failOn: "error"}
			outs, err := o.outputs(io.Discard)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, outs, len(tc.formats))
		})
	}
}
