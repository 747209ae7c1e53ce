package builtin

import (
	"fmt"
	"regexp"

	"polc.dev/polc/internal/kinds"
	"polc.dev/polc/internal/kyverno/example"
	"polc.dev/polc/internal/kyverno/expr"
	"polc.dev/polc/internal/manifest"
	"polc.dev/polc/internal/module"
	"polc.dev/polc/internal/rule"
)

// SecurityImageDigest requires every container image to be pinned by a sha256 digest.
var SecurityImageDigest = rule.Rule{
	ID:       "security/image-digest",
	Title:    "Container images are pinned by digest",
	Severity: rule.Warning,
	Scope:    rule.ResourceScope,
	Doc: "Every image of a container, init container or ephemeral container of a Pod or pod template is " +
		"pinned by digest (image@sha256:<64 hex digits>, optionally after a tag), so that the bytes that " +
		"run are the bytes that were reviewed: a tag can be moved to another image. A warning by default; " +
		"make it an error in polc.yaml spec.rules once every image is pinned.",
	Remediation: "Append the image's digest, as in app:1.2.3@sha256:<digest>, and let a bot such as Renovate keep it current.",
	Kinds:       kinds.Pods(),
	CheckObject: checkImageDigest,
	Policy:      policyImageDigest,
}

// sha256Digest is a well-formed sha256 digest.
var sha256Digest = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

func checkImageDigest(_ *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	return imageViolations(o, func(c container, image string, ref imageRef) string {
		switch {
		case image == "":
			return "" // security/image-tag reports a missing image
		case ref.Digest == "":
			return fmt.Sprintf("%s image %q is not pinned by digest; expected %s@sha256:<digest>", c.Describe(), image, image)
		case !sha256Digest.MatchString(ref.Digest):
			return fmt.Sprintf("%s image %q has digest %q; expected sha256: and 64 lowercase hex digits", c.Describe(), image, ref.Digest)
		}
		return ""
	})
}

// imageSHA256RE is the offline check as a regular expression over the whole image.
const imageSHA256RE = `^[^@]*@sha256:[a-f0-9]{64}$`

// policyImageDigest rejects pods whose images are not pinned by a sha256 digest.
func policyImageDigest(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	img := `c.?image.orValue("")`
	return []rule.PolicyRule{{
		Name:    "image-digest",
		Kinds:   []rule.Kind{rule.PodKind},
		Lookup:  rule.ByLabelsOrNamespace,
		Message: "every container image is pinned by a sha256 digest",
		Deny: []rule.Condition{{
			Key: "{{ length(" + expr.JMESContainers(allContainerLists...) +
				" | [?!(regex_match('^$', image || '') || regex_match('" + imageSHA256RE + "', image || ''))]) }}",
			Operator: "GreaterThan", Value: 0,
		}},
		CEL:  []string{fmt.Sprintf("%s.all(l, l.all(c, %s == \"\" || %s.matches(%q)))", expr.CELContainers(allContainerLists...), img, img, imageSHA256RE)},
		Pass: []map[string]any{example.Workload(r, m, m.Name()+"-pinned", example.Image, nil)},
		Fail: []map[string]any{example.Workload(r, m, m.Name()+"-unpinned", "registry.example.com/app:1.0.0", nil)},
	}}
}
