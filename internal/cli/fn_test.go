package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/fn/framework"
	"sigs.k8s.io/kustomize/kyaml/fn/framework/frameworktestutil"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

// TestFn runs the KRM function in process, through kyaml's framework.Execute, on each
// testdata/fn/<case>/input.yaml (each case directory is its own repository) and compares the
// ResourceList it writes with expected.yaml and its error, if any, with errors.txt.
// Run with -update to rewrite them, then review the diff.
func TestFn(t *testing.T) {
	cases, err := os.ReadDir("testdata/fn")
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			dir, err := filepath.Abs(filepath.Join("testdata", "fn", c.Name()))
			require.NoError(t, err)
			input, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
			require.NoError(t, err)
			t.Chdir(dir)
			var out bytes.Buffer
			p := &fnProcessor{repo: ".", now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
			err = framework.Execute(p, &kio.ByteReadWriter{Reader: bytes.NewReader(input), Writer: &out, OmitReaderAnnotations: true, KeepReaderAnnotations: true})
			testutil.Golden(t, filepath.Join(dir, "expected.yaml"), out.Bytes())
			errFile := filepath.Join(dir, "errors.txt")
			if err != nil {
				testutil.Golden(t, errFile, []byte(err.Error()+"\n"))
				return
			}
			if testutil.Updating() {
				_ = os.Remove(errFile)
			}
			require.NoFileExists(t, errFile, "the function succeeded but errors.txt expects an error")
		})
	}
}

// TestFnFrameworkChecker runs the compliant case through kyaml's own test harness for
// functions.
func TestFnFrameworkChecker(t *testing.T) {
	rc := frameworktestutil.ProcessorResultsChecker{
		TestDataDirectory: "testdata/fn/clean",
		Processor:         func() framework.ResourceListProcessor { return &fnProcessor{repo: "."} },
	}
	rc.Assert(t)
	require.Len(t, rc.TestCasesRun(), 1)
}

// TestFnExitCode checks the command: error results exit 1 and are printed on stderr.
func TestFnExitCode(t *testing.T) {
	tests := []struct {
		name   string
		dir    string
		code   int
		stderr string
	}{
		{name: "error results fail", dir: "repo-labels", code: 1, stderr: "[error] v1/Service/media/web spec.type: rego/polc.loadbalancer/deny"},
		{name: "compliant passes", dir: "clean", code: 0},
		{name: "bad function config", dir: "bad-function-config", code: 2, stderr: "functionConfig is v1 ConfigMap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", "fn", tc.dir)
			input, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
			require.NoError(t, err)
			var stdout, stderr bytes.Buffer
			root := NewRoot()
			root.SetArgs([]string{"fn", "--repo", dir})
			root.SetIn(bytes.NewReader(input))
			root.SetOut(&stdout)
			root.SetErr(&stderr)
			code := 0
			if err := root.Execute(); err != nil {
				ee, ok := err.(*ExitError)
				require.True(t, ok, "%v", err)
				code = ee.Code
				if ee.Err != nil {
					stderr.WriteString(ee.Err.Error())
				}
			}
			require.Equal(t, tc.code, code, stderr.String())
			require.Contains(t, stderr.String(), tc.stderr)
			if tc.code != 2 {
				require.Contains(t, stdout.String(), "kind: ResourceList")
			}
		})
	}
}

// TestFnInputGuards checks that polc fn refuses an alias bomb and an oversized input before any
// decoder expands or keeps it.
func TestFnInputGuards(t *testing.T) {
	bomb := "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n  data:\n    a: &a [\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\",\"l\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += "    " + n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = n
	}
	tests := []struct {
		name    string
		input   io.Reader
		wantErr string
	}{
		{name: "alias bomb", input: strings.NewReader(bomb), wantErr: "alias bomb"},
		{name: "endless input", input: io.LimitReader(zeros{}, maxFnInput+10), wantErr: "larger than the 64 MiB limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readFnInput(tc.input)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// zeros is an endless reader of spaces.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
