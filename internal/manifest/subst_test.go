package manifest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"cluster_domain": "example.com", "empty": "", "REPLICAS": "3", "_x1": "y"}
	tests := []struct {
		name           string
		in             string
		want           string
		wantUnresolved []string
	}{
		{name: "no reference", in: "host: example.org", want: "host: example.org"},
		{name: "plain reference", in: "host: app.${cluster_domain}", want: "host: app.example.com"},
		{name: "several references", in: "${REPLICAS}x${_x1}${REPLICAS}", want: "3xy3"},
		{name: "unset without default is unresolved", in: "a: ${missing} b: ${other}", want: "a:  b: ", wantUnresolved: []string{"missing", "other"}},
		{name: "set but empty is a value", in: "a: '${empty}'", want: "a: ''"},
		{name: ":= uses the default when unset", in: "${missing:=fallback}", want: "fallback"},
		{name: ":= uses the default when empty", in: "${empty:=fallback}", want: "fallback"},
		{name: ":= keeps a set value", in: "${cluster_domain:=fallback}", want: "example.com"},
		{name: ":- uses the default when unset", in: "${missing:-fallback}", want: "fallback"},
		{name: ":- uses the default when empty", in: "${empty:-fallback}", want: "fallback"},
		{name: ":- keeps a set value", in: "${REPLICAS:-1}", want: "3"},
		{name: "= uses the default only when unset", in: "${missing=fallback}/${empty=fallback}/${REPLICAS=1}", want: "fallback//3"},
		{name: "- uses the default only when unset", in: "${missing-fallback}/${empty-fallback}/${REPLICAS-1}", want: "fallback//3"},
		{name: "empty default", in: "[${missing:-}]", want: "[]"},
		{name: "default holding operator characters", in: "${missing:-a-b=c:=d}", want: "a-b=c:=d"},
		{name: "default holding spaces", in: "${missing:=two words}", want: "two words"},
		{name: "$${var} escapes", in: "echo $${cluster_domain}", want: "echo ${cluster_domain}"},
		{name: "escape of an unset variable is not unresolved", in: "$${missing}", want: "${missing}"},
		{name: "escape next to a reference", in: "$${a}${REPLICAS}", want: "${a}3"},
		{name: "shell $VAR untouched", in: "echo $HOME $cluster_domain", want: "echo $HOME $cluster_domain"},
		{name: "lone dollar signs untouched", in: "cost: $5 $$ $", want: "cost: $5 $$ $"},
		{name: "name starting with a digit left alone", in: "${1abc}", want: "${1abc}"},
		{name: "name with a dot left alone", in: "${foo.bar}", want: "${foo.bar}"},
		{name: "name with a dash before an operator is split at the dash", in: "${a-b}", want: "b"},
		{name: "empty name left alone", in: "${}", want: "${}"},
		{name: "operator without a name left alone", in: "${:-x}", want: "${:-x}"},
		{name: "bash expression left alone", in: "${#arr[@]} ${var/a/b}", want: "${#arr[@]} ${var/a/b}"},
		{name: "unterminated reference", in: "a: ${cluster_domain", want: "a: ${cluster_domain"},
		{name: "unterminated after a good one", in: "${REPLICAS} ${x", want: "3 ${x"},
		{name: "unterminated escape", in: "$${x", want: "${x"},
		{name: "default holding a reference", in: "something ${var=${cluster_domain}}", want: "something example.com"},
		{name: "default holding a reference and text", in: "foo: ${var=prefix-${REPLICAS}-suffix}", want: "foo: prefix-3-suffix"},
		{name: "default holding an unresolved reference", in: "${var:-${missing}}", want: "", wantUnresolved: []string{"missing"}},
		{name: "default not evaluated when the value is set", in: "${REPLICAS:-${missing}}", want: "3"},
		{name: "escape before a default holding a reference", in: "something $${var=${cluster_domain}}", want: "something ${var=example.com}"},
		{name: "escapes mixed with references (Flux's own case)", in: "some text ${_x1}$${var$${_x1}$_x1${_x1}", want: "some text y${var${_x1}$_x1y"},
		{name: "reference inside an expression that is not one is still replaced", in: "${#a-${REPLICAS}}", want: "${#a-3}"},
		{name: "unterminated nested reference", in: "${a:-${REPLICAS}", want: "${a:-${REPLICAS}"},
		{name: "multi-line text", in: "a: ${REPLICAS}\nb: ${cluster_domain}\n", want: "a: 3\nb: example.com\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, unresolved := Substitute(tc.in, vars)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.wantUnresolved, unresolved)
		})
	}
}

func TestSubstituteNilVars(t *testing.T) {
	got, unresolved := Substitute("${a:=1} ${b}", nil)
	require.Equal(t, "1 ", got)
	require.Equal(t, []string{"b"}, unresolved)
}
