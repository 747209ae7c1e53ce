package hostile

import (
	"strings"
	"testing"

	"polc.dev/polc/internal/testutil"
)

// TestHostileReleaseFiles: release files that leave the repository, are huge, nest without end or
// are YAML bombs make `polc release config` stop with a clear error naming the file (and the
// line, where there is one), write nothing, and make rule versions/release-config report, not
// hang.
func TestHostileReleaseFiles(t *testing.T) {
	deep := "{\"packages\": " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}\n"
	tests := []hostileCase{
		{
			name:     "a release-please-config.json symlink out of the repository is not read",
			links:    map[string]string{"release-please-config.json": "{{OUTSIDE}}/victim.txt"},
			args:     []string{"release", "config"},
			wantCode: 2,
			want:     []string{"release-please-config.json", "symlink points outside the repository"},
		},
		{
			name:     "nor by --check",
			links:    map[string]string{"release-please-config.json": "{{OUTSIDE}}/victim.txt"},
			args:     []string{"release", "config", "--check"},
			wantCode: 2,
			want:     []string{"symlink points outside the repository"},
		},
		{
			name:     "a renovate directory that is a symlink out of the repository is not written through",
			links:    map[string]string{"renovate": "{{OUTSIDE}}"},
			args:     []string{"release", "config"},
			wantCode: 2,
			want:     []string{"refusing to write renovate/polc-modules.json, nothing written: directory renovate is a symlink"},
		},
		{
			name:     "a huge release-please-config.json is not parsed",
			files:    map[string]string{"release-please-config.json": "{\"x\": \"" + strings.Repeat("a", 3<<20) + "\"}\n"},
			args:     []string{"release", "config"},
			wantCode: 2,
			want:     []string{"release-please-config.json: file is larger than the 1024 KiB limit of release files"},
		},
		{
			name:     "deeply nested JSON is refused before parsing",
			files:    map[string]string{"release-please-config.json": deep},
			args:     []string{"release", "config"},
			wantCode: 2,
			want:     []string{"release-please-config.json:1:45: JSON nested more than 32 levels deep"},
		},
		{
			name:     "a YAML alias bomb is not JSON",
			files:    map[string]string{".release-please-manifest.json": testutil.AliasBomb("x:\n")},
			args:     []string{"release", "config"},
			wantCode: 2,
			want:     []string{".release-please-manifest.json:1:1: not valid JSON"},
		},
		{
			name:     "the rule reports the bomb at its line",
			files:    map[string]string{".release-please-manifest.json": testutil.AliasBomb("x:\n")},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{".release-please-manifest.json:1:1: error versions/release-config: not valid JSON"},
		},
		{
			name:     "and the deep nesting",
			files:    map[string]string{"release-please-config.json": deep},
			args:     []string{"check"},
			wantCode: 1,
			want:     []string{"release-please-config.json:1:45: error versions/release-config: JSON nested more than 32 levels deep"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}
