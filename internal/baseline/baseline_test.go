package baseline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// finding returns a labels/module finding about Deployment media/name at line.
func finding(name string, line int) rule.Finding {
	return rule.Finding{Rule: "labels/module", Severity: rule.Error, Module: "media",
		Pos:    rule.Pos{File: "modules/apps/media/deployment.yaml", Line: line, Column: 5},
		Object: &rule.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "media", Name: name},
		Field:  "metadata.labels", Message: `label polc.dev/module is missing; expected "media"`}
}

// fileFinding returns a module/files finding about no object, in file.
func fileFinding(file, msg string) rule.Finding {
	return rule.Finding{Rule: "module/files", Severity: rule.Error, Module: "media", Pos: rule.Pos{File: file, Line: 1}, Message: msg}
}

func TestFingerprint(t *testing.T) {
	base := finding("jellyfin", 7)
	tests := []struct {
		name   string
		change func(f *rule.Finding)
		same   bool
	}{
		{name: "the object moved down its file", same: true, change: func(f *rule.Finding) { f.Pos.Line, f.Pos.Column = 70, 9 }},
		{name: "the object moved to another file", same: true, change: func(f *rule.Finding) { f.Pos.File = "modules/apps/media/app.yaml" }},
		{name: "the message changed", same: true, change: func(f *rule.Finding) { f.Message = "reworded" }},
		{name: "the severity changed", same: true, change: func(f *rule.Finding) { f.Severity = rule.Warning }},
		{name: "the API version changed", same: true, change: func(f *rule.Finding) {
			o := *f.Object
			o.APIVersion = "apps/v2"
			f.Object = &o
		}},
		{name: "another API group", change: func(f *rule.Finding) {
			o := *f.Object
			o.APIVersion = "example.com/v1"
			f.Object = &o
		}},
		{name: "another object", change: func(f *rule.Finding) {
			o := *f.Object
			o.Name = "sonarr"
			f.Object = &o
		}},
		{name: "another namespace", change: func(f *rule.Finding) {
			o := *f.Object
			o.Namespace = "other"
			f.Object = &o
		}},
		{name: "another rule", change: func(f *rule.Finding) { f.Rule = "labels/app-name" }},
		{name: "another module", change: func(f *rule.Finding) { f.Module = "music" }},
		{name: "another field", change: func(f *rule.Finding) { f.Field = "spec.template.metadata.labels" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.change(&f)
			require.Equal(t, tc.same, Of(f) == Of(base), "%s vs %s", Of(f), Of(base))
		})
	}
	t.Run("a finding about no object is identified by its file", func(t *testing.T) {
		a := fileFinding("modules/apps/media/module.yaml", "CHANGELOG.md is missing")
		b := a
		b.Pos.Line, b.Message = 12, "other words"
		require.Equal(t, Of(a), Of(b))
		b.Pos.File = "modules/apps/media/kustomization.yaml"
		require.NotEqual(t, Of(a), Of(b))
	})
	require.Equal(t, "labels/module [media] apps/Deployment media/jellyfin metadata.labels", Of(base).String())
}

