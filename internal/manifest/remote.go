package manifest

import (
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// RemoteRule is the rule ID of a remote reference that polc does not fetch.
const RemoteRule = "module/remote"

// Remote is a reference to content outside the repository (a URL, a git repository) found in a
// kustomization or in a transformer or generator configuration. polc never fetches it: the entry
// is dropped from an in-memory copy of the kustomization before kustomize sees it, and the rest of
// the module still renders.
type Remote struct {
	// Field is the kustomization field that holds the reference (resources, patches.path...).
	Field string
	// Ref is the reference as written.
	Ref string
	// Pos is where the reference is written.
	Pos Pos
}

// gitUser is kustomize's SCP-style user prefix (git@host:org/repo).
var gitUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// IsRemote reports whether kustomize could treat ref as remote: an HTTP(S) file, or anything its
// git URL parser accepts (a scheme such as https://, ssh://, file://; an SCP-style user@host; a
// github.com/ path; the go-getter git:: prefix). It is deliberately broader than kustomize's own
// tests (any scheme, any ::), so that nothing kustomize would fetch or clone is ever passed to it.
func IsRemote(ref string) bool {
	s := strings.TrimSpace(ref)
	lower := strings.ToLower(s)
	return strings.Contains(s, "://") || strings.Contains(s, "::") || gitUser.MatchString(s) ||
		strings.HasPrefix(lower, "github.com/") || strings.HasPrefix(lower, "github.com:")
}

// pathKeys are the keys of kustomize's builtin transformer and generator configurations (and of
// kustomization generators) whose values kustomize loads as files: a remote value there is a
// fetch.
var pathKeys = map[string]bool{"path": true, "paths": true, "files": true, "envs": true, "env": true,
	"resources": true, "chartHome": true, "repo": true}

// remoteValue returns the path part of a generator file entry ([key=]path) or the value itself.
func remoteValue(key, v string) string {
	if key == "files" {
		if _, p, ok := strings.Cut(v, "="); ok {
			return p
		}
	}
	return v
}

// findRemote returns the first scalar under n, at any depth, that a path key holds and that is
// remote, or nil.
func findRemote(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		if pathKeys[key] && IsRemote(remoteValue(key, n.Value)) {
			return n
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if r := findRemote(n.Content[i+1], n.Content[i].Value); r != nil {
				return r
			}
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			if r := findRemote(c, key); r != nil {
				return r
			}
		}
	}
	return nil
}

// dropRemote removes from the kustomization k (a copy) every generator file entry that is remote,
// and the openapi path when it is remote, and returns what it removed. List entries of the
// reference fields are handled by the preflight walk, which knows their directories.
func dropRemote(k *yaml.RNode, file string) []Remote {
	var out []Remote
	for _, gen := range []string{"configMapGenerator", "secretGenerator"} {
		for _, g := range listField(k, gen) {
			if g = deref(g); g.Kind != yaml.MappingNode {
				continue
			}
			gn := yaml.NewRNode(g)
			for _, key := range []string{"files", "envs"} {
				out = append(out, filterList(gn, key, gen+"."+key, file, func(v string) bool { return IsRemote(remoteValue(key, v)) })...)
			}
			if f := gn.Field("env"); f != nil && f.Value.YNode().Kind == yaml.ScalarNode && IsRemote(f.Value.YNode().Value) {
				out = append(out, remoteAt(gen+".env", f.Value.YNode(), file))
				_ = gn.PipeE(yaml.Clear("env"))
			}
		}
	}
	if api := k.Field("openapi"); api != nil && deref(api.Value.YNode()).Kind == yaml.MappingNode {
		an := yaml.NewRNode(deref(api.Value.YNode()))
		if p := an.Field("path"); p != nil && p.Value.YNode().Kind == yaml.ScalarNode && IsRemote(p.Value.YNode().Value) {
			out = append(out, remoteAt("openapi.path", p.Value.YNode(), file))
			_ = an.PipeE(yaml.Clear("path"))
		}
	}
	return out
}

// filterList removes the scalar items of list field key of n for which drop is true and returns
// them as Remotes named field.
func filterList(n *yaml.RNode, key, field, file string, drop func(string) bool) []Remote {
	var out []Remote
	_ = filterItems(n, key, func(e *yaml.Node) (bool, *RenderError) {
		if d := deref(e); d.Kind == yaml.ScalarNode && drop(d.Value) {
			out = append(out, remoteAt(field, d, file))
			return false, nil
		}
		return true, nil
	})
	return out
}

func remoteAt(field string, n *yaml.Node, file string) Remote {
	return Remote{Field: field, Ref: n.Value, Pos: Pos{File: file, Line: n.Line, Column: n.Column}}
}
