package rego

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
)

// polc checks pull requests, so a policy directory is as untrusted as the rest of the repository.
// Policies therefore get a smaller Rego language (capabilities) and evaluations are bounded:
//
//   - Builtins that reach the network, the clock, randomness or polc's environment, or that can run
//     without bound outside evaluation's control, are left out of the language: a policy that calls
//     one does not compile (see excluded).
//   - Builtins that can allocate far more than their arguments refuse arguments over fixed limits
//     (see capped), with an error that names the call.
//   - Each evaluation has a deadline and a memory budget (Policy.Timeout, Policy.MaxMemory).

// Limits of the capped builtins.
const (
	// maxElements caps the numbers of numbers.range and numbers.range_step, the addresses of
	// net.cidr_expand and the pieces of split.
	maxElements = 1_000_000
	// maxText caps the text that concat, sprintf, json.marshal and yaml.marshal may produce, in
	// bytes.
	maxText = 64 << 20
	// maxBits caps the shift of bits.lsh and the size of range bounds, in bits.
	maxBits = 1 << 16
)

// Reasons for leaving a builtin out.
const (
	noNetwork = "polc evaluates policies without network access"
	noClock   = "polc evaluates policies without a clock, so that results do not change over time"
	noRandom  = "polc evaluates policies without randomness, so that results are reproducible"
	noEnv     = "polc does not show its environment to policies"
)

// excluded are the builtins that polc's Rego leaves out, with why. Every builtin that OPA marks
// nondeterministic is left out too (see Capabilities).
var excluded = map[string]string{
	"http.send":            noNetwork,
	"net.lookup_ip_addr":   noNetwork,
	"json.match_schema":    noNetwork + " (schemas may refer to remote schemas)",
	"json.verify_schema":   noNetwork + " (schemas may refer to remote schemas)",
	"opa.runtime":          noEnv,
	"time.now_ns":          noClock,
	"io.jwt.decode_verify": noClock + "; use io.jwt.decode and io.jwt.verify_*",
	"crypto.x509.parse_and_verify_certificates": noClock + "; use crypto.x509.parse_and_verify_certificates_with_options with CurrentTime",
	"rand.intn":               noRandom,
	"uuid.rfc4122":            noRandom,
	"io.jwt.encode_sign":      noRandom,
	"io.jwt.encode_sign_raw":  noRandom,
	"strings.render_template": "templates can run without bound, out of evaluation's control; use sprintf",
	"graph.reachable_paths":   "the number of paths can grow exponentially; use graph.reachable",
}

// Capabilities returns the Rego language that polc evaluates policies with: OPA's, without the
// excluded builtins and the nondeterministic ones, and with no network access for schemas.
func Capabilities() *ast.Capabilities {
	c := ast.CapabilitiesForThisVersion(ast.CapabilitiesRegoVersion(ast.RegoV1))
	bs := c.Builtins[:0]
	for _, b := range c.Builtins {
		if _, out := excluded[b.Name]; !out && !b.Nondeterministic {
			bs = append(bs, b)
		}
	}
	c.Builtins = bs
	c.AllowNet = []string{}
	return c
}

// excludedReason says why polc leaves out builtin name, or "" when it does not.
func excludedReason(name string) string {
	if r, ok := excluded[name]; ok {
		return r
	}
	if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic {
		return "its result is not reproducible; polc evaluates policies without network, clock or randomness"
	}
	return ""
}

// undefinedFunction is how OPA's type checker reports a call of a function it does not know,
// such as a builtin left out of the capabilities.
const undefinedFunction = "undefined function "

// explain rewrites OPA's "undefined function" error for a left-out builtin into one that says why.
func explain(e *ast.Error) *ast.Error {
	name, ok := strings.CutPrefix(e.Message, undefinedFunction)
	if !ok {
		return e
	}
	reason := excludedReason(name)
	if reason == "" {
		return e
	}
	return &ast.Error{Code: "polc_error", Location: e.Location, Message: fmt.Sprintf("builtin %s is not allowed: %s", name, reason)}
}

