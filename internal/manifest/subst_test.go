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
		wantErr        bool // Flux cannot parse it: SubstituteLimit fails, Substitute returns in as it is
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
		{name: "= uses the default when unset or empty", in: "${missing=fallback}/${empty=fallback}/${REPLICAS=1}", want: "fallback/fallback/3"},
		{name: "- is not an operator for Flux", in: "${missing-fallback}/${empty-fallback}/${REPLICAS-1}", wantErr: true},
		{name: ":+ and :? give the default when unset or empty", in: "${missing:+x}/${empty:?x}/${REPLICAS:+x}", want: "x/x/3"},
		{name: "empty default", in: "[${missing:-}]", want: "[]"},
		{name: "default holding operator characters", in: "${missing:-a-b=c:=d}", want: "a-b=c:=d"},
		{name: "default holding spaces", in: "${missing:=two words}", want: "two words"},
		{name: "$${var} escapes", in: "echo $${cluster_domain}", want: "echo ${cluster_domain}"},
		{name: "escape of an unset variable is not unresolved", in: "$${missing}", want: "${missing}"},
		{name: "escape next to a reference", in: "$${a}${REPLICAS}", want: "${a}3"},
		{name: "shell $VAR untouched", in: "echo $HOME $cluster_domain", want: "echo $HOME $cluster_domain"},
		{name: "$$ becomes $, lone dollar signs stay", in: "cost: $5 $$ $", want: "cost: $5 $ $"},
		{name: "name starting with a digit is a variable", in: "${1abc}", want: "", wantUnresolved: []string{"1abc"}},
		{name: "name with a dot", in: "${foo.bar}", wantErr: true},
		{name: "name with a dash before an operator", in: "${a-b}", wantErr: true},
		{name: "empty name", in: "${}", wantErr: true},
		{name: "operator without a name", in: "${:-x}", wantErr: true},
		{name: "bash array", in: "${#arr[@]}", wantErr: true},
		{name: "bash forms", in: "${#cluster_domain} ${cluster_domain/example/test} ${cluster_domain%.com} ${cluster_domain^^} ${cluster_domain:0:7}", want: "11 test.com example EXAMPLE.COM example"},
		{name: "bash form of an unset variable", in: "${var/a/b}", want: "", wantUnresolved: []string{"var"}},
		{name: "unterminated reference", in: "a: ${cluster_domain", wantErr: true},
		{name: "unterminated after a good one", in: "${REPLICAS} ${x", wantErr: true},
		{name: "unterminated escape", in: "$${x", want: "${x"},
		{name: "default holding a reference", in: "something ${var=${cluster_domain}}", want: "something example.com"},
		{name: "default holding a reference and text", in: "foo: ${var=prefix-${REPLICAS}-suffix}", want: "foo: prefix-3-suffix"},
		{name: "default holding an unresolved reference", in: "${var:-${missing}}", want: "", wantUnresolved: []string{"missing"}},
		{name: "default not evaluated when the value is set", in: "${REPLICAS:-${missing}}", want: "3"},
		{name: "escape before a default holding a reference", in: "something $${var=${cluster_domain}}", want: "something ${var=example.com}"},
		{name: "escapes mixed with references (Flux's own case)", in: "some text ${_x1}$${var$${_x1}$_x1${_x1}", want: "some text y${var${_x1}$_x1y"},
		{name: "reference inside an expression that is not one", in: "${#a-${REPLICAS}}", wantErr: true},
		{name: "unterminated nested reference", in: "${a:-${REPLICAS}", wantErr: true},
		{name: "multi-line text", in: "a: ${REPLICAS}\nb: ${cluster_domain}\n", want: "a: 3\nb: example.com\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, unresolved := Substitute(tc.in, vars)
			_, _, err := SubstituteLimit(tc.in, vars, 0)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrFluxSyntax)
				require.Equal(t, tc.in, got)
				return
			}
			require.NoError(t, err)
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
