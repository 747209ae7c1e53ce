package apitest

import (
	"errors"
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"polc.dev/polc/internal/manifest"
)

// Result is the outcome of one module's test.
type Result struct {
	Module string `json:"module"`
	// Modules are the modules applied, in order: the dependency closure, then the module.
	Modules []string `json:"modules"`
	// Applied counts the objects the API server accepted.
	Applied int `json:"applied"`
	// Rejected are the objects the API server refused.
	Rejected []Problem `json:"rejected,omitempty"`
	// Unserved are the objects whose kind neither the API server nor an applied
	// CustomResourceDefinition serves: no declared dependency provides them.
	Unserved []Problem `json:"unserved,omitempty"`
	// Errors are problems of the test itself: a module that does not render, a CRD that never
	// becomes Established, an object that polc did not create and left alone.
	Errors []string `json:"errors,omitempty"`
	// Seconds is the time the test took.
	Seconds float64 `json:"seconds"`
}

// Failed reports whether the module's test failed.
func (r Result) Failed() bool {
	return len(r.Rejected)+len(r.Unserved)+len(r.Errors) > 0
}

// Problem is one object that did not apply.
type Problem struct {
	// Pos is where the object, or the field the server named, is written.
	Pos manifest.Pos `json:"-"`
	// Position is Pos as file:line:column, for JSON.
	Position string `json:"position"`
	// Module is the module that renders the object.
	Module string `json:"module"`
	// Object is Kind/namespace/name.
	Object string `json:"object"`
	// Message is the API server's message, or polc's.
	Message string `json:"message"`
}

// String formats the problem as "file:line:col: Kind/ns/name: message [module]".
func (p Problem) String() string {
	return p.Position + ": " + p.Object + ": " + p.Message + " [" + p.Module + "]"
}

// newProblem is a problem of object o with message msg, at the object or at the field the
// message names.
func newProblem(o *manifest.Object, msg string, field string) Problem {
	pos := o.Pos
	if field != "" {
		pos = o.FieldPos(field)
	}
	return Problem{Pos: pos, Position: pos.String(), Module: o.Module, Object: o.Ref.String(), Message: msg}
}

// rejection maps an API server error for object o to a problem at the object's source line, or
// at the line of the field that the error names when the source document has it.
func rejection(o *manifest.Object, err error) Problem {
	msg := err.Error()
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		st := se.Status()
		msg = st.Message
		if st.Details != nil {
			for _, c := range st.Details.Causes {
				if f := cleanField(c.Field); f != "" {
					return newProblem(o, msg, f)
				}
			}
		}
	}
	return newProblem(o, msg, fieldOf(msg))
}

// fieldPatterns find the field path in the messages of strict field validation and of schema
// validation.
var fieldPatterns = []*regexp.Regexp{
	regexp.MustCompile(`unknown field "([^"]+)"`),
	regexp.MustCompile(`(?:^|[\s,])\.?([A-Za-z][\w.\[\]/-]*): (?:field not declared in schema|Invalid value|Required value|Unsupported value|Duplicate value|Too many|Too long|Forbidden)`),
	regexp.MustCompile(`(?:^|\s)\.([A-Za-z][\w.\[\]/-]*): `), // typed patch errors: ".spec.size: expected numeric ..."
}

// fieldOf returns the first field path that msg names, "" when none.
func fieldOf(msg string) string {
	for _, re := range fieldPatterns {
		if m := re.FindStringSubmatch(msg); m != nil {
			return cleanField(m[1])
		}
	}
	return ""
}

// cleanField turns a server field path (".spec.replicas", "spec.containers[0].image") into the
// form of manifest.Object.FieldPos; "" when it is not a path.
func cleanField(f string) string {
	f = strings.TrimPrefix(strings.TrimSpace(f), ".")
	if f == "" || strings.ContainsAny(f, " \t\n") {
		return ""
	}
	return f
}

// elapsed is d in seconds, rounded to milliseconds.
func elapsed(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}
