package expr

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestQuoting: no value from module metadata can end a literal, whatever it holds.
func TestQuoting(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "cel plain", got: CELString("media"), want: `"media"`},
		{name: "cel quote and backslash", got: CELString(`a" || true || "\`), want: `"a\" || true || \"\\"`},
		{name: "cel control and line separators", got: CELString("a\nb\u2028c\x7f"), want: `"a\u000ab\u2028c\u007f"`},
		{name: "cel list", got: CELStrings([]string{"a", `b"`}), want: `["a", "b\""]`},
		{name: "cel empty list", got: CELStrings(nil), want: `[]`},
		{name: "cel label", got: CELLabel("app.kubernetes.io/name"), want: `object.metadata.?labels[?"app.kubernetes.io/name"].orValue("")`},
		{name: "cel annotation", got: CELAnnotation("a"), want: `object.metadata.?annotations[?"a"].orValue("")`},
		{name: "cel namespace", got: CELNamespaceIs("media"), want: `has(object.metadata.namespace) && object.metadata.namespace == "media"`},
		{name: "cel containers", got: CELContainers("containers", "initContainers"),
			want: `[variables.pod.spec.?containers.orValue([]), variables.pod.spec.?initContainers.orValue([])]`},
		{name: "jmes raw string", got: JMESString(`it's`), want: `'it\'s'`},
		{name: "jmes json list", got: JMESStrings([]string{"a`b", `c"`}), want: "`[\"a\\`b\",\"c\\\"\"]`"},
		{name: "jmes empty list", got: JMESStrings(nil), want: "`[]`"},
		{name: "jmes containers", got: JMESContainers("containers"), want: "[" + JMESPodSpec + ".containers || `[]`][]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.got)
		})
	}
}
