package tests

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/report"
)

// TestOwnCatalog checks this repository's own modules/ (the starter catalog): no finding, warnings
// included, except the HelmReleases that polc does not render yet (excepted, with a reason), and
// every non-component module renders objects.
func TestOwnCatalog(t *testing.T) {
	res := Polc(t, "..", "check", "--format", "json", "--fail-on", "warning")
	require.Equal(t, 0, res.Code, "%s\n%s", res.Stdout, res.Stderr)
	var rep report.JSONReport
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &rep))
	for _, f := range rep.Findings {
		require.True(t, f.Excepted && f.Rule == "coverage/unrendered", "finding: %+v", f)
	}
	require.Len(t, rep.Summary.Coverage.NotRendered, 6, "the catalog's HelmReleases")
	require.GreaterOrEqual(t, rep.Summary.Modules, 9)
	require.Greater(t, rep.Summary.Objects, 40)
}