// capped are the builtins that check their arguments before OPA's implementation runs: each
// check returns an error when the call would allocate too much. These builtins allocate their
// whole result in one step, which evaluation's deadline and memory watchdog cannot interrupt, or
// far more than their arguments take.
//
// OPA's builtins are global, and most are called without a context, so the checks apply to every
// evaluation in the process, `opa test` style runs included; polc has no other use for huge
// ranges and texts.
var capped = map[string]func(ops []*ast.Term) error{
	"numbers.range":      func(ops []*ast.Term) error { return checkRange(ops[0], ops[1], nil) },
	"numbers.range_step": func(ops []*ast.Term) error { return checkRange(ops[0], ops[1], ops[2]) },
	"net.cidr_expand":    checkCIDRExpand,
	"bits.lsh":           checkShift,
	"split":              checkSplit,
	"concat":             checkConcat,
	"sprintf":            checkSprintf,
	"json.marshal":       func(ops []*ast.Term) error { return checkText(ops[0].Value, 0) },
	"json.marshal_with_options": func(ops []*ast.Term) error {
		indent := 1 // pretty printing indents with a tab by default
		if o, ok := ops[1].Value.(ast.Object); ok {
			for _, k := range []string{"prefix", "indent"} {
				if t := o.Get(ast.StringTerm(k)); t != nil {
					if s, ok := t.Value.(ast.String); ok {
						indent += len(s)
					}
				}
			}
		}
		return checkText(ops[0].Value, indent)
	},
	"yaml.marshal": func(ops []*ast.Term) error { return checkText(ops[0].Value, 4) },
	"crypto.x509.parse_and_verify_certificates_with_options": func(ops []*ast.Term) error {
		if o, ok := ops[1].Value.(ast.Object); ok && o.Get(ast.StringTerm("CurrentTime")) == nil {
			return errors.New("set CurrentTime in the options: " + noClock)
		}
		return nil
	},
}

func init() {
	for name, check := range capped {
		impl := topdown.GetBuiltin(name)
		if impl == nil {
			panic("rego: OPA has no builtin " + name)
		}
		topdown.RegisterBuiltinFunc(name, func(bctx topdown.BuiltinContext, ops []*ast.Term, iter func(*ast.Term) error) error {
			if err := check(ops); err != nil {
				// Halt stops evaluation even without strict builtin errors, which would otherwise
				// make the call undefined.
				return topdown.Halt{Err: &topdown.Error{Code: topdown.BuiltinErr, Location: bctx.Location,
					Message: name + ": " + err.Error()}}
			}
			return impl(bctx, ops, iter)
		})
	}
}

// checkRange refuses numbers.range(a, b) and numbers.range_step(a, b, step) with more than
// maxElements numbers. Arguments of the wrong type are left for OPA to report.
func checkRange(a, b, step *ast.Term) error {
	x, err := bigInt(a)
	if x == nil {
		return err
	}
	y, err := bigInt(b)
	if y == nil {
		return err
	}
	n := new(big.Int).Sub(y, x)
	n.Abs(n)
	if step != nil {
		s, err := bigInt(step)
		if s == nil || s.Sign() <= 0 {
			return err
		}
		n.Quo(n, s)
	}
	n.Add(n, big.NewInt(1))
	if n.Cmp(big.NewInt(maxElements)) > 0 {
		count := n.String()
		if len(count) > 20 {
			count = fmt.Sprintf("%.3g", new(big.Float).SetInt(n))
		}
		return fmt.Errorf("a range of %s numbers is over polc's limit of %d", count, maxElements)
	}
	return nil
}

// bigInt returns an integer argument, nil when it is not one, and an error when it is too large
// to allocate.
func bigInt(t *ast.Term) (*big.Int, error) {
	n, ok := t.Value.(ast.Number)
	if !ok {
		return nil, nil
	}
	f, ok := new(big.Float).SetString(string(n))
	if !ok {
		return nil, nil
	}
	if f.IsInf() || f.MantExp(nil) > maxBits {
		return nil, fmt.Errorf("%.6g is over polc's limit of 2^%d", f, maxBits)
	}
	i, err := builtins.BigIntOperand(n, 1)
	if err != nil {
		return nil, nil
	}
	return i, nil
}

// checkCIDRExpand refuses networks of more than maxElements addresses.
func checkCIDRExpand(ops []*ast.Term) error {
	s, ok := ops[0].Value.(ast.String)
	if !ok {
		return nil
	}
	_, n, err := net.ParseCIDR(string(s))
	if err != nil {
		return nil
	}
	ones, bits := n.Mask.Size()
	if size := bits - ones; size >= 63 || int64(1)<<size > maxElements {
		return fmt.Errorf("%s has 2^%d addresses, over polc's limit of %d", s, size, maxElements)
	}
	return nil
}

// checkShift refuses shifts of more than maxBits bits.
func checkShift(ops []*ast.Term) error {
	n, ok := ops[1].Value.(ast.Number)
	if !ok {
		return nil
	}
	if f, ok := new(big.Float).SetString(string(n)); ok && f.Cmp(big.NewFloat(maxBits)) > 0 {
		return fmt.Errorf("a shift of %s bits is over polc's limit of %d", n, maxBits)
	}
	return nil
}

