package kyverno

import (
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/stretchr/testify/require"
)

// TestCELIn evaluates celIn's condition with CEL: exactly the values are in, and a value with a
// newline makes it a list literal.
func TestCELIn(t *testing.T) {
	env, err := cel.NewEnv(cel.Variable("object", cel.DynType), ext.Bindings(), ext.Strings())
	require.NoError(t, err)
	eval := func(cond string, value any) bool {
		ast, iss := env.Compile(cond)
		require.NoError(t, iss.Err(), cond)
		prg, err := env.Program(ast)
		require.NoError(t, err)
		out, _, err := prg.Eval(map[string]any{"object": map[string]any{"value": value}})
		require.NoError(t, err, cond)
		return out.Value().(bool)
	}
	values := []string{"apps-media", "infra-core"}
	cond := celIn(`object.value`, values)
	require.NotContains(t, cond, "[")
	for value, want := range map[any]bool{
		"apps-media": true, "infra-core": true,
		"": false, "apps": false, "media": false, "apps-media\ninfra-core": true, // a filter may let more through
		"apps-media\n": false, 42: false, true: false,
	} {
		require.Equal(t, want, eval(cond, value), "%q", value)
	}
	withNewline := celIn(`object.value`, []string{"a\nb", "c"})
	require.True(t, strings.HasPrefix(withNewline, "object.value in ["), withNewline)
	require.True(t, eval(withNewline, "a\nb"))
	require.False(t, eval(withNewline, "a"))
}
