package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The README's sample outputs are tested: a fenced code block right after an HTML comment
// <!-- readme-test: NAME --> is checked by the entry NAME of readmeSamples, so a sample cannot go
// stale. `go test ./tests -run TestReadmeSamples -update` rewrites the samples from the built
// binary; review the diff.

// readmePath is the README, relative to this package.
const readmePath = "../README.md"

// sampleKind says how a README sample block is checked.
type sampleKind int

const (
	// transcript: "$ polc ARGS" lines, each followed by the exact output (stdout, then stderr) of
	// running it in the sample's directory.
	transcript sampleKind = iota
	// jsonOutput: JSON equal (as a value; the README may lay it out freely) to the stdout of
	// running args in the sample's directory.
	jsonOutput
	// preCommitConfig: a .pre-commit-config.yaml whose local hooks are those of
	// .pre-commit-hooks.yaml run as language: system (TestPreCommitLocal runs it).
	preCommitConfig
)

// readmeSample is how one marked README block is checked.
type readmeSample struct {
	kind sampleKind
	// dir is where the commands run, relative to this package; empty for a new, empty git
	// repository.
	dir string
	// args are the polc arguments of a jsonOutput sample.
	args []string
}

// readmeSamples are every marked block of the README.
var readmeSamples = map[string]readmeSample{
	"first-steps":      {kind: transcript},
	"check-text":       {kind: transcript, dir: "testdata/readme"},
	"check-json":       {kind: jsonOutput, dir: "testdata/readme", args: []string{"check", "--format", "json"}},
	"pre-commit-local": {kind: preCommitConfig},
}

// readmeBlock is a marked fenced code block of a Markdown file.
type readmeBlock struct {
	name string
	// body is the text between the fences, each line ending in a newline.
	body string
	// start and end are the indexes of the body's first line and of the closing fence line.
	start, end int
}

var markerRe = regexp.MustCompile(`^<!-- readme-test: ([a-z0-9-]+) -->$`)

// readmeBlocks returns the marked blocks of a Markdown file, in order.
func readmeBlocks(t *testing.T, lines []string) []readmeBlock {
	t.Helper()
	var out []readmeBlock
	for i, l := range lines {
		m := markerRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		require.Less(t, i+1, len(lines), "README line %d: marker %s ends the file", i+1, m[1])
		require.True(t, strings.HasPrefix(lines[i+1], "```"), "README line %d: marker %s is not followed by a fenced code block", i+1, m[1])
		end := slices.Index(lines[i+2:], "```")
		require.GreaterOrEqual(t, end, 0, "README line %d: the block of %s is not closed", i+2, m[1])
		b := readmeBlock{name: m[1], start: i + 2, end: i + 2 + end}
		for _, bl := range lines[b.start:b.end] {
			b.body += bl + "\n"
		}
		out = append(out, b)
	}
	return out
}

// readmeSampleBlock returns the body of the README block marked name.
func readmeSampleBlock(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	for _, b := range readmeBlocks(t, strings.Split(string(data), "\n")) {
		if b.name == name {
			return b.body
		}
	}
	require.Fail(t, "README has no block marked <!-- readme-test: "+name+" -->")
	return ""
}

// TestReadmeSamples runs the commands of every marked README sample with the built binary and
// compares their output with the sample; every entry of readmeSamples must mark one block.
func TestReadmeSamples(t *testing.T) {
	data, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	blocks := readmeBlocks(t, lines)
	var seen []string
	for _, b := range slices.Backward(blocks) { // backwards, so that an update keeps earlier indexes
		s, ok := readmeSamples[b.name]
		require.True(t, ok, "README marks an unknown sample %s", b.name)
		require.NotContains(t, seen, b.name, "README marks sample %s twice", b.name)
		seen = append(seen, b.name)
		var want string
		t.Run(b.name, func(t *testing.T) {
			switch s.kind {
			case transcript:
				want = runTranscript(t, s.dir, b.body)
				if !testutil.Updating() {
					require.Equal(t, want, b.body, "README sample %s is stale (go test ./tests -run TestReadmeSamples -update)", b.name)
				}
			case jsonOutput:
				want = checkJSONSample(t, s, b.body)
			case preCommitConfig:
				checkPreCommitSample(t, b.body)
				want = b.body
			}
		})
		if testutil.Updating() && want != b.body {
			lines = slices.Concat(lines[:b.start], strings.Split(strings.TrimSuffix(want, "\n"), "\n"), lines[b.end:])
		}
	}
	for name := range readmeSamples {
		require.Contains(t, seen, name, "README has no block marked <!-- readme-test: %s -->", name)
	}
	if testutil.Updating() {
		require.NoError(t, os.WriteFile(readmePath, []byte(strings.Join(lines, "\n")), 0o644))
	}
}