// checkSplit refuses splitting a string into more than maxElements pieces.
func checkSplit(ops []*ast.Term) error {
	s, ok1 := ops[0].Value.(ast.String)
	sep, ok2 := ops[1].Value.(ast.String)
	if !ok1 || !ok2 || len(s) <= maxElements {
		return nil
	}
	if n := strings.Count(string(s), string(sep)) + 1; n > maxElements {
		return fmt.Errorf("%d pieces are over polc's limit of %d", n, maxElements)
	}
	return nil
}

// checkConcat refuses joining strings into more than maxText bytes.
func checkConcat(ops []*ast.Term) error {
	sep, ok := ops[0].Value.(ast.String)
	if !ok {
		return nil
	}
	n, size := 0, 0
	add := func(t *ast.Term) {
		if s, ok := t.Value.(ast.String); ok {
			size += len(s)
		}
		n++
	}
	switch c := ops[1].Value.(type) {
	case *ast.Array:
		c.Foreach(add)
	case ast.Set:
		c.Foreach(add)
	}
	if n > 1 {
		size += (n - 1) * len(sep)
	}
	if size > maxText {
		return fmt.Errorf("%d bytes are over polc's limit of %d", size, maxText)
	}
	return nil
}

// checkText refuses writing out a value of more than maxText bytes, with indent more bytes per
// level of nesting.
func checkText(v ast.Value, indent int) error {
	if n := textSize(v, indent, maxText); n > maxText {
		return fmt.Errorf("the value is over polc's limit of %d bytes written out", maxText)
	}
	return nil
}

// textSize estimates the size of v written out as JSON, with indent bytes per level of nesting
// before every element, stopping once it is over limit. A value shared in several places counts
// every time, as it would be written out: this is what keeps a few lines of Rego that nest a
// value in itself over and over from making a marshaller write gigabytes.
func textSize(v ast.Value, indent, limit int) int {
	n := 0
	var walk func(v ast.Value, depth int) bool
	elem := func(t *ast.Term, depth int) bool {
		n += 1 + depth*indent
		return walk(t.Value, depth)
	}
	walk = func(v ast.Value, depth int) bool {
		switch v := v.(type) {
		case ast.String:
			n += len(v) + 2
		case ast.Number:
			n += len(v)
		case *ast.Array:
			n += 2
			for i := range v.Len() {
				if !elem(v.Elem(i), depth+1) {
					return false
				}
			}
		case ast.Set:
			n += 2
			v.Until(func(t *ast.Term) bool { return !elem(t, depth+1) })
		case ast.Object:
			n += 2
			v.Until(func(k, x *ast.Term) bool { return !elem(k, depth+1) || !walk(x.Value, depth+1) })
		default:
			n += 5
		}
		return n <= limit
	}
	walk(v, 0)
	return n
}

// checkSprintf refuses a sprintf whose result could be over maxText bytes: the format, the
// widths and precisions of its verbs, and every argument for every verb.
func checkSprintf(ops []*ast.Term) error {
	format, ok1 := ops[0].Value.(ast.String)
	args, ok2 := ops[1].Value.(*ast.Array)
	if !ok1 || !ok2 {
		return nil
	}
	verbs, pad := scanFormat(string(format))
	if verbs == 0 {
		return nil
	}
	largest := 0
	for i := range args.Len() {
		largest = max(largest, textSize(args.Elem(i).Value, 0, maxText))
	}
	if size := len(format) + pad + verbs*largest; size > maxText {
		return fmt.Errorf("the result could be %d bytes, over polc's limit of %d", size, maxText)
	}
	return nil
}

// fmtMaxWidth is the largest width or precision that Go's fmt accepts.
const fmtMaxWidth = 1_000_000

// scanFormat counts the verbs of a Go format string and adds up their widths and precisions
// (a * counts as the largest width fmt accepts).
func scanFormat(f string) (verbs, pad int) {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("+-# 0", f[i]) >= 0 {
			i++
		}
		for part := 0; part < 2 && i < len(f); part++ {
			if f[i] == '[' {
				for i < len(f) && f[i] != ']' {
					i++
				}
				i++
			}
			if i < len(f) && f[i] == '*' {
				pad += fmtMaxWidth
				i++
			} else {
				n := 0
				for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
					n = min(n*10+int(f[i]-'0'), fmtMaxWidth)
				}
				pad += n
			}
			if part == 0 {
				if i >= len(f) || f[i] != '.' {
					break
				}
				i++
			}
		}
		if i < len(f) && f[i] == '[' {
			for i < len(f) && f[i] != ']' {
				i++
			}
			i++
		}
		verbs++
	}
	return verbs, pad
}
