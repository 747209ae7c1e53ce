package builtin

import (
	"fmt"
	"strings"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// SecurityResources requires cpu and memory requests and a memory limit on every container.
var SecurityResources = rule.Rule{
	ID:       "security/resources",
	Title:    "Containers set cpu and memory requests and a memory limit",
	Severity: rule.Warning,
	Scope:    rule.ResourceScope,
	Doc: "Every container and init container of a Pod or pod template sets resources.requests.cpu, " +
		"resources.requests.memory and resources.limits.memory: requests let the scheduler place the pod " +
		"and protect it under node pressure, and a memory limit keeps one workload from starving its " +
		"neighbours. A cpu limit is not required (it throttles more than it protects). Ephemeral containers " +
		"cannot set resources and are not checked. A warning by default.",
	Remediation: "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on each container.",
	Kinds:       kinds.Pods(),
	CheckObject: checkResources,
	Policy:      policyResources,
}

// requiredResources are the resource fields every container sets.
var requiredResources = []struct{ section, name string }{
	{"requests", "cpu"},
	{"requests", "memory"},
	{"limits", "memory"},
}

func checkResources(_ *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	t := templateOf(o)
	if t == nil {
		return nil
	}
	var out []rule.Violation
	for _, c := range t.Containers("containers", "initContainers") {
		var missing []string
		for _, r := range requiredResources {
			if manifest.String(c.Node, "resources", r.section, r.name) == "" {
				missing = append(missing, "resources."+r.section+"."+r.name)
			}
		}
		if len(missing) == 0 {
			continue
		}
		field := c.Path
		if c.Node.Field("resources") != nil {
			field = c.Field("resources")
		}
		out = append(out, rule.Violation{
			Message: fmt.Sprintf("%s does not set %s; expected requests.cpu, requests.memory and limits.memory", c.Describe(), strings.Join(missing, ", ")),
			Field:   field,
		})
	}
	return out
}

// policyResources rejects pods whose containers or init containers lack cpu and memory requests
// or a memory limit.
func policyResources(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	lists := []string{"containers", "initContainers"}
	return []rule.PolicyRule{{
		Name:    "resources",
		Kinds:   []rule.Kind{rule.PodKind},
		Lookup:  rule.ByLabelsOrNamespace,
		Message: "every container and init container sets resources.requests.cpu, resources.requests.memory and resources.limits.memory",
		Deny: []rule.Condition{{
			Key: "{{ length(" + expr.JMESContainers(lists...) +
				" | [?!(resources.requests.cpu && resources.requests.memory && resources.limits.memory)]) }}",
			Operator: "GreaterThan", Value: 0,
		}},
		CEL: []string{expr.CELContainers(lists...) + `.all(l, l.all(c, c.?resources.?requests.?cpu.orValue("") != "" && ` +
			`c.?resources.?requests.?memory.orValue("") != "" && c.?resources.?limits.?memory.orValue("") != ""))`},
		Pass: []map[string]any{example.Workload(r, m, m.Name()+"-sized", example.Image, nil)},
		Fail: []map[string]any{example.Workload(r, m, m.Name()+"-unsized", example.Image, func(c map[string]any) {
			c["resources"] = map[string]any{"requests": map[string]any{"cpu": "10m"}}
		})},
	}}
}
