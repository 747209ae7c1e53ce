package tests

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/report"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The CI templates of docs/ci.md are tested, so that they cannot rot. Each fenced YAML block there
// follows a marker <!-- ci-test: NAME -->, NAME being github-actions or gitlab-ci. The test parses
// the block strictly as that CI system's pipeline (a key the test does not know fails), then runs
// every polc and kyverno command of each job, in order, on a copy of a good and of a bad testdata
// repository, with the binary under test and the pinned Kyverno CLI (bin/kyverno). It asserts exit
// codes and reports, and that the pipeline's plumbing agrees with its commands: the SARIF file
// uploaded and the JUnit file published are those that polc check writes, the cached chart
// directory is the one polc reads, the Kyverno CLI is the pinned version. Every other command line
// must match ciNotRun, which says why the test does not run it. Every polc command on the page, in
// a pipeline or in the prose, may only use flags that its --help lists.

// ciDocPath is the CI guide, relative to this package.
const ciDocPath = "../docs/ci.md"

// ciRepos are the testdata repositories the pipelines run on, and whether polc check passes on each.
// Neither has a HelmRelease, so polc charts pull has nothing to download and runs offline
// (ciRequireOffline asserts it).
var ciRepos = []struct {
	name string
	good bool
}{
	{"good-minimal", true},
	{"bad-labels-module", false},
}

// ciNotRun are the command lines of the pipelines that the test does not run, each with the reason;
// check, when set, asserts what can be asserted of the line offline. Every entry must match a line.
var ciNotRun = []struct {
	re     *regexp.Regexp
	reason string
	check  func(t *testing.T)
}{
	{
		re:     regexp.MustCompile(`^git clone --quiet --depth 1 --branch "\$POLC_REF" "\$POLC_GIT_URL" \S+$`),
		reason: "fetches polc's source over the network; the test runs the polc built from this tree",
	},
	{
		re:     regexp.MustCompile(`^(GOBIN="[^"]+" )?make -C \S+ install$`),
		reason: "builds and installs polc from that source; the test checks that the Makefile has the target",
		check:  ciRequireMakeInstall,
	},
	{
		re:     regexp.MustCompile(`^echo "[^"]+" >> "\$GITHUB_PATH"$`),
		reason: "puts polc on the runner's PATH; the test runs polc by its path",
	},
	{
		re: regexp.MustCompile(`^curl -sSfL "https://github\.com/kyverno/kyverno/releases/download/\$\{KYVERNO_VERSION\}/` +
			`kyverno-cli_\$\{KYVERNO_VERSION\}_linux_x86_64\.tar\.gz" \| tar -xzf - -C \S+ kyverno$`),
		reason: "downloads the Kyverno CLI release (network); the test runs the pinned bin/kyverno, and checks that KYVERNO_VERSION is its version",
	},
}

// ciActions are the GitHub actions the workflow may use: the test does not run them; the plumbing
// checks (githubPlumbing) assert how the workflow uses those that matter to polc.
var ciActions = map[string]string{
	"actions/checkout":                  "checks the repository out; the test runs in a copy of a testdata repository",
	"actions/cache":                     "caches polc and the chart cache; the test checks that the cached chart directory is polc's",
	"actions/setup-go":                  "installs Go for building polc; the test checks go-version-file names polc's go.mod",
	"kyverno/action-install-cli":        "installs the Kyverno CLI; the test checks its release is the pinned version",
	"github/codeql-action/upload-sarif": "uploads SARIF; the test checks sarif_file is the report polc check writes",
}

// ciBlock is a marked fenced YAML block of docs/ci.md.
type ciBlock struct {
	name string
	// body is the block's text; start is the 0-based index in the file of its first line, so that
	// line n (1-based) of the body is line start+n of the file.
	body  string
	start int
}

var (
	ciMarkerRe = regexp.MustCompile(`^<!-- ci-test: ([a-z0-9-]+) -->$`)
	ciFenceRe  = regexp.MustCompile("^```")
)

// ciBlocks returns the marked blocks of docs/ci.md; a YAML block without a marker fails the test,
// so that no template goes untested.
func ciBlocks(t *testing.T, lines []string) []ciBlock {
	t.Helper()
	var out []ciBlock
	for i := 0; i < len(lines); i++ {
		if !ciFenceRe.MatchString(lines[i]) {
			continue
		}
		end := slices.Index(lines[i+1:], "```")
		require.GreaterOrEqual(t, end, 0, "%s:%d: the fenced block is not closed", ciDocPath, i+1)
		var name string
		if i > 0 {
			if m := ciMarkerRe.FindStringSubmatch(lines[i-1]); m != nil {
				name = m[1]
			}
		}
		require.False(t, name == "" && lines[i] == "```yaml", "%s:%d: a YAML block without a <!-- ci-test: NAME --> marker is not tested", ciDocPath, i+1)
		if name != "" {
			require.Equal(t, "```yaml", lines[i], "%s:%d: marker %s must precede a ```yaml block", ciDocPath, i, name)
			out = append(out, ciBlock{name: name, body: strings.Join(lines[i+1:i+1+end], "\n") + "\n", start: i + 1})
		}
		i += end + 1
	}
	return out
}

// ciScript is a shell script of a pipeline (a run: or a script: item), with its position.
type ciScript struct {
	value string
	// line is the 1-based line in the block of the script's first line.
	line int
}

// UnmarshalYAML keeps the script and the line where its text starts.
func (s *ciScript) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a script must be a string", n.Line)
	}
	s.value, s.line = n.Value, n.Line
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		s.line++ // the text starts on the line after the | or > indicator
	}
	return nil
}

