package manifest

import (
	"fmt"
	"strings"

	"polc.dev/polc/internal/module"
)

// Substitute applies Flux post-build substitution to s: ${var}, ${var:=default}, ${var:-default}
// (default when unset or empty), ${var=default}, ${var-default} (default when unset); a default
// may itself hold references (${a:=${b}}); $${var} is an escape for a literal ${var}. It returns
// the result and the names of variables that had no value and no default, in order of
// appearance. A result over module.MaxFileSize leaves s as it is. Expressions that are not variable references (a name Flux would not accept, or
// bash operators such as ${#var} that polc does not evaluate), an unterminated ${, and an
// expression with more than maxNesting others nested inside it are left as they are.
func Substitute(s string, vars map[string]string) (string, []string) {
	out, missing, err := SubstituteLimit(s, vars, module.MaxFileSize)
	if err != nil {
		return s, missing
	}
	return out, missing
}

// ErrTooLarge is returned by SubstituteLimit when the result would exceed its limit.
var ErrTooLarge = fmt.Errorf("the result of substitution is larger than the limit")

// SubstituteLimit is Substitute with a cap on the size of the result, in bytes (0 means no cap),
// checked while the result is built: a large value referenced many times fails with ErrTooLarge
// instead of growing without bound.
func SubstituteLimit(s string, vars map[string]string, limit int) (string, []string, error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
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
		if end == tooDeep {
			// Left as it is, as an expression that is not a reference; references inside still count.
			b.WriteString("${")
			i += 2
			continue
		}
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		expr := s[i+2 : i+2+end]
		value, ok, missing, err := expand(expr, vars, limit)
		if err != nil {
			return "", unresolved, err
		}
		if !ok {
			// Not a reference: keep the ${ and go on, so references inside are still replaced.
			b.WriteString("${")
			i += 2
			continue
		}
		if limit > 0 && b.Len()+len(value) > limit {
			return "", unresolved, fmt.Errorf("%w of %d MiB", ErrTooLarge, limit>>20)
		}
		b.WriteString(value)
		unresolved = append(unresolved, missing...)
		i += 2 + end + 1
	}
	if limit > 0 && b.Len() > limit {
		// The text around the references counts too.
		return "", unresolved, fmt.Errorf("%w of %d MiB", ErrTooLarge, limit>>20)
	}
	return b.String(), unresolved, nil
}

// maxNesting caps how many levels of ${ expressions may nest inside one expression. One with
// more is left as it is (the expressions inside it are still substituted), which keeps
// substitution linear in the text: a byte is scanned at most once per enclosing expression, and
// defaults recurse at most this deep. Hand-written manifests nest two or three.
const maxNesting = 16

// tooDeep is what closing returns for an expression that nests deeper than maxNesting.
const tooDeep = -2

// closing returns the index of the } that closes a ${ whose body starts s, counting nested ${ },
// or -1 when there is none, or tooDeep when ${ nest deeper than maxNesting before it.
func closing(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			if depth > maxNesting {
				return tooDeep
			}
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
func expand(expr string, vars map[string]string, limit int) (value string, ok bool, missing []string, err error) {
	name, op, def := expr, "", ""
	for _, o := range []string{":=", ":-", "=", "-"} {
		if j := strings.Index(expr, o); j > 0 && (op == "" || j < len(name)) {
			name, op, def = expr[:j], o, expr[j+len(o):]
		}
	}
	if !module.IsVarName(name) {
		return "", false, nil, nil
	}
	v, set := vars[name]
	switch op {
	case ":=", ":-":
		if !set || v == "" {
			def, missing, err = SubstituteLimit(def, vars, limit)
			return def, true, missing, err
		}
	case "=", "-":
		if !set {
			def, missing, err = SubstituteLimit(def, vars, limit)
			return def, true, missing, err
		}
	default:
		if !set {
			return "", true, []string{name}, nil
		}
	}
	return v, true, nil, nil
}
