package manifest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fluxcd/pkg/envsubst"
	"github.com/fluxcd/pkg/envsubst/parse"

	"polc.dev/polc/internal/module"
)

// Flux post-build substitution. kustomize-controller (through fluxcd/pkg/kustomize's
// varSubstitution) runs github.com/fluxcd/pkg/envsubst over each object's YAML; by default
// (non-strict) every variable resolves, an unset one to "". polc runs the same envsubst code on
// each ${...} expression and adds what the controller does not do: it lists the variables that
// had no value and no default, caps the size of the result, and refuses expressions whose
// evaluation would nest too deep or take too long. The text between expressions follows Flux's
// parser: "$$" becomes "$" and a NUL byte ends the text.

// Substitute applies Flux post-build substitution to s, as SubstituteLimit does with the limit
// module.MaxFileSize, and returns the result and the names of the variables that had no value and
// no default, in order of appearance. On any error (a result over the limit, an expression Flux
// cannot parse) it returns s as it is.
func Substitute(s string, vars map[string]string) (string, []string) {
	out, missing, err := SubstituteLimit(s, vars, module.MaxFileSize)
	if err != nil {
		return s, missing
	}
	return out, missing
}

// ErrTooLarge is returned by SubstituteLimit when the result would exceed its limit.
var ErrTooLarge = errors.New("the result of substitution is larger than the limit")

// ErrTooComplex is returned by SubstituteLimit for an expression that polc does not evaluate,
// although Flux would: one nested more than maxNesting levels deep, or one whose evaluation by
// envsubst would take too long (pattern trimming of a long value, many escapes in one expression).
var ErrTooComplex = errors.New("the expression is too complex to evaluate")

// ErrFluxSyntax is returned by SubstituteLimit for an expression on which Flux's envsubst fails
// (it cannot parse it, or panics); kustomize-controller then fails the Kustomization ("post
// build failed ... envsubst error: variable substitution failed").
var ErrFluxSyntax = errors.New("rejected by Flux's envsubst, which fails the Kustomization")

// ExprError is an error in one ${...} expression of the text given to SubstituteLimit.
type ExprError struct {
	Line int    // line of the expression in the text, from 1
	Expr string // the expression, shortened
	Err  error  // wraps ErrFluxSyntax, ErrTooComplex or ErrTooLarge
}

func (e *ExprError) Error() string { return fmt.Sprintf("line %d: %q: %v", e.Line, e.Expr, e.Err) }

// Unwrap returns the cause.
func (e *ExprError) Unwrap() error { return e.Err }

// SubstituteLimit applies Flux post-build substitution with vars to s, as kustomize-controller
// does in its default, non-strict mode: envsubst evaluates every ${...} expression, bash forms
// included, and an unset variable counts as "". The forms are ${var}; ${var:-x}, ${var:=x},
// ${var=x}, ${var:+x} and ${var:?x}, which all give x when var is empty or unset, and var
// otherwise (x may hold references, ${a:-${b}}); ${#var}; ${var:offset} and
// ${var:offset:length}; ${var#p}, ${var##p}, ${var%p}, ${var%%p}; ${var/a/b}, ${var//a/b},
// ${var/#a/b}, ${var/%a/b}; ${var^}, ${var^^}, ${var,}, ${var,,}. Anything else after "${" (a
// name with a dot, ${var-x}, ${}, an unterminated ${) is a syntax error for Flux, returned as an
// *ExprError wrapping ErrFluxSyntax. Outside expressions "$$" stands for "$" (so $${var} is a
// literal ${var}) and a NUL byte ends the text, as in Flux's parser; in the pattern and the
// replacement of ${var/a/b}, "$$", "\/" and "\\" stand for "$", "/" and "\"; elsewhere inside an
// expression "$$" is two dollars.
//
// It returns the names of the variables that had no value and no default, in order of
// appearance: a variable referenced without a default-giving operator (:- := = :+ :?) that is
// unset, including inside a default that is used; names in a default that is not used are not
// listed. The size of the result is capped at limit bytes (0 means no cap), checked before and
// while the result is built: a large value referenced many times fails with ErrTooLarge instead
// of growing without bound. Text without "${", "$$" or a NUL byte comes back as it is, and the
// cap applies only to text with "${". Variable names that Flux refuses (see module.IsVarName)
// are an error, as they fail the Kustomization in Flux.
func SubstituteLimit(s string, vars map[string]string, limit int) (string, []string, error) {
	if !strings.Contains(s, "${") && !strings.Contains(s, "$$") && strings.IndexByte(s, 0) < 0 {
		return s, nil, nil
	}
	if err := checkVarNames(vars); err != nil {
		return "", nil, err
	}
	sub := &substitution{vars: vars, limit: limit, capped: limit > 0 && strings.Contains(s, "${")}
	out, err := sub.run(s)
	if err != nil {
		return "", sub.missing, err
	}
	return out, sub.missing, nil
}