// ciCommand is one command line of a pipeline.
type ciCommand struct {
	// line is the line in docs/ci.md; text is the command as written, continuations joined.
	line int
	text string
	// vars looks up a shell variable as the pipeline defines it for the command.
	vars func(name string) (string, bool)
	// expr expands a GitHub ${{ }} expression; nil for GitLab.
	expr func(expr string) (string, bool)
}

// where names the command's place in the guide.
func (c ciCommand) where() string { return fmt.Sprintf("%s:%d: %s", ciDocPath, c.line, c.text) }

// program is the command's first word.
func (c ciCommand) program() string {
	if f := strings.Fields(c.text); len(f) > 0 {
		return f[0]
	}
	return ""
}

// runs reports whether the test runs the command: it runs polc or kyverno.
func (c ciCommand) runs() bool { return c.program() == "polc" || c.program() == "kyverno" }

// argv expands the command into its words, as the CI shell would; a construct the test does not
// model (pipes, redirections, substitutions, an unknown variable or expression) fails the test.
func (c ciCommand) argv(t *testing.T) []string {
	t.Helper()
	text := c.text
	if c.expr != nil {
		var err error
		text, err = expandGitHubExprs(text, c.expr)
		require.NoError(t, err, c.where())
	}
	words, err := shellWords(text, c.vars)
	require.NoError(t, err, "%s: keep polc and kyverno lines simple commands", c.where())
	return words
}

