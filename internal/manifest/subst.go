package manifest

import (
	"regexp"
	"strings"
)

// varName is the variable name syntax that Flux accepts for post-build substitution.
var varName = regexp.MustCompile(`^[_[:alpha:]][_[:alpha:][:digit:]]*$`)

// Substitute applies Flux post-build substitution to s: ${var}, ${var:=default}, ${var:-default}
// (default when unset or empty), ${var=default}, ${var-default} (default when unset); $${var} is
// an escape for a literal ${var}. It returns the result and the names of variables that had no
// value and no default, in order of appearance. Expressions that are not variable references
// (a name Flux would not accept) are left as they are.
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
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		expr := s[i+2 : i+end]
		value, ok, missing := expand(expr, vars)
		if !ok {
			b.WriteString(s[i : i+end+1])
		} else {
			b.WriteString(value)
			if missing {
				unresolved = append(unresolved, expr)
			}
		}
		i += end + 1
	}
	return b.String(), unresolved
}

// expand evaluates one ${...} expression. ok is false when expr is not a variable reference;
// missing is true when the variable is unset and has no default.
func expand(expr string, vars map[string]string) (value string, ok, missing bool) {
	name, op, def := expr, "", ""
	for _, o := range []string{":=", ":-", "=", "-"} {
		if j := strings.Index(expr, o); j > 0 && (op == "" || j < len(name)) {
			name, op, def = expr[:j], o, expr[j+len(o):]
		}
	}
	if !varName.MatchString(name) {
		return "", false, false
	}
	v, set := vars[name]
	switch op {
	case ":=", ":-":
		if !set || v == "" {
			return def, true, false
		}
	case "=", "-":
		if !set {
			return def, true, false
		}
	default:
		if !set {
			return "", true, true
		}
	}
	return v, true, false
}