// runTranscript runs each "$ polc ARGS" line of body in dir (a new git repository when dir is
// empty), in order, and returns the transcript with the real outputs.
func runTranscript(t *testing.T, dir, body string) string {
	t.Helper()
	if dir == "" {
		dir = freshRepo(t)
	}
	var out strings.Builder
	for _, l := range strings.SplitAfter(body, "\n") {
		cmd, ok := strings.CutPrefix(l, "$ ")
		if !ok {
			continue
		}
		require.NotContainsf(t, cmd, `"`, "sample command %q: quoting is not supported", cmd)
		args := strings.Fields(cmd)
		require.Equal(t, "polc", args[0], "sample command %q does not run polc", cmd)
		res := Polc(t, dir, args[1:]...)
		out.WriteString(l + res.Stdout + res.Stderr)
	}
	require.NotZero(t, out.Len(), "sample has no $ polc line")
	return out.String()
}

// checkJSONSample compares a JSON sample with the output of its command as values, and returns
// the sample to write on -update: the body when it is right, else the indented output.
func checkJSONSample(t *testing.T, s readmeSample, body string) string {
	t.Helper()
	res := Polc(t, s.dir, s.args...)
	var got, want any
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &got), res.Stdout)
	require.NoError(t, json.Unmarshal([]byte(body), &want), "the README sample is not JSON:\n%s", body)
	if testutil.Updating() {
		if reflect.DeepEqual(got, want) {
			return body
		}
		var b bytes.Buffer
		require.NoError(t, json.Indent(&b, []byte(res.Stdout), "", "  "))
		return b.String()
	}
	require.Equal(t, got, want, "README sample of polc %s is stale (go test ./tests -run TestReadmeSamples -update)", strings.Join(s.args, " "))
	return body
}

// preCommitHook is the part of a pre-commit hook definition that the local hooks share with
// .pre-commit-hooks.yaml.
type preCommitHook struct {
	ID            string `yaml:"id"`
	Name          string `yaml:"name"`
	Entry         string `yaml:"entry"`
	Language      string `yaml:"language"`
	PassFilenames *bool  `yaml:"pass_filenames"`
	RequireSerial bool   `yaml:"require_serial"`
	Files         string `yaml:"files"`
}

// checkPreCommitSample: the README's repo: local configuration runs every hook of
// .pre-commit-hooks.yaml, with the same entry, files and file passing, from the polc on PATH.
func checkPreCommitSample(t *testing.T, body string) {
	t.Helper()
	var cfg struct {
		Repos []struct {
			Repo  string          `yaml:"repo"`
			Hooks []preCommitHook `yaml:"hooks"`
		} `yaml:"repos"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(body), &cfg))
	require.Len(t, cfg.Repos, 1)
	require.Equal(t, "local", cfg.Repos[0].Repo)
	data, err := os.ReadFile(filepath.Join("..", ".pre-commit-hooks.yaml"))
	require.NoError(t, err)
	var published []preCommitHook
	require.NoError(t, yaml.Unmarshal(data, &published))
	require.Len(t, cfg.Repos[0].Hooks, len(published))
	for i, h := range cfg.Repos[0].Hooks {
		p := published[i]
		require.Equal(t, "system", h.Language, h.ID)
		p.Language = h.Language
		require.Equal(t, p, h, "the README's local hook %s differs from .pre-commit-hooks.yaml", h.ID)
	}
}