// scriptCommands splits a script into its command lines; blank and comment lines are left out.
func scriptCommands(s ciScript, start int, vars func(string) (string, bool), expr func(string) (string, bool)) []ciCommand {
	var out []ciCommand
	lines := strings.Split(strings.TrimRight(s.value, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		first, text := i, strings.TrimSpace(lines[i])
		for strings.HasSuffix(text, `\`) && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, `\`) + " " + strings.TrimSpace(lines[i])
		}
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		out = append(out, ciCommand{line: start + s.line + first, text: text, vars: vars, expr: expr})
	}
	return out
}

// shellWords splits a command line into words the way a POSIX shell does for simple commands:
// single and double quotes, backslash escapes, $NAME and ${NAME} expansion (lookup), and a comment
// from an unquoted # that starts a word. Anything else a shell would interpret is an error.
func shellWords(s string, lookup func(string) (string, bool)) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '$':
			name, n, err := shellVarName(rs[i+1:])
			if err != nil {
				return nil, err
			}
			v, ok := lookup(name)
			if !ok {
				return nil, fmt.Errorf("variable %s is not defined by the pipeline or the test", name)
			}
			if quote == 0 && strings.ContainsAny(v, " \t\n*?[") {
				return nil, fmt.Errorf("unquoted $%s would be split or globbed: quote it", name)
			}
			cur.WriteString(v)
			inWord, i = true, i+n
		case quote == '"':
			if r == '"' {
				quote = 0
			} else if r == '\\' && i+1 < len(rs) && strings.ContainsRune(`$"\`, rs[i+1]) {
				i++
				cur.WriteRune(rs[i])
			} else if r == '`' {
				return nil, errors.New("command substitution is not supported")
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case r == '#' && !inWord:
			i = len(rs)
		case strings.ContainsRune("|&;<>()`*?[", r):
			return nil, fmt.Errorf("shell syntax %q is not supported", r)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

var (
	shellVarRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
	shellBracedVarRe = regexp.MustCompile(`^\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// shellVarName reads the variable name after a $ and returns it with the runes it takes.
func shellVarName(rs []rune) (string, int, error) {
	s := string(rs)
	if m := shellBracedVarRe.FindStringSubmatch(s); m != nil {
		return m[1], len([]rune(m[0])), nil
	}
	if m := shellVarRe.FindString(s); m != "" {
		return m, len([]rune(m)), nil
	}
	return "", 0, fmt.Errorf("only $NAME and ${NAME} expansions are supported, not %q", "$"+s)
}

var githubExprRe = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// expandGitHubExprs replaces each ${{ EXPR }} of s by its value; an unknown expression is an error.
func expandGitHubExprs(s string, eval func(string) (string, bool)) (string, error) {
	var err error
	out := githubExprRe.ReplaceAllStringFunc(s, func(m string) string {
		expr := githubExprRe.FindStringSubmatch(m)[1]
		v, ok := eval(expr)
		if !ok && err == nil {
			err = fmt.Errorf("the test cannot evaluate ${{ %s }}", expr)
		}
		return v
	})
	return out, err
}

// ciJob is a job of a pipeline: the commands it runs, in order.
type ciJob struct {
	name     string
	commands []ciCommand
}

// ciEnv is what the test stands in for a CI machine: the checkout, a home and a temporary directory.
// Pipelines see them through their CI system's variables.
type ciEnv struct{ workspace, home, temp string }

// ciPlaceholderEnv is the environment the plumbing checks expand paths in, before any repository copy.
var ciPlaceholderEnv = ciEnv{workspace: "/ci/workspace", home: "/ci/home", temp: "/ci/temp"}

// ciPipeline is a parsed template: its jobs for a given environment, and the checks of its plumbing.
type ciPipeline interface {
	jobs(t *testing.T, env ciEnv) []ciJob
	plumbing(t *testing.T)
}

// TestCITemplates runs the pipelines of docs/ci.md on testdata repositories (see the top of this file).
func TestCITemplates(t *testing.T) {
	data, err := os.ReadFile(ciDocPath)
	require.NoError(t, err)
	blocks := ciBlocks(t, strings.Split(string(data), "\n"))
	var names []string
	matched := make([]bool, len(ciNotRun))
	logged := map[int]bool{} // lines of docs/ci.md whose reason is logged
	for _, b := range blocks {
		names = append(names, b.name)
		t.Run(b.name, func(t *testing.T) {
			p := parseCIPipeline(t, b)
			for _, job := range p.jobs(t, ciPlaceholderEnv) {
				for _, c := range job.commands {
					if !c.runs() {
						markNotRun(t, c, matched, logged)
					}
				}
			}
			p.plumbing(t)
			for _, repo := range ciRepos {
				t.Run(repo.name, func(t *testing.T) { runCIPipeline(t, p, repo.name, repo.good) })
			}
		})
	}
	require.ElementsMatch(t, []string{"github-actions", "gitlab-ci"}, names, "%s must hold one GitHub Actions and one GitLab CI template", ciDocPath)
	if t.Failed() {
		return // a template that failed to parse leaves entries unmatched
	}
	for i, e := range ciNotRun {
		require.True(t, matched[i], "ciNotRun entry %s matches no line of %s: remove it", e.re, ciDocPath)
	}
}

// parseCIPipeline parses a block by its marker.
func parseCIPipeline(t *testing.T, b ciBlock) ciPipeline {
	t.Helper()
	switch b.name {
	case "github-actions":
		return parseGitHubWorkflow(t, b)
	case "gitlab-ci":
		return parseGitLabPipeline(t, b)
	}
	require.Failf(t, "unknown template", "%s: marker ci-test: %s; want github-actions or gitlab-ci", ciDocPath, b.name)
	return nil
}

// markNotRun requires that a command the test does not run is in ciNotRun, logs why it is not run
// (once per line), and runs the entry's check.
func markNotRun(t *testing.T, c ciCommand, matched []bool, logged map[int]bool) {
	t.Helper()
	for i, e := range ciNotRun {
		if e.re.MatchString(c.text) {
			matched[i] = true
			if !logged[c.line] {
				t.Logf("not run: %s (%s)", c.where(), e.reason)
				logged[c.line] = true
			}
			if e.check != nil {
				e.check(t)
			}
			return
		}
	}
	require.Failf(t, "command not tested", "%s runs neither polc nor kyverno: add it to ciNotRun with the reason the test does not run it", c.where())
}

// runCIPipeline runs every job of a pipeline on a fresh copy of a testdata repository (CI jobs
// start from a fresh checkout) whose policy pack is committed, as the guide assumes.
func runCIPipeline(t *testing.T, p ciPipeline, repo string, good bool) {
	for _, job := range p.jobs(t, ciPlaceholderEnv) {
		t.Run(job.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), repo)
			require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "repos", repo))))
			res := Polc(t, dir, "compile")
			require.Equal(t, 0, res.Code, "polc compile (the committed pack): %s%s", res.Stdout, res.Stderr)
			env := ciEnv{workspace: dir, home: t.TempDir(), temp: t.TempDir()}
			ran := 0
			for _, c := range jobByName(t, p.jobs(t, env), job.name).commands {
				if c.runs() {
					runCICommand(t, c, dir, good)
					ran++
				}
			}
			require.NotZero(t, ran, "job %s runs no polc or kyverno command", job.name)
		})
	}
}

// jobByName returns the job named name.
func jobByName(t *testing.T, jobs []ciJob, name string) ciJob {
	t.Helper()
	for _, j := range jobs {
		if j.name == name {
			return j
		}
	}
	require.Failf(t, "no job", "job %s", name)
	return ciJob{}
}

// ciResult is one command's run.
type ciResult struct {
	stdout, stderr string
	code           int
}

// runCICommand checks a polc or kyverno command's flags against its --help, runs it in dir and
// asserts what it must do there.
func runCICommand(t *testing.T, c ciCommand, dir string, good bool) {
	t.Helper()
	argv := c.argv(t)
	bin := ciBinary(t, argv[0])
	if bin == "" {
		return
	}
	requireCIFlags(t, c.where(), bin, argv)
	if len(argv) > 2 && argv[0] == "polc" && argv[1] == "charts" && argv[2] == "pull" {
		ciRequireOffline(t, dir)
	}
	res := execCI(t, dir, bin, argv[1:]...)
	t.Logf("ran %s: exit %d", strings.Join(argv, " "), res.code)
	msg := fmt.Sprintf("%s\nstdout:\n%s\nstderr:\n%s", c.where(), res.stdout, res.stderr)
	switch {
	case argv[0] == "kyverno" && len(argv) > 1 && argv[1] == "test":
		require.Equal(t, 0, res.code, msg)
		require.Regexp(t, `Test Summary: [1-9][0-9]* tests passed and 0 tests failed`, res.stdout+res.stderr, msg)
	case argv[0] == "kyverno":
		require.Failf(t, "unknown kyverno command", "%s: teach runCICommand what it must do", msg)
	default:
		runCIPolc(t, argv, res, dir, good, msg)
	}
}

// runCIPolc asserts what a polc command of a pipeline must do on a good or a bad repository.
func runCIPolc(t *testing.T, argv []string, res ciResult, dir string, good bool, msg string) {
	t.Helper()
	switch sub := ciSubcommand(argv); sub {
	case "":
		require.Equal(t, []string{"polc", "--version"}, argv, msg)
		require.Equal(t, 0, res.code, msg)
		require.NotEmpty(t, strings.TrimSpace(res.stdout), msg)
	case "charts pull":
		require.Equal(t, 0, res.code, msg)
		require.Contains(t, res.stdout, "0 charts cached, 0 failed", msg)
	case "compile":
		require.Contains(t, argv, "--check", "%s: a pipeline compares the committed pack; it does not write it", msg)
		require.Equal(t, 0, res.code, msg)
		require.Contains(t, res.stdout, "is up to date", msg)
	case "check":
		want := 1
		if good {
			want = 0
		}
		require.Equal(t, want, res.code, msg)
		for _, f := range ciFormats(argv) {
			requireCIReport(t, f, res, dir, good, msg)
		}
	default:
		require.Failf(t, "unknown polc command", "%s: teach runCIPolc what polc %s must do", msg, sub)
	}
}

// ciSubcommand returns the polc subcommand of argv ("check", "charts pull"); "" when there is none.
func ciSubcommand(argv []string) string {
	var path []string
	for _, w := range argv[1:] {
		if strings.HasPrefix(w, "-") {
			break
		}
		path = append(path, w)
		if w != "charts" {
			break
		}
	}
	return strings.Join(path, " ")
}

// ciBinary returns the binary that runs a pipeline's program, or "" when it is missing (allowed
// only outside CI).
func ciBinary(t *testing.T, program string) string {
	t.Helper()
	if program == "polc" {
		return polcBin
	}
	bin, err := filepath.Abs(filepath.Join("..", "bin", "kyverno"))
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		testutil.MissingOrFail(t, "the kyverno commands of "+ciDocPath+": bin/kyverno is missing: build it with `make kyverno` (about 10 minutes)")
		return ""
	}
	return bin
}

// execCI runs bin with args in dir.
func execCI(t *testing.T, dir, bin string, args ...string) ciResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := ciResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return res
}

// ciRequireOffline asserts that the repository renders no HelmRelease: polc charts pull downloads
// the charts of the rendered HelmReleases from their repositories, and tests never use the network.
func ciRequireOffline(t *testing.T, dir string) {
	t.Helper()
	res := Polc(t, dir, "render")
	require.Equal(t, 0, res.Code, "polc render: %s", res.Stderr)
	require.NotContains(t, res.Stdout, "kind: HelmRelease",
		"%s renders a HelmRelease, so polc charts pull could use the network: run the pipelines on a repository without one", dir)
}

// ciFormat is one --format of a polc check command: the format and its file ("" = stdout).
type ciFormat struct{ format, file string }

// ciFormats returns the --format values of a polc check command, text when there is none.
func ciFormats(argv []string) []ciFormat {
	var out []ciFormat
	for _, v := range ciFlagValues(argv, "--format") {
		format, file, _ := strings.Cut(v, "=")
		out = append(out, ciFormat{format, file})
	}
	if len(out) == 0 {
		out = append(out, ciFormat{format: "text"})
	}
	return out
}

// ciFlagValues returns the values of a string flag in argv, in either form (--flag v, --flag=v).
func ciFlagValues(argv []string, flag string) []string {
	var out []string
	for i := 1; i < len(argv); i++ {
		if argv[i] == "--" {
			break
		}
		if v, ok := strings.CutPrefix(argv[i], flag+"="); ok {
			out = append(out, v)
		} else if argv[i] == flag && i+1 < len(argv) {
			out = append(out, argv[i+1])
			i++
		}
	}
	return out
}

// requireCIReport asserts that one report of polc check is what its CI system reads, and that it
// agrees with the repository: no failure on a good one, failures at existing files on a bad one.
func requireCIReport(t *testing.T, f ciFormat, res ciResult, dir string, good bool, msg string) {
	t.Helper()
	out := []byte(res.stdout)
	if f.file != "" {
		var err error
		out, err = os.ReadFile(filepath.Join(dir, f.file))
		require.NoError(t, err, "%s: the %s report", msg, f.format)
	}
	switch f.format {
	case "github":
		requireGitHubAnnotations(t, string(out), dir, good, msg)
	case "sarif":
		requireSARIF(t, out, dir, good, msg)
	case "junit":
		requireJUnit(t, out, dir, good, msg)
	case "json":
		var rep report.JSONReport
		require.NoError(t, json.Unmarshal(out, &rep), msg)
		require.Equal(t, good, rep.Summary.Errors == 0, msg)
	case "text":
		require.NotEmpty(t, strings.TrimSpace(string(out)), msg)
	default:
		require.Failf(t, "unknown format", "%s: teach requireCIReport about --format %s", msg, f.format)
	}
}

var githubCommandRe = regexp.MustCompile(`^::(error|warning|notice) ([^:]*)::.`)

// requireGitHubAnnotations asserts that the report is workflow commands, which the runner turns into
// annotations, then the summary, and that errors are annotated exactly on a bad repository, at its
// files.
func requireGitHubAnnotations(t *testing.T, out, dir string, good bool, msg string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	summary := slices.IndexFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "::") })
	require.GreaterOrEqual(t, summary, 0, "%s: no summary after the annotations", msg)
	for _, l := range lines[summary:] {
		require.False(t, strings.HasPrefix(l, "::"), "%s: a workflow command %q follows the summary", msg, l)
	}
	errs := 0
	for _, l := range lines[:summary] {
		m := githubCommandRe.FindStringSubmatch(l)
		require.NotNil(t, m, "%s: %q is not a workflow command", msg, l)
		if m[1] == "error" {
			errs++
			file, ok := strings.CutPrefix(strings.Split(m[2], ",")[0], "file=")
			require.True(t, ok, "%s: annotation %q has no file", msg, l)
			require.FileExists(t, filepath.Join(dir, file), msg)
		}
	}
	if good {
		require.Zero(t, errs, "%s: error annotations on a good repository", msg)
	} else {
		require.NotZero(t, errs, "%s: no error annotation on a bad repository", msg)
	}
}

// ciSARIF is the part of a SARIF log that code scanning needs.
type ciSARIF struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name string `json:"name"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			Level     string `json:"level"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI string `json:"uri"`
					} `json:"artifactLocation"`
					Region struct {
						StartLine int `json:"startLine"`
					} `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

// requireSARIF asserts that a SARIF report is SARIF 2.1.0 with one polc run whose error results are
// there exactly on a bad repository, each at a file of the checkout (relative, as code scanning needs).
func requireSARIF(t *testing.T, data []byte, dir string, good bool, msg string) {
	t.Helper()
	var log ciSARIF
	require.NoError(t, json.Unmarshal(data, &log), "%s: the SARIF report is not JSON", msg)
	require.Equal(t, "2.1.0", log.Version, msg)
	require.Len(t, log.Runs, 1, msg)
	require.Equal(t, "polc", log.Runs[0].Tool.Driver.Name, msg)
	errs := 0
	for _, r := range log.Runs[0].Results {
		require.NotEmpty(t, r.RuleID, msg)
		if r.Level == "error" {
			errs++
		}
		for _, l := range r.Locations {
			uri := l.PhysicalLocation.ArtifactLocation.URI
			require.False(t, filepath.IsAbs(uri), "%s: SARIF uri %s is absolute", msg, uri)
			require.FileExists(t, filepath.Join(dir, filepath.FromSlash(uri)), msg)
			require.Positive(t, l.PhysicalLocation.Region.StartLine, msg)
		}
	}
	require.Equal(t, good, errs == 0, "%s: %d error results", msg, errs)
}

// ciJUnit is the part of a JUnit report that CI systems read.
type ciJUnit struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Cases []struct {
			Name    string    `xml:"name,attr"`
			File    string    `xml:"file,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// requireJUnit asserts that a JUnit report parses as <testsuites> and has failing cases exactly on
// a bad repository, each naming a file of the checkout.
func requireJUnit(t *testing.T, data []byte, dir string, good bool, msg string) {
	t.Helper()
	var rep ciJUnit
	require.NoError(t, xml.Unmarshal(data, &rep), "%s: the JUnit report is not XML of <testsuites>", msg)
	require.NotEmpty(t, rep.Suites, msg)
	cases, failures := 0, 0
	for _, s := range rep.Suites {
		for _, c := range s.Cases {
			cases++
			require.NotEmpty(t, c.Name, msg)
			if c.Failure != nil {
				failures++
				require.FileExists(t, filepath.Join(dir, filepath.FromSlash(c.File)), msg)
			}
		}
	}
	require.NotZero(t, cases, msg)
	require.Equal(t, good, failures == 0, "%s: %d failing cases", msg, failures)
}

// ciHelpFlagRe matches a flag line of cobra's --help: "  -h, --help" or "      --format stringArray".
var ciHelpFlagRe = regexp.MustCompile(`^\s+(?:-([A-Za-z]), )?--([a-z0-9-]+)`)

// ciHelp caches the flags of each command's --help: long names, and short ones prefixed "-".
var ciHelp = map[string]map[string]bool{}

// requireCIFlags asserts that every flag of argv is one that the command's --help lists.
func requireCIFlags(t *testing.T, where, bin string, argv []string) {
	t.Helper()
	var path []string
	for _, w := range argv[1:] {
		if strings.HasPrefix(w, "-") {
			break
		}
		path = append(path, w)
	}
	key := bin + " " + strings.Join(path, " ")
	flags, ok := ciHelp[key]
	if !ok {
		res := execCI(t, ".", bin, append(slices.Clone(path), "--help")...)
		require.Equal(t, 0, res.code, "%s: %s --help: %s", where, strings.Join(argv[:len(path)+1], " "), res.stderr)
		flags = map[string]bool{}
		for _, l := range strings.Split(res.stdout, "\n") {
			if m := ciHelpFlagRe.FindStringSubmatch(l); m != nil {
				flags[m[2]] = true
				if m[1] != "" {
					flags["-"+m[1]] = true
				}
			}
		}
		require.NotEmpty(t, flags, "%s: no flags in the --help of %s", where, key)
		ciHelp[key] = flags
	}
	for _, w := range argv[1:] {
		if w == "--" {
			break
		}
		name, isLong := strings.CutPrefix(w, "--")
		if isLong {
			name, _, _ = strings.Cut(name, "=")
		} else if len(w) == 2 && w[0] == '-' {
			name = w
		} else {
			continue
		}
		require.True(t, flags[name], "%s: %s has no flag %s", where, strings.Join(argv[:len(path)+1], " "), w)
	}
}

// ciInlinePolcRe matches an inline code span of the guide that holds a polc command.
var ciInlinePolcRe = regexp.MustCompile("`(polc(?: [^`]*)?)`")

// TestCIDocFlags checks the flags of every polc command that the prose of docs/ci.md names.
func TestCIDocFlags(t *testing.T) {
	data, err := os.ReadFile(ciDocPath)
	require.NoError(t, err)
	inFence, n := false, 0
	for i, l := range strings.Split(string(data), "\n") {
		if ciFenceRe.MatchString(l) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		for _, m := range ciInlinePolcRe.FindAllStringSubmatch(l, -1) {
			requireCIFlags(t, fmt.Sprintf("%s:%d: %s", ciDocPath, i+1, m[1]), polcBin, strings.Fields(m[1]))
			n++
		}
	}
	require.NotZero(t, n, "%s names no polc command", ciDocPath)
}

// ciRequireMakeInstall asserts that the Makefile has the install target the pipelines build polc with.
func ciRequireMakeInstall(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^install:`, string(data), "the pipelines run make install")
}

// pinnedKyverno returns the Kyverno version the tests run (the one tools/go.mod pins).
func pinnedKyverno(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../tools/go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*github\.com/kyverno/kyverno (v\S+)`).FindSubmatch(data)
	require.NotNil(t, m, "tools/go.mod pins no github.com/kyverno/kyverno")
	return string(m[1])
}

// goMinor returns the Go version of polc's go.mod as major.minor.
func goMinor(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(data)
	require.NotNil(t, m, "go.mod has no go directive")
	return string(m[1])
}

// decodeStrict decodes a block into v, refusing keys that v does not have.
func decodeStrict(t *testing.T, b ciBlock, v any) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(b.body))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(v), "%s: the %s template (block from line %d)", ciDocPath, b.name, b.start+1)
}

// lookupIn returns a variable lookup over maps, the first holding the name winning.
func lookupIn(maps ...map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for _, m := range maps {
			if v, ok := m[name]; ok {
				return v, true
			}
		}
		return "", false
	}
}

// --- GitHub Actions ---

// githubWorkflow is the part of a GitHub Actions workflow the template may use.
type githubWorkflow struct {
	Name        string               `yaml:"name"`
	On          yaml.Node            `yaml:"on"`
	Permissions map[string]string    `yaml:"permissions"`
	Env         map[string]string    `yaml:"env"`
	Jobs        map[string]githubJob `yaml:"jobs"`

	block ciBlock
}

type githubJob struct {
	RunsOn      string            `yaml:"runs-on"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Steps       []githubStep      `yaml:"steps"`
}

type githubStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
	Run  *ciScript         `yaml:"run"`
}

// action returns the action a step uses, without its version.
func (s githubStep) action() string { a, _, _ := strings.Cut(s.Uses, "@"); return a }

// parseGitHubWorkflow parses and validates the structure of a workflow.
func parseGitHubWorkflow(t *testing.T, b ciBlock) *githubWorkflow {
	t.Helper()
	w := &githubWorkflow{block: b}
	decodeStrict(t, b, w)
	require.NotZero(t, w.On.Kind, "%s: the workflow has no on:", ciDocPath)
	require.NotEmpty(t, w.Jobs, "%s: the workflow has no jobs", ciDocPath)
	for name, j := range w.Jobs {
		require.NotEmpty(t, j.RunsOn, "job %s has no runs-on", name)
		require.NotEmpty(t, j.Steps, "job %s has no steps", name)
		for i, s := range j.Steps {
			require.True(t, (s.Uses == "") != (s.Run == nil), "job %s step %d: a step has either uses or run", name, i+1)
			if s.Uses != "" {
				require.Regexp(t, `@v[0-9]`, s.Uses, "job %s: pin the version of %s", name, s.Uses)
				_, known := ciActions[s.action()]
				require.True(t, known, "job %s uses %s, which ciActions does not list", name, s.Uses)
			}
		}
	}
	return w
}

// exprs returns the evaluator of the ${{ }} expressions a step's values may use.
func (w *githubWorkflow) exprs(j githubJob, s githubStep, env ciEnv) func(string) (string, bool) {
	vars := lookupIn(s.Env, j.Env, w.Env)
	return func(expr string) (string, bool) {
		if name, ok := strings.CutPrefix(expr, "env."); ok {
			return vars(name)
		}
		v, ok := map[string]string{"runner.temp": env.temp, "runner.os": "Linux", "runner.arch": "X64", "github.workspace": env.workspace}[expr]
		return v, ok
	}
}

// stepVars returns the shell variables a step's run sees: the workflow's, job's and step's env
// (their ${{ }} expanded), then those of the runner.
func (w *githubWorkflow) stepVars(t *testing.T, j githubJob, s githubStep, env ciEnv) func(string) (string, bool) {
	t.Helper()
	exprs := w.exprs(j, s, env)
	vars := map[string]string{"HOME": env.home, "RUNNER_TEMP": env.temp, "GITHUB_WORKSPACE": env.workspace}
	for _, m := range []map[string]string{w.Env, j.Env, s.Env} {
		for k, v := range m {
			x, err := expandGitHubExprs(v, exprs)
			require.NoError(t, err, "env %s", k)
			vars[k] = x
		}
	}
	return lookupIn(vars)
}

// with returns a step's input, its expressions expanded.
func (w *githubWorkflow) with(t *testing.T, j githubJob, s githubStep, key string) string {
	t.Helper()
	v, err := expandGitHubExprs(s.With[key], w.exprs(j, s, ciPlaceholderEnv))
	require.NoError(t, err, "step %q: with.%s", s.Name, key)
	return v
}

func (w *githubWorkflow) jobs(t *testing.T, env ciEnv) []ciJob {
	t.Helper()
	var out []ciJob
	for _, name := range sortedKeys(w.Jobs) {
		j := w.Jobs[name]
		job := ciJob{name: name}
		for _, s := range j.Steps {
			if s.Run != nil {
				job.commands = append(job.commands, scriptCommands(*s.Run, w.block.start, w.stepVars(t, j, s, env), w.exprs(j, s, env))...)
			}
		}
		out = append(out, job)
	}
	return out
}

// stepCommands returns the commands of one step, for the placeholder environment.
func (w *githubWorkflow) stepCommands(t *testing.T, j githubJob, s githubStep) []ciCommand {
	t.Helper()
	if s.Run == nil {
		return nil
	}
	return scriptCommands(*s.Run, w.block.start, w.stepVars(t, j, s, ciPlaceholderEnv), w.exprs(j, s, ciPlaceholderEnv))
}

// plumbing checks that each job's steps serve its polc commands: the SARIF polc check writes is
// uploaded even when the check fails, the chart cache polc reads is the one actions/cache keeps,
// the Kyverno CLI installed is the pinned one, and every check after polc check runs even when it
// failed.
func (w *githubWorkflow) plumbing(t *testing.T) {
	t.Helper()
	for _, name := range sortedKeys(w.Jobs) {
		j := w.Jobs[name]
		sarif := map[string]int{} // SARIF file -> index of the step that writes it
		cached := map[string]int{}
		checkStep, pullStep, kyvernoStep := -1, -1, -1
		var chartCaches []string
		for i, s := range j.Steps {
			switch s.action() {
			case "github/codeql-action/upload-sarif":
				file := ciAbs(w.with(t, j, s, "sarif_file"))
				at, ok := sarif[file]
				require.True(t, ok && at < i, "job %s: upload-sarif uploads %s, which no earlier polc check writes", name, file)
				require.NotEmpty(t, s.With["category"], "job %s: give the upload a category", name)
				requireRunsAfterFailure(t, s)
				require.Equal(t, "write", j.Permissions["security-events"], "job %s: upload-sarif needs security-events: write", name)
				delete(sarif, file)
			case "actions/cache":
				cached[ciAbs(w.with(t, j, s, "path"))] = i
			case "kyverno/action-install-cli":
				require.Equal(t, pinnedKyverno(t), w.with(t, j, s, "release"), "job %s: install the Kyverno CLI that the tests run (tools/go.mod)", name)
				kyvernoStep = i
			case "actions/setup-go":
				require.Equal(t, "go.mod", filepath.Base(w.with(t, j, s, "go-version-file")), "job %s: build polc with the Go of its go.mod", name)
			}
			runsTool := false
			for _, c := range w.stepCommands(t, j, s) {
				runsTool = runsTool || c.runs()
				if c.program() == "kyverno" {
					require.True(t, kyvernoStep >= 0 && kyvernoStep < i, "%s: no earlier step installs the Kyverno CLI", c.where())
				}
				if c.program() != "polc" {
					continue
				}
				argv := c.argv(t)
				chartCaches = append(chartCaches, ciChartCache(argv)...)
				switch ciSubcommand(argv) {
				case "charts pull":
					pullStep = i
				case "check":
					checkStep = i
					for _, f := range ciFormats(argv) {
						if f.format == "sarif" {
							require.NotEmpty(t, f.file, "%s: write the SARIF report to a file for the upload", c.where())
							sarif[ciAbs(f.file)] = i
						}
					}
				}
			}
			if runsTool && checkStep >= 0 && checkStep < i {
				requireRunsAfterFailure(t, s) // each check runs even when polc check failed
			}
		}
		require.Empty(t, sarif, "job %s: SARIF reports that no step uploads", name)
		requireOneChartCache(t, name, chartCaches)
		if pullStep >= 0 {
			require.NotEmpty(t, chartCaches[0], "job %s: name the chart cache with --chart-cache, so that actions/cache can keep it", name)
			at, ok := cached[ciAbs(chartCaches[0])]
			require.True(t, ok && at < pullStep, "job %s: no actions/cache step before polc charts pull keeps the chart cache %s", name, chartCaches[0])
		}
	}
}

// requireRunsAfterFailure asserts that a step runs even when an earlier step failed.
func requireRunsAfterFailure(t *testing.T, s githubStep) {
	t.Helper()
	require.True(t, strings.Contains(s.If, "!cancelled()") || strings.Contains(s.If, "always()"),
		"step %q runs only when every earlier step passed; add if: ${{ !cancelled() }}", s.Name)
}

// ciChartCache returns the chart cache that a polc charts pull or check command uses: its
// --chart-cache, or "" for the default; nothing for other commands.
func ciChartCache(argv []string) []string {
	switch ciSubcommand(argv) {
	case "charts pull", "check":
		v := ciFlagValues(argv, "--chart-cache")
		if len(v) == 0 {
			return []string{""}
		}
		return v[len(v)-1:]
	}
	return nil
}

// requireOneChartCache asserts that the charts pull and check commands of a job use the same chart
// cache, so that the check renders the charts the pull fetched.
func requireOneChartCache(t *testing.T, job string, dirs []string) {
	t.Helper()
	for _, d := range dirs {
		require.Equal(t, dirs[0], d, "job %s: polc charts pull and polc check must name the same --chart-cache", job)
	}
}

// ciAbs resolves a path of a pipeline against the placeholder workspace.
func ciAbs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(ciPlaceholderEnv.workspace, p)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// --- GitLab CI ---

// gitlabPipeline is the part of a .gitlab-ci.yml the template may use; keys that start with a dot
// are hidden jobs (templates for extends).
type gitlabPipeline struct {
	Stages    []string             `yaml:"stages"`
	Variables map[string]string    `yaml:"variables"`
	Jobs      map[string]gitlabJob `yaml:",inline"`

	block ciBlock
}

type gitlabJob struct {
	Stage        string            `yaml:"stage"`
	Image        string            `yaml:"image"`
	Extends      string            `yaml:"extends"`
	Variables    map[string]string `yaml:"variables"`
	BeforeScript []ciScript        `yaml:"before_script"`
	Script       []ciScript        `yaml:"script"`
	Cache        *struct {
		Key   string   `yaml:"key"`
		Paths []string `yaml:"paths"`
	} `yaml:"cache"`
	Artifacts *struct {
		When    string            `yaml:"when"`
		Reports map[string]string `yaml:"reports"`
	} `yaml:"artifacts"`
}

// parseGitLabPipeline parses and validates the structure of a pipeline.
func parseGitLabPipeline(t *testing.T, b ciBlock) *gitlabPipeline {
	t.Helper()
	p := &gitlabPipeline{block: b}
	decodeStrict(t, b, p)
	require.NotEmpty(t, p.visible(), "%s: the pipeline has no job", ciDocPath)
	for _, name := range p.visible() {
		j := p.resolved(t, name)
		require.NotEmpty(t, j.Script, "job %s has no script", name)
		require.NotEmpty(t, j.Image, "job %s has no image", name)
	}
	return p
}

// visible returns the names of the jobs GitLab runs (not the hidden ones), in order.
func (p *gitlabPipeline) visible() []string {
	var out []string
	for _, name := range sortedKeys(p.Jobs) {
		if !strings.HasPrefix(name, ".") {
			out = append(out, name)
		}
	}
	return out
}

// resolved returns a job with what it extends merged in: its own keys win, variables merge.
func (p *gitlabPipeline) resolved(t *testing.T, name string) gitlabJob {
	t.Helper()
	j, ok := p.Jobs[name]
	require.True(t, ok, "job %s is not defined", name)
	if j.Extends == "" {
		return j
	}
	base := p.resolved(t, j.Extends)
	if j.Image == "" {
		j.Image = base.Image
	}
	if j.Stage == "" {
		j.Stage = base.Stage
	}
	if j.BeforeScript == nil {
		j.BeforeScript = base.BeforeScript
	}
	if j.Script == nil {
		j.Script = base.Script
	}
	if j.Cache == nil {
		j.Cache = base.Cache
	}
	if j.Artifacts == nil {
		j.Artifacts = base.Artifacts
	}
	vars := map[string]string{}
	for _, m := range []map[string]string{base.Variables, j.Variables} {
		for k, v := range m {
			vars[k] = v
		}
	}
	j.Variables = vars
	return j
}

// vars returns the variables a job's scripts see: the job's, the pipeline's, then the predefined
// ones the test stands in for. GitLab expands variables in variable values; so does the lookup.
func (p *gitlabPipeline) vars(j gitlabJob, env ciEnv) func(string) (string, bool) {
	predefined := map[string]string{"CI_PROJECT_DIR": env.workspace, "HOME": env.home}
	raw := lookupIn(j.Variables, p.Variables, predefined)
	var lookup func(string) (string, bool)
	lookup = func(name string) (string, bool) {
		v, ok := raw(name)
		if !ok {
			return "", false
		}
		return os.Expand(v, func(n string) string { x, _ := lookup(n); return x }), true
	}
	return lookup
}

func (p *gitlabPipeline) jobs(t *testing.T, env ciEnv) []ciJob {
	t.Helper()
	var out []ciJob
	for _, name := range p.visible() {
		j := p.resolved(t, name)
		job := ciJob{name: name}
		for _, s := range slices.Concat(j.BeforeScript, j.Script) {
			job.commands = append(job.commands, scriptCommands(s, p.block.start, p.vars(j, env), nil)...)
		}
		out = append(out, job)
	}
	return out
}

// plumbing checks that each job serves its polc commands: the JUnit report polc check writes is the
// one the job publishes, also when the check fails; the chart cache polc reads is one the job
// caches, inside the project; the Kyverno CLI is the pinned one; the image builds polc's Go.
func (p *gitlabPipeline) plumbing(t *testing.T) {
	t.Helper()
	jobs := p.jobs(t, ciPlaceholderEnv)
	for _, name := range p.visible() {
		j := p.resolved(t, name)
		cmds := jobByName(t, jobs, name)
		var junit, chartCaches []string
		pull := false
		for _, c := range cmds.commands {
			if c.program() == "kyverno" {
				v, _ := p.vars(j, ciPlaceholderEnv)("KYVERNO_VERSION")
				require.Equal(t, pinnedKyverno(t), v, "job %s: install the Kyverno CLI that the tests run (tools/go.mod)", name)
			}
			if strings.Contains(c.text, "make -C") {
				require.Equal(t, "golang:"+goMinor(t), j.Image, "job %s: build polc with the Go of its go.mod", name)
			}
			if c.program() != "polc" {
				continue
			}
			argv := c.argv(t)
			chartCaches = append(chartCaches, ciChartCache(argv)...)
			pull = pull || ciSubcommand(argv) == "charts pull"
			for _, f := range ciFormats(argv) {
				if f.format == "junit" {
					require.NotEmpty(t, f.file, "%s: write the JUnit report to a file for artifacts:reports:junit", c.where())
					junit = append(junit, f.file)
				}
			}
		}
		p.requireJUnitPublished(t, name, j, junit)
		requireOneChartCache(t, name, chartCaches)
		if pull {
			require.NotEmpty(t, chartCaches[0], "job %s: name the chart cache with --chart-cache, so that the job can cache it", name)
			dir := filepath.Clean(chartCaches[0])
			require.True(t, filepath.IsLocal(dir), "job %s: GitLab caches only paths inside the project, not %s", name, dir)
			require.NotNil(t, j.Cache, "job %s: cache the chart cache %s", name, dir)
			paths := make([]string, len(j.Cache.Paths))
			for i, c := range j.Cache.Paths {
				paths[i] = filepath.Clean(c)
			}
			require.Contains(t, paths, dir, "job %s: cache the chart cache", name)
		}
	}
}

// requireJUnitPublished asserts that the JUnit reports a job writes are exactly those it publishes,
// and that they are published when the job fails.
func (p *gitlabPipeline) requireJUnitPublished(t *testing.T, name string, j gitlabJob, junit []string) {
	t.Helper()
	var published []string
	if j.Artifacts != nil && j.Artifacts.Reports["junit"] != "" {
		published = append(published, j.Artifacts.Reports["junit"])
	}
	require.Equal(t, junit, published, "job %s: the JUnit report polc check writes must be artifacts:reports:junit", name)
	if len(junit) > 0 {
		require.Equal(t, "always", j.Artifacts.When, "job %s: publish the JUnit report when the check fails: artifacts:when: always", name)
	}
}
