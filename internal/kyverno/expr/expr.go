// Package expr builds the fragments of compiled rules: JMESPath for ClusterPolicy conditions and
// CEL for ValidatingPolicy expressions. Every value that comes from module metadata goes through
// a quoting function here, so that no metadata can end a literal and inject an expression.
package expr

import (
	"encoding/json"
	"fmt"
	"strings"
)

// JMESPodSpec is the JMESPath expression of the pod spec of a Pod, or of the pod template of a
// pod controller, for the deny conditions of pod rules.
const JMESPodSpec = "(request.object.spec.jobTemplate.spec.template.spec || request.object.spec.template.spec || request.object.spec)"

// JMESString quotes s as a JMESPath raw string literal.
func JMESString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// JMESStrings quotes a list of strings as a JMESPath JSON literal ([] when empty).
func JMESStrings(list []string) string {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		panic(err) // strings always marshal
	}
	return "`" + strings.ReplaceAll(string(b), "`", "\\`") + "`"
}

// JMESContainers is the JMESPath list of the containers of the given lists of a pod rule's pod.
func JMESContainers(lists ...string) string {
	var parts []string
	for _, l := range lists {
		parts = append(parts, JMESPodSpec+"."+l+" || `[]`")
	}
	return "[" + strings.Join(parts, ", ") + "][]"
}

// CELString quotes s as a CEL string literal, escaping quotes, backslashes and control
// characters, so that no value from module metadata can end the literal and inject CEL.
func CELString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// CELStrings quotes a list of strings as a CEL list literal.
func CELStrings(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = CELString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// CELLabel is the CEL expression for the value of label key of `object`, "" when absent.
func CELLabel(key string) string {
	return "object.metadata.?labels[?" + CELString(key) + "].orValue(\"\")"
}

// CELAnnotation is the CEL expression for the value of annotation key of `object`, "" when absent.
func CELAnnotation(key string) string {
	return "object.metadata.?annotations[?" + CELString(key) + "].orValue(\"\")"
}

// CELContainers is the CEL list of the container lists of variables.pod (containers,
// initContainers, ephemeralContainers), for pod rules: lists.all(l, l.all(c, ...)).
func CELContainers(lists ...string) string {
	var parts []string
	for _, l := range lists {
		parts = append(parts, "variables.pod.spec.?"+l+".orValue([])")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// CELNamespaceIs is the CEL condition that `object` lives in namespace ns. PolicyException match
// conditions are compiled without CEL's optional syntax (`.?`), so it tests with has().
func CELNamespaceIs(ns string) string {
	return `has(object.metadata.namespace) && object.metadata.namespace == ` + CELString(ns)
}

// JMESLabel is the JMESPath expression for the value of label key of the request's object, ”
// when absent. Label keys are DNS-prefixed names, which cannot end the quoted identifier.
func JMESLabel(key string) string {
	return `(request.object.metadata.labels."` + key + `" || '')`
}

// JMESAnnotation is the JMESPath expression for the value of annotation key of the request's
// object, ” when absent.
func JMESAnnotation(key string) string {
	return `(request.object.metadata.annotations."` + key + `" || '')`
}