// checkVarNames returns an error naming the first variable, in sorted order, whose name Flux
// refuses (fluxcd/pkg/kustomize's varsubRegex).
func checkVarNames(vars map[string]string) error {
	var bad []string
	for name := range vars {
		if !module.IsVarName(name) {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("variable name %q is invalid: Flux accepts only letters, digits and underscores, not starting with a digit, and fails the Kustomization", bad[0])
}

// Limits on the work of one SubstituteLimit call, beyond the size of the result.
const (
	// maxNesting caps how many ${ expressions one may sit inside: envsubst parses and evaluates
	// nested expressions recursively. Hand-written manifests nest two or three.
	maxNesting = 64
	// maxSteps caps the work, in byte operations, of what envsubst does in more than linear time:
	// each escape in an expression copies the expression, and ${var#pattern} and its kin match
	// the pattern against every prefix or suffix of the value.
	maxSteps = 1 << 27
	// saturated is where the estimates of sizes and work stop growing.
	saturated = math.MaxInt >> 2
)

// substitution is one run of SubstituteLimit.
type substitution struct {
	vars    map[string]string
	limit   int
	capped  bool // whether the result is capped at limit
	steps   int  // work done so far, against maxSteps
	missing []string
	b       strings.Builder
}

// run substitutes s: text is copied, with "$$" as "$", up to a NUL byte; each ${...} expression
// is evaluated by envsubst on its own, so that recursion, memory and time stay bounded whatever
// the number of expressions.
func (sub *substitution) run(s string) (string, error) {
	for i := 0; i < len(s); {
		j := strings.IndexAny(s[i:], "$\x00")
		if j < 0 {
			sub.b.WriteString(s[i:])
			break
		}
		sub.b.WriteString(s[i : i+j])
		next, err := sub.special(s, i+j)
		if err != nil {
			return "", err
		}
		if sub.capped && sub.b.Len() > sub.limit {
			return "", tooLarge(sub.limit)
		}
		i = next
	}
	if sub.capped && sub.b.Len() > sub.limit {
		return "", tooLarge(sub.limit)
	}
	return sub.b.String(), nil
}

// special handles the "$" or NUL byte at s[i] and returns where the text goes on.
func (sub *substitution) special(s string, i int) (int, error) {
	switch {
	case s[i] == 0:
		return len(s), nil // envsubst's scanner takes a NUL byte for the end of the text
	case strings.HasPrefix(s[i:], "${"):
		return sub.expression(s, i)
	case strings.HasPrefix(s[i:], "$$"):
		sub.b.WriteByte('$')
		return i + 2, nil
	}
	sub.b.WriteByte('$')
	return i + 1, nil
}

// expression evaluates the expression that starts with the "${" at s[i] and returns its end.
func (sub *substitution) expression(s string, i int) (int, error) {
	sc := exprScanner{s: s, pos: i + 2}
	if err := sc.expr(0); err != nil {
		if !errors.Is(err, ErrTooComplex) {
			err = fmt.Errorf("%w: %w", ErrFluxSyntax, err)
		}
		return 0, exprError(s, i, sc.pos, err)
	}
	value, err := sub.eval(s[i:sc.pos], sc.escapes)
	if err != nil {
		return 0, exprError(s, i, sc.pos, err)
	}
	sub.b.WriteString(value)
	return sc.pos, nil
}

// eval evaluates the single expression e with envsubst, after checking from its parse tree that
// the evaluation stays within the limits, and records its missing variables.
func (sub *substitution) eval(e string, escapes int) (string, error) {
	if err := sub.spend(mulSat(2*escapes, len(e))); err != nil {
		return "", err
	}
	root, err := parseExpr(e)
	if err != nil {
		return "", err
	}
	m := measure{vars: sub.vars}
	size := m.node(root, true)
	if err := sub.spend(m.steps); err != nil {
		return "", err
	}
	if sub.capped && size.work > workCap(sub.limit) {
		return "", tooLarge(sub.limit)
	}
	value, err := evalExpr(e, sub.vars)
	if err != nil {
		return "", err
	}
	sub.missing = append(sub.missing, m.missing...)
	return value, nil
}

// spend counts steps of work that is more than linear, failing with ErrTooComplex over maxSteps.
func (sub *substitution) spend(steps int) error {
	sub.steps = addSat(sub.steps, steps)
	if sub.steps > maxSteps {
		return fmt.Errorf("%w: envsubst would take more than %d steps", ErrTooComplex, maxSteps)
	}
	return nil
}

// parseExpr parses the expression e with envsubst's parser.
func parseExpr(e string) (root *parse.FuncNode, err error) {
	defer recoverInto(&err)
	tree, err := parse.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFluxSyntax, err)
	}
	root, ok := tree.Root.(*parse.FuncNode)
	if !ok {
		return nil, fmt.Errorf("envsubst does not read %q as one expression", e)
	}
	return root, nil
}

