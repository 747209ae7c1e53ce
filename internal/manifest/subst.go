package manifest

import (
	"strings"

	"polc.dev/polc/internal/module"
)

// Substitute applies Flux post-build substitution to s: ${var}, ${var:=default}, ${var:-default}
// (default when unset or empty), ${var=default}, ${var-default} (default when unset); a default
// may itself hold references (${a:=${b}}); $${var} is an escape for a literal ${var}. It returns
// the result and the names of variables that had no value and no default, in order of
// appearance. Expressions that are not variable references (a name Flux would not accept, or
// bash operators such as ${#var} that polc does not evaluate) and an unterminated ${ are left as
// they are.
func Substitute(s string, vars map[string]string) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var unresolved []string
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := closing(s[i+2:])
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		expr := s[i+2 : i+2+end]
		value, ok, missing := expand(expr, vars)
		if !ok {
			// Not a reference: keep the ${ and go on, so references inside are still replaced.
			b.WriteString("${")
			i += 2
			continue
		}
		b.WriteString(value)
		unresolved = append(unresolved, missing...)
		i += 2 + end + 1
	}
	return b.String(), unresolved
}

// closing returns the index of the } that closes a ${ whose body starts s, counting nested ${ },
// or -1 when there is none.
func closing(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// expand evaluates one ${...} expression. ok is false when expr is not a variable reference;
// missing lists the variables that are unset and have no default (the default is substituted
// too, so it may name more).
func expand(expr string, vars map[string]string) (value string, ok bool, missing []string) {
	name, op, def := expr, "", ""
	for _, o := range []string{":=", ":-", "=", "-"} {
		if j := strings.Index(expr, o); j > 0 && (op == "" || j < len(name)) {
			name, op, def = expr[:j], o, expr[j+len(o):]
		}
	}
	if !module.IsVarName(name) {
		return "", false, nil
	}
	v, set := vars[name]
	switch op {
	case ":=", ":-":
		if !set || v == "" {
			def, missing = Substitute(def, vars)
			return def, true, missing
		}
	case "=", "-":
		if !set {
			def, missing = Substitute(def, vars)
			return def, true, missing
		}
	default:
		if !set {
			return "", true, []string{name}
		}
	}
	return v, true, nil
}
