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

// SecurityImageTag requires a tag or digest on every container image, and no latest.
var SecurityImageTag = rule.Rule{
	ID:       "security/image-tag",
	Title:    "Container images carry a tag or digest, never latest",
	Severity: rule.Error,
	Scope:    rule.ResourceScope,
	Doc: "Every image of a container, init container or ephemeral container of a Pod or pod template " +
		"names a tag or a digest, and the tag is not latest: an image without a tag is pulled as latest, " +
		"and latest changes under a running workload. Images are read after Flux ${var} substitution; a " +
		"registry port (registry:5000/app) is not a tag, and an image pinned by digest alone passes.",
	Remediation: "Pin the image to a version tag or, better, a digest.",
	Kinds:       kinds.Pods(),
	CheckObject: checkImageTag,
	Policy:      policyImageTag,
}

// imageRef is a container image reference split into its parts.
type imageRef struct {
	// Name is the repository, with registry host and port: registry:5000/team/app.
	Name string
	// Tag is the tag after the last colon of the last path segment; "" when absent.
	Tag string
	// Digest is what follows @ (sha256:...); "" when absent.
	Digest string
}

// parseImage splits an image reference. A colon before the last slash belongs to the registry
// host (registry:5000/app), not to a tag.
func parseImage(s string) imageRef {
	var ref imageRef
	name := s
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name, ref.Digest = name[:i], name[i+1:]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && i > strings.LastIndexByte(name, '/') {
		name, ref.Tag = name[:i], name[i+1:]
	}
	ref.Name = name
	return ref
}

// imageViolations calls message with the image of every container, init container and ephemeral
// container of o's pod template, and turns each message that is not empty into a violation at the
// container's image, or at the container itself when it has no image. Objects without a pod
// template have none.
func imageViolations(o *manifest.Object, message func(c container, image string, ref imageRef) string) []rule.Violation {
	t := templateOf(o)
	if t == nil {
		return nil
	}
	var out []rule.Violation
	for _, c := range t.Containers(allContainerLists...) {
		image := manifest.String(c.Node, "image")
		msg := message(c, image, parseImage(image))
		if msg == "" {
			continue
		}
		field := c.Field("image")
		if image == "" {
			field = c.Path
		}
		out = append(out, rule.Violation{Message: msg, Field: field})
	}
	return out
}

func checkImageTag(_ *rule.Repo, _ *module.Module, o *manifest.Object) []rule.Violation {
	return imageViolations(o, func(c container, image string, ref imageRef) string {
		switch {
		case image == "":
			return fmt.Sprintf("%s has no image; expected an image with a version tag or digest", c.Describe())
		case ref.Digest != "":
			return "" // pinned by digest; the tag, if any, is only a label
		case ref.Tag == "":
			return fmt.Sprintf("%s image %q has no tag, so it pulls latest; expected a version tag or digest", c.Describe(), image)
		case ref.Tag == "latest":
			return fmt.Sprintf("%s image %q uses tag latest; expected a version tag or digest", c.Describe(), image)
		}
		return ""
	})
}

// imageTagRegexps are the offline check as regular expressions over the whole image: pinned by
// digest, or a tag after the last path segment's colon that is not latest.
const (
	imageDigestRE = `^[^@]*@.+$`
	imageTaggedRE = `^[^@]*:[^:/@]+@?$`
	imageLatestRE = `^[^@]*:latest@?$`
)

// policyImageTag rejects pods whose images carry neither a tag nor a digest, or the tag latest.
func policyImageTag(c *rule.CompileContext) []rule.PolicyRule {
	r, m := c.Repo, c.Module
	jmes := func(img string) string {
		return fmt.Sprintf("(regex_match('%s', %s) || (regex_match('%s', %s) && !regex_match('%s', %s)))",
			imageDigestRE, img, imageTaggedRE, img, imageLatestRE, img)
	}
	img := `c.?image.orValue("")`
	cel := fmt.Sprintf("(%s.matches(%q) || (%s.matches(%q) && !%s.matches(%q)))", img, imageDigestRE, img, imageTaggedRE, img, imageLatestRE)
	return []rule.PolicyRule{{
		Name:    "image-tag",
		Kinds:   []rule.Kind{rule.PodKind},
		Lookup:  rule.ByLabelsOrNamespace,
		Message: "every container image carries a version tag or a digest, never latest",
		Deny: []rule.Condition{{
			Key:      "{{ length(" + expr.JMESContainers(allContainerLists...) + " | [?!" + jmes("image || ''") + "]) }}",
			Operator: "GreaterThan", Value: 0,
		}},
		CEL:  []string{expr.CELContainers(allContainerLists...) + ".all(l, l.all(c, " + cel + "))"},
		Pass: []map[string]any{example.Workload(r, m, m.Name()+"-tagged", "registry.example.com/app:1.0.0", nil)},
		Fail: []map[string]any{example.Workload(r, m, m.Name()+"-latest", "registry.example.com/app:latest", nil)},
	}}
}