// evalExpr evaluates e with envsubst and the mapping of Flux's non-strict mode.
func evalExpr(e string, vars map[string]string) (out string, err error) {
	defer recoverInto(&err)
	out, err = envsubst.Eval(e, func(name string) (string, bool) { return vars[name], true })
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrFluxSyntax, err)
	}
	return out, nil
}

// recoverInto turns a panic of envsubst (${var:1:9223372036854775807} overflows a slice bound)
// into an error; kustomize-controller's reconciler fails on it too.
func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: envsubst panicked: %v", ErrFluxSyntax, r)
	}
}

// workCap is how many bytes envsubst may write while evaluating one expression, its unused
// defaults included, when the result is capped at limit: past it, the expression is refused
// without being evaluated.
func workCap(limit int) int { return 2*limit + 1<<20 }

// tooLarge is the error for a result over limit bytes.
func tooLarge(limit int) error {
	if limit >= 1<<20 {
		return fmt.Errorf("%w of %d MiB", ErrTooLarge, limit>>20)
	}
	return fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
}

// exprError locates err at the expression s[start:end] (end is where scanning stopped).
func exprError(s string, start, end int, err error) *ExprError {
	const show = 60
	end = min(max(end+1, start+2), len(s))
	expr := s[start:end]
	if len(expr) > show {
		expr = strings.ToValidUTF8(expr[:show], "") + "..."
	}
	return &ExprError{Line: 1 + strings.Count(s[:start], "\n"), Expr: expr, Err: err}
}

// size bounds what envsubst writes for a node: out, its output; work, every byte written while
// evaluating it, the arguments included (envsubst evaluates a default even when it is not used).
type size struct{ out, work int }

// measure walks an envsubst parse tree: it bounds sizes, counts super-linear work and lists
// missing variables.
type measure struct {
	vars    map[string]string
	steps   int
	missing []string
}

// node measures n; record is whether its missing variables count (it is not inside a default
// that is not used).
func (m *measure) node(n parse.Node, record bool) size {
	switch n := n.(type) {
	case *parse.TextNode:
		return size{len(n.Value), len(n.Value)}
	case *parse.ListNode:
		var total size
		for _, c := range n.Nodes {
			s := m.node(c, record)
			total = size{addSat(total.out, s.out), addSat(total.work, s.work)}
		}
		return total
	case *parse.FuncNode:
		return m.fn(n, record)
	}
	return size{}
}

// fn measures a ${...} expression. envsubst evaluates every argument, then calls the function
// named by n.Name on the variable's value (lookupFunc in envsubst's template.go).
func (m *measure) fn(n *parse.FuncNode, record bool) size {
	v, set := m.vars[n.Param]
	def := isDefaultOp(n.Name)
	if record && !set && !def {
		m.missing = append(m.missing, n.Param)
	}
	args := make([]int, len(n.Args))
	work := 0
	for i, a := range n.Args {
		s := m.node(a, record && (!def || v == ""))
		args[i], work = s.out, addSat(work, s.work)
	}
	if isTrimOp(n.Name, len(args)) {
		// Each prefix or suffix of the value is matched against the pattern.
		m.steps = addSat(m.steps, mulSat(mulSat(len(v), len(v)), addSat(args[0], 1)))
	}
	out := outBound(n.Name, len(v), args)
	return size{out: out, work: addSat(work, out)}
}