func TestApply(t *testing.T) {
	all := func(string) bool { return true }
	tests := []struct {
		name      string
		recorded  []rule.Finding
		found     []rule.Finding
		inScope   func(string) bool
		baselined []bool
		stale     []string
	}{
		{
			name:      "moving an object down its file keeps it baselined",
			recorded:  []rule.Finding{finding("jellyfin", 7)},
			found:     []rule.Finding{finding("jellyfin", 40)},
			baselined: []bool{true},
		},
		{
			name:      "a new finding is not baselined",
			recorded:  []rule.Finding{finding("jellyfin", 7)},
			found:     []rule.Finding{finding("jellyfin", 7), finding("sonarr", 30)},
			baselined: []bool{true, false},
		},
		{
			name:      "identical findings beyond the count are new",
			recorded:  []rule.Finding{finding("jellyfin", 7), finding("jellyfin", 9)},
			found:     []rule.Finding{finding("jellyfin", 7), finding("jellyfin", 9), finding("jellyfin", 11)},
			baselined: []bool{true, true, false},
		},
		{
			name:      "an entry that matches nothing is stale",
			recorded:  []rule.Finding{finding("jellyfin", 7), finding("sonarr", 30)},
			found:     []rule.Finding{finding("sonarr", 3)},
			baselined: []bool{true},
			stale:     []string{"labels/module [media] apps/Deployment media/jellyfin metadata.labels"},
		},
		{
			name:      "an entry that matches fewer findings than its count is stale for the rest",
			recorded:  []rule.Finding{finding("jellyfin", 7), finding("jellyfin", 9), finding("jellyfin", 11)},
			found:     []rule.Finding{finding("jellyfin", 7)},
			baselined: []bool{true},
			stale:     []string{"labels/module [media] apps/Deployment media/jellyfin metadata.labels (2 of 3 no longer found)"},
		},
		{
			name:      "entries of modules the run did not check are not stale",
			recorded:  []rule.Finding{finding("jellyfin", 7)},
			inScope:   func(m string) bool { return m != "media" },
			baselined: []bool{},
		},
		{
			name:     "excepted findings are neither recorded nor baselined",
			recorded: []rule.Finding{excepted(finding("jellyfin", 7))},
			found:    []rule.Finding{excepted(finding("jellyfin", 7)), finding("jellyfin", 7)},
			// The exception's finding is not recorded, so the same finding without it is new.
			baselined: []bool{false, false},
		},
		{
			name:      "findings about no object match by file",
			recorded:  []rule.Finding{fileFinding("modules/apps/media/module.yaml", "a")},
			found:     []rule.Finding{fileFinding("modules/apps/media/module.yaml", "b"), fileFinding("modules/apps/music/module.yaml", "a")},
			baselined: []bool{true, false},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inScope := tc.inScope
			if inScope == nil {
				inScope = all
			}
			res := Build(tc.recorded, nil).Apply(tc.found, inScope)
			require.Equal(t, tc.baselined, res.Baselined)
			var stale []string
			for _, s := range res.Stale {
				stale = append(stale, s.String())
			}
			require.Equal(t, tc.stale, stale)
			n := 0
			for _, b := range res.Baselined {
				if b {
					n++
				}
			}
			require.Equal(t, n, res.Count)
		})
	}
	t.Run("no baseline holds nothing", func(t *testing.T) {
		var b *File
		require.Equal(t, Result{Baselined: []bool{false}}, b.Apply([]rule.Finding{finding("a", 1)}, all))
	})
}

func excepted(f rule.Finding) rule.Finding {
	f.Excepted, f.Reason = true, "accepted"
	return f
}

// goldenFindings are the findings of TestWriteGolden: repeated and unsorted on purpose.
var goldenFindings = []rule.Finding{
	finding("sonarr", 30),
	finding("jellyfin", 9),
	finding("jellyfin", 7),
	fileFinding("modules/apps/media/module.yaml", "modules/apps/media/CHANGELOG.md is missing"),
	{Rule: "deps/cycle", Severity: rule.Error, Pos: rule.Pos{File: "polc.yaml"}, Message: "a -> b -> a\nsecond line"},
	{Rule: "security/image-digest", Severity: rule.Warning, Module: "media", Pos: rule.Pos{File: "modules/apps/media/deployment.yaml", Line: 21},
		Object: &rule.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: "media", Name: "debug"},
		Field:  "spec.containers[0].image", Message: `image "busybox" has no digest`},
	excepted(finding("excepted", 50)),
}

func TestWriteGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.yaml")
	require.NoError(t, Build(goldenFindings, nil).Write(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	testutil.Golden(t, filepath.Join("testdata", "baseline.golden.yaml"), got)

	t.Run("deterministic whatever the order of findings", func(t *testing.T) {
		rev := make([]rule.Finding, len(goldenFindings))
		for i, f := range goldenFindings {
			rev[len(rev)-1-i] = f
		}
		again, err := Build(rev, nil).Marshal()
		require.NoError(t, err)
		require.Equal(t, string(got), string(again))
	})
	t.Run("round trip", func(t *testing.T) {
		b, err := Load(path)
		require.NoError(t, err)
		require.Equal(t, path, b.Path())
		again, err := b.Marshal()
		require.NoError(t, err)
		require.Equal(t, string(got), string(again))
		res := b.Apply(goldenFindings, nil)
		require.Equal(t, []bool{true, true, true, true, true, true, false}, res.Baselined)
		require.Empty(t, res.Stale)
	})
}

func TestBuildKeepsEntriesOutOfScope(t *testing.T) {
	music := finding("navidrome", 3)
	music.Module = "music"
	old := Build([]rule.Finding{finding("jellyfin", 7), music}, nil)
	inScope := func(m string) bool { return m == "media" }
	// The run checked media only, and media's finding is fixed: music's entry is kept.
	kept := Build([]rule.Finding{finding("sonarr", 1)}, old.OutOf(inScope))
	var got []string
	for _, e := range kept.Entries {
		got = append(got, e.Fingerprint().String())
	}
	require.Equal(t, []string{
		"labels/module [media] apps/Deployment media/sonarr metadata.labels",
		"labels/module [music] apps/Deployment media/navidrome metadata.labels",
	}, got)
}

func TestLoadErrors(t *testing.T) {
	const head = "apiVersion: polc.dev/v1alpha1\nkind: Baseline\n"
	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "empty", data: "", want: "F:1: file is empty; expected apiVersion: polc.dev/v1alpha1, kind: Baseline"},
		{name: "broken YAML", data: head + "entries:\n  - rule: a\n   count: 1\n", want: "F:3: invalid YAML: did not find expected '-' indicator"},
		{name: "unknown top-level field", data: head + "entries: []\ncolour: red\n", want: `F:4: unknown field "colour"`},
		{name: "unknown entry field", data: head + "entries:\n  - rule: a\n    count: 1\n    line: 7\n", want: `F:6: unknown field "line"`},
		{name: "unknown object field", data: head + "entries:\n  - rule: a\n    count: 1\n    object: {kind: Pod, name: x, uid: y}\n", want: `F:6: unknown field "uid"`},
		{name: "wrong type", data: head + "entries:\n  - rule: a\n    count: many\n", want: "F:5: cannot unmarshal str `many` into int"},
		{name: "wrong apiVersion", data: "apiVersion: v1\nkind: Baseline\nentries: []\n", want: `F:1: apiVersion is "v1"; expected polc.dev/v1alpha1`},
		{name: "wrong kind", data: "apiVersion: polc.dev/v1alpha1\nkind: Config\nentries: []\n", want: `F:1: kind is "Config"; expected Baseline`},
		{name: "missing rule", data: head + "entries:\n  - count: 1\n", want: "F:4: entries[0]: rule is missing"},
		{name: "zero count", data: head + "entries:\n  - rule: a\n    module: m\n", want: "F:4: entries[0]: count is 0; expected at least 1"},
		{name: "object without name", data: head + "entries:\n  - rule: a\n    count: 1\n    object: {kind: Pod}\n", want: "F:4: entries[0]: object needs a kind and a name"},
		{name: "object and file", data: head + "entries:\n  - rule: a\n    count: 1\n    file: x.yaml\n    object: {kind: Pod, name: p}\n", want: "F:4: entries[0]: object and file are exclusive: file stands in for the object of a finding about no object"},
		{name: "repeated entry", data: head + "entries:\n  - rule: a\n    count: 1\n  - rule: b\n    count: 1\n  - rule: a\n    count: 2\n",
			want: "F:8: entries[2]: same rule, module, object, file and field as entries[0] (line 4); merge them into one entry and add up their counts"},
		{name: "two documents", data: head + "entries: []\n---\nkind: Baseline\n", want: "F:5: expected one YAML document, found more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("F", []byte(tc.data))
			require.EqualError(t, err, tc.want)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.yaml")
		_, err := Load(path)
		require.EqualError(t, err, "baseline "+path+" does not exist; write it with: polc baseline "+path)
		require.True(t, IsNotExist(err))
	})
	t.Run("an alias bomb is refused", func(t *testing.T) {
		_, err := Parse("F", []byte(testutil.AliasBomb(head+"anchors:\n")+"entries: *i\n"))
		require.Error(t, err)
		require.True(t, strings.HasPrefix(err.Error(), "F:"), err.Error())
	})
}