// isDefaultOp reports whether op supplies a value for an empty or unset variable (envsubst's
// isDefaultOp; all of them evaluate as toDefault).
func isDefaultOp(op string) bool {
	switch op {
	case "-", "+", "=", "?", ":-", ":+", ":=", ":?":
		return true
	}
	return false
}

// isTrimOp reports whether op with nargs arguments trims a pattern off the value.
func isTrimOp(op string, nargs int) bool {
	switch op {
	case "#":
		return nargs > 0
	case "##", "%", "%%":
		return true
	}
	return false
}

// outBound bounds the output of the function op on a value of n bytes with arguments of the
// given output sizes. Case changes and suffix trims may triple invalid UTF-8 (each byte becomes
// U+FFFD).
func outBound(op string, n int, args []int) int {
	arg := func(i int) int {
		if i < len(args) {
			return args[i]
		}
		return 0
	}
	switch op {
	case "":
		return n
	case "#":
		if len(args) == 0 {
			return 20 // the length, in decimal
		}
		return n
	case "##", ":":
		return n
	case "%", "%%", ",", ",,", "^", "^^":
		return addSat(mulSat(3, n), 4)
	case "/", "/#", "/%":
		return addSat(n, arg(1))
	case "//":
		return addSat(n, mulSat(n+1, arg(1)))
	}
	// toDefault: the value, or the arguments joined when the value is empty.
	if n > 0 || len(args) == 0 {
		return n
	}
	total := 0
	for _, a := range args {
		total = addSat(total, a)
	}
	return total
}

// addSat adds, stopping at saturated.
func addSat(a, b int) int { return min(a+b, saturated) }

// mulSat multiplies non-negative numbers, stopping at saturated.
func mulSat(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a >= saturated/b {
		return saturated
	}
	return a * b
}

// exprScanner finds where a ${...} expression ends, following envsubst's parser (parse.go,
// scan.go) step by step without building nodes, so that each expression can be handed to
// envsubst alone. It returns the same errors as the parser. A NUL byte reads as the end of the
// text, as in envsubst's scanner.
type exprScanner struct {
	s       string
	pos     int
	escapes int // "$$", "\/" and "\\" escapes, each of which envsubst's scanner pays with a copy
}

// eof is envsubst's end-of-text rune, which a NUL byte also decodes to.
const eof = rune(0)

// peekAt returns the rune at byte offset i and its width; eof with width 0 at the end.
func (x *exprScanner) peekAt(i int) (rune, int) {
	if i >= len(x.s) {
		return eof, 0
	}
	return utf8.DecodeRuneInString(x.s[i:])
}

// peek returns the rune at the position and its width.
func (x *exprScanner) peek() (rune, int) { return x.peekAt(x.pos) }

// atLbrack reports whether "${" starts at the position.
func (x *exprScanner) atLbrack() bool { return strings.HasPrefix(x.s[x.pos:], "${") }

// expr scans an expression after its "${" (parseFunc); nested is how many expressions enclose it.
func (x *exprScanner) expr(nested int) error {
	if nested > maxNesting {
		return fmt.Errorf("%w: an expression inside more than %d others", ErrTooComplex, maxNesting)
	}
	if r, _ := x.peek(); r == '#' { // ${#var}
		x.pos++
		if !x.ident() {
			return parse.ErrBadSubstitution
		}
		return x.rbrack(parse.ErrBadSubstitution)
	}
	if !x.ident() {
		return parse.ErrParseVariableName
	}
	switch r, _ := x.peek(); r {
	case ':':
		return x.colon(nested)
	case '=':
		x.pos++
		return x.defaults(nested)
	case ',', '^':
		x.pos++
		x.skipOne(",^")
		return x.rbrack(parse.ErrBadSubstitution)
	case '/':
		x.pos++
		x.skipOne("/#%")
		return x.replace(nested)
	case '#', '%':
		x.pos++
		x.skipOne(string(r))
		if err := x.param(nested, notClosing, false); err != nil {
			return err
		}
		return x.rbrack(parse.ErrBadSubstitution)
	}
	return x.rbrack(parse.ErrMissingClosingBrace)
}

// ident scans a variable name (acceptIdent) and reports whether it is not empty.
func (x *exprScanner) ident() bool {
	start := x.pos
	for {
		r, w := x.peek()
		if r == eof || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			return x.pos > start
		}
		x.pos += w
	}
}

// skipOne skips the next byte when it is one of chars.
func (x *exprScanner) skipOne(chars string) {
	if x.pos < len(x.s) && strings.IndexByte(chars, x.s[x.pos]) >= 0 {
		x.pos++
	}
}

// rbrack consumes the closing "}" or returns err (consumeRbrack).
func (x *exprScanner) rbrack(err error) error {
	if r, _ := x.peek(); r != '}' {
		return err
	}
	x.pos++
	return nil
}

// colon scans what follows "${name:" (parseDefaultOrSubstr): a default operator or a substring.
// envsubst steps back by the width of the rune after the colon, so a multi-byte rune there
// makes it read a name byte and fail.
func (x *exprScanner) colon(nested int) error {
	r, w := x.peekAt(x.pos + 1)
	switch {
	case w == 0 || w > 1:
		return parse.ErrBadSubstitution
	case r == '=' || r == '-' || r == '?' || r == '+':
		x.pos += 2
		return x.defaults(nested)
	}
	x.pos++
	if err := x.param(nested, rejectColonClose, false); err != nil {
		return err
	}
	switch r, _ := x.peek(); r {
	case '}':
		x.pos++
		return nil
	case ':':
		for r == ':' {
			x.pos++
			r, _ = x.peek()
		}
	default:
		return parse.ErrBadSubstitution
	}
	if err := x.param(nested, notClosing, false); err != nil {
		return err
	}
	return x.rbrack(parse.ErrBadSubstitution)
}

// defaults scans the arguments of a default operator up to the closing "}" (parseDefaultFunc).
func (x *exprScanner) defaults(nested int) error {
	for {
		if r, _ := x.peek(); r == '}' {
			x.pos++
			return nil
		}
		if err := x.param(nested, notClosing, false); err != nil {
			return err
		}
	}
}

// replace scans the pattern and replacement of ${name/...} (parseReplaceFunc).
func (x *exprScanner) replace(nested int) error {
	if err := x.param(nested, notSlash, true); err != nil {
		return err
	}
	if r, _ := x.peek(); r != '/' {
		return parse.ErrBadSubstitution
	}
	for r, _ := x.peek(); r == '/'; r, _ = x.peek() {
		x.pos++
	}
	if r, _ := x.peek(); r == '}' {
		x.pos++
		return nil
	}
	if err := x.param(nested, notClosing, true); err != nil {
		return err
	}
	return x.rbrack(parse.ErrBadSubstitution)
}

// param scans one argument (parseParam): a nested expression, or text of runes that accept
// takes, stopping before "${"; escape is whether "$$", "\/" and "\\" are escapes.
func (x *exprScanner) param(nested int, accept func(rune) bool, escape bool) error {
	r, w := x.peek()
	switch {
	case r == eof:
		return parse.ErrParseFuncSubstitution
	case x.atLbrack():
		x.pos += 2
		return x.expr(nested + 1)
	case escape && x.escaped():
		x.pos += 2
		x.escapes++
	case !accept(r):
		return parse.ErrParseFuncSubstitution
	default:
		x.pos += w
	}
	x.text(accept, escape)
	return nil
}

// text scans the rest of a text argument (scanIdent).
func (x *exprScanner) text(accept func(rune) bool, escape bool) {
	for {
		r, w := x.peek()
		switch {
		case r == eof, x.atLbrack():
			return
		case escape && x.escaped():
			x.pos += 2
			x.escapes++
		case !accept(r):
			return
		default:
			x.pos += w
		}
	}
}

// escaped reports whether an escape starts at the position: "$$", "\/" or "\\".
func (x *exprScanner) escaped() bool {
	rest := x.s[x.pos:]
	return strings.HasPrefix(rest, "$$") || strings.HasPrefix(rest, `\/`) || strings.HasPrefix(rest, `\\`)
}

// The accept functions of envsubst's scanner for arguments.
func notClosing(r rune) bool       { return r != '}' }
func notSlash(r rune) bool         { return r != '/' }
func rejectColonClose(r rune) bool { return r != ':' && r != '}' }
