package rego

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/rule"
	"polc.dev/polc/internal/testutil"
)

// loadRule loads a policy of one file, policy/x.rego, in package main.
func loadRule(t *testing.T, src string) (*Policy, error) {
	t.Helper()
	dir := testutil.WriteRepo(t, map[string]string{"policy/x.rego": "package main\n\n" + src})
	return Load(dir, dir)
}

// evalRule loads src (see loadRule), sets the policy's limits and evaluates it on the Service of
// module media.
func evalRule(t *testing.T, ctx context.Context, src string, timeout time.Duration, maxMemory uint64) ([]rule.Finding, error) {
	t.Helper()
	p, err := loadRule(t, src)
	require.NoError(t, err)
	p.Timeout, p.MaxMemory = timeout, maxMemory
	repo := testRepo(t)
	e, err := p.Prepare(context.Background(), repo)
	require.NoError(t, err)
	return e.CheckObject(ctx, repo.ByName["media"], object(t, "svc.yaml", service))
}

func TestCapabilities(t *testing.T) {
	left := map[string]bool{}
	for _, b := range Capabilities().Builtins {
		left[b.Name] = true
		require.False(t, b.Nondeterministic, b.Name)
	}
	for name := range excluded {
		require.Contains(t, ast.BuiltinMap, name, "OPA has no builtin %s any more", name)
		require.False(t, left[name], name)
	}
	for name := range capped {
		require.True(t, left[name], name)
	}
	require.True(t, left["sprintf"])
	require.NotNil(t, Capabilities().AllowNet)
	require.Empty(t, Capabilities().AllowNet)
}

func TestExcludedBuiltins(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "http.send to a unix socket",
			src:  "deny contains msg if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"unix:///var/run/docker.sock/info\"})\n\tmsg := r.body\n}\n",
			want: "policy/x.rego:4:7: polc_error: builtin http.send is not allowed: polc evaluates policies without network access",
		},
		{
			name: "net.lookup_ip_addr",
			src:  "deny contains \"x\" if {\n\tcount(net.lookup_ip_addr(\"example.com\")) > 0\n}\n",
			want: "policy/x.rego:4:8: polc_error: builtin net.lookup_ip_addr is not allowed: polc evaluates policies without network access",
		},
		{
			name: "time.now_ns",
			src:  "deny contains \"late\" if time.now_ns() > 0\n",
			want: "policy/x.rego:3:25: polc_error: builtin time.now_ns is not allowed: polc evaluates policies without a clock",
		},
		{
			name: "rand.intn",
			src:  "deny contains \"x\" if {\n\trand.intn(\"seed\", 10) == 1\n}\n",
			want: "policy/x.rego:4:2: polc_error: builtin rand.intn is not allowed: polc evaluates policies without randomness",
		},
		{
			name: "uuid.rfc4122",
			src:  "deny contains msg if {\n\tmsg := uuid.rfc4122(\"x\")\n}\n",
			want: "policy/x.rego:4:9: polc_error: builtin uuid.rfc4122 is not allowed: polc evaluates policies without randomness",
		},
		{
			name: "opa.runtime",
			src:  "deny contains msg if {\n\tmsg := opa.runtime().env.GITHUB_TOKEN\n}\n",
			want: "policy/x.rego:4:9: polc_error: builtin opa.runtime is not allowed: polc does not show its environment to policies",
		},
		{
			name: "json.verify_schema, which may fetch remote schemas",
			src:  "deny contains \"x\" if json.verify_schema({\"$ref\": \"http://example.com/s.json\"})[0]\n",
			want: "policy/x.rego:3:22: polc_error: builtin json.verify_schema is not allowed: polc evaluates policies without network access",
		},
		{
			name: "strings.render_template",
			src:  "deny contains msg if msg := strings.render_template(\"{{range 1000000000}}x{{end}}\", {})\n",
			want: "policy/x.rego:3:29: polc_error: builtin strings.render_template is not allowed: templates can run without bound",
		},
		{
			name: "an excluded builtin as a with replacement",
			src:  "deny contains \"x\" if {\n\tcount([1]) with count as http.send\n}\n",
			want: "policy/x.rego:4:27: rego_unsafe_var_error: var http is unsafe",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadRule(t, tc.src)
			var perr *Error
			require.ErrorAs(t, err, &perr)
			require.Len(t, perr.Problems, 1)
			require.Contains(t, perr.Problems[0], tc.want)
		})
	}
}

// TestNoNetwork checks that nothing in a policy reaches a loopback server: neither a call of
// http.send, nor a schema in a METADATA annotation.
func TestNoNetwork(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"type": "object"}`)
	}))
	defer srv.Close()

	_, err := loadRule(t, fmt.Sprintf("deny contains \"x\" if http.send({\"method\": \"GET\", \"url\": %q}).status_code == 200\n", srv.URL))
	require.ErrorContains(t, err, "builtin http.send is not allowed")

	f, err := evalRule(t, context.Background(), fmt.Sprintf(`# METADATA
# schemas:
#   - input: {"$ref": %q}
deny contains "Service" if input.kind == "Service"
`, srv.URL+"/schema.json"), 0, 0)
	require.NoError(t, err)
	require.Len(t, f, 1)

	require.Zero(t, hits.Load(), "the policy reached the network")
}

func TestTimeout(t *testing.T) {
	loop := "deny contains \"x\" if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti == j + 1000000\n}\n"
	p, err := loadRule(t, loop)
	require.NoError(t, err)
	p.Timeout = 100 * time.Millisecond
	repo := testRepo(t)
	e, err := p.Prepare(context.Background(), repo)
	require.NoError(t, err)
	start := time.Now()
	_, err = e.CheckObject(context.Background(), repo.ByName["media"], object(t, "svc.yaml", service))
	require.EqualError(t, err, "evaluate rego/main/deny on Service/media/web: took longer than 100ms")
	require.Less(t, time.Since(start), 30*time.Second)

	// The evaluator is stopped for good: the next object gets the same error at once.
	_, err2 := e.CheckObject(context.Background(), repo.ByName["media"], object(t, "svc.yaml", service))
	require.Equal(t, err, err2)
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := evalRule(t, ctx, "deny contains \"x\" if {\n\tsome i in numbers.range(1, 100000)\n\tsome j in numbers.range(1, 100000)\n\ti == j + 1000000\n}\n", time.Minute, 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "evaluate rego/main/deny on Service/media/web: stopped: ")
}

func TestMemory(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "iteration over a huge range",
			src:  "deny contains msg if {\n\tsome i in numbers.range(1, 2000000000)\n\tmsg := sprintf(\"%d\", [i])\n}\n",
			want: "policy/x.rego:4:12: eval_builtin_error: numbers.range: a range of 2000000000 numbers is over polc's limit of 1000000",
		},
		{
			name: "comprehension over a huge range",
			src:  "deny contains \"x\" if {\n\tx := count([i | some i in numbers.range(1, 2e9)])\n\tx > 0\n}\n",
			want: "policy/x.rego:4:28: eval_builtin_error: numbers.range: a range of 2000000000 numbers is over polc's limit of 1000000",
		},
		{
			name: "range with a step",
			src:  "deny contains \"x\" if count(numbers.range_step(0, 1e12, 1000)) > 0\n",
			want: "numbers.range_step: a range of 1000000001 numbers is over polc's limit of 1000000",
		},
		{
			name: "range with a huge bound",
			src:  "deny contains \"x\" if count(numbers.range(0, 1e30000)) > 0\n",
			want: "numbers.range: 1e+30000 is over polc's limit of 2^65536",
		},
		{
			name: "range with large bounds",
			src:  "deny contains \"x\" if count(numbers.range(-1e300, 1e300)) > 0\n",
			want: "numbers.range: a range of 2e+300 numbers is over polc's limit of 1000000",
		},
		{
			name: "net.cidr_expand",
			src:  "deny contains \"x\" if count(net.cidr_expand(\"10.0.0.0/8\")) > 0\n",
			want: `net.cidr_expand: "10.0.0.0/8" has 2^24 addresses, over polc's limit of 1000000`,
		},
		{
			name: "bits.lsh",
			src:  "deny contains \"x\" if bits.lsh(1, 100000000) > 0\n",
			want: "bits.lsh: a shift of 100000000 bits is over polc's limit of 65536",
		},
		{
			name: "split into many pieces",
			src:  "deny contains \"x\" if {\n\ts := sprintf(\"%01000000d\", [0])\n\tcount(split(concat(\"\", [s, s]), \"0\")) > 0\n}\n",
			want: "split: 2000001 pieces are over polc's limit of 1000000",
		},
		{
			name: "concat of many copies",
			src:  "deny contains \"x\" if {\n\ts := sprintf(\"%01000000d\", [0])\n\tcount(concat(\"\", [s | some i in numbers.range(1, 70)])) > 0\n}\n",
			want: "concat: 70000000 bytes are over polc's limit of 67108864",
		},
		{
			name: "sprintf with huge widths",
			src:  "deny contains \"x\" if {\n\tf := concat(\"\", [\"%[1]999999d\" | some i in numbers.range(1, 70)])\n\tcount(sprintf(f, [1])) > 0\n}\n",
			want: "sprintf: the result could be 70000770 bytes, over polc's limit of 67108864",
		},
		{
			name: "json.marshal of many copies",
			src:  "deny contains \"x\" if {\n\ts := sprintf(\"%010000d\", [0])\n\tcount(json.marshal([s | some i in numbers.range(1, 7000)])) > 0\n}\n",
			want: "json.marshal: the value is over polc's limit of 67108864 bytes written out",
		},
		{
			name: "certificates verified against the clock",
			src:  "deny contains \"x\" if crypto.x509.parse_and_verify_certificates_with_options(\"\", {})[0]\n",
			want: "crypto.x509.parse_and_verify_certificates_with_options: set CurrentTime in the options",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := evalRule(t, context.Background(), tc.src, 0, 0)
			require.ErrorContains(t, err, "evaluate rego/main/deny on Service/media/web: ")
			require.ErrorContains(t, err, tc.want)
			require.Less(t, time.Since(start), DefaultTimeout, "the limit should stop the evaluation well before the timeout")
		})
	}
}

// TestMemoryWatchdog grows the heap without any capped builtin, over many evaluation steps.
func TestMemoryWatchdog(t *testing.T) {
	_, err := evalRule(t, context.Background(), "deny contains \"x\" if {\n\tx := [[i, j] | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000)]\n\tcount(x) > 0\n}\n", time.Minute, 16<<20)
	require.EqualError(t, err, "evaluate rego/main/deny on Service/media/web: stopped: the Go heap grew by more than 16 MiB while it ran")
	var limit *errLimit
	require.True(t, errors.As(err, &limit))
}

// TestCappedBuiltinsWork checks that the capped builtins still work within their limits.
func TestCappedBuiltinsWork(t *testing.T) {
	f, err := evalRule(t, context.Background(), `deny contains msg if {
	msg := sprintf("%d %d %s %s %d %d %5s|", [
		count(numbers.range(1, 65535)),
		count(net.cidr_expand("10.0.0.0/24")),
		json.marshal({"a": [1]}),
		concat(",", split("a,b", ",")),
		bits.lsh(1, 8),
		count(numbers.range_step(0, 10, 5)),
		"x",
	])
}
`, 0, 0)
	require.NoError(t, err)
	require.Len(t, f, 1)
	require.Equal(t, `65535 256 {"a":[1]} a,b 256 3     x|`, f[0].Message)
}

func TestScanFormat(t *testing.T) {
	tests := []struct {
		format     string
		verbs, pad int
	}{
		{"no verbs %%", 0, 0},
		{"%s and %d", 2, 0},
		{"%5s|%-10.3f|%08d", 3, 26},
		{"%[2]*d %.*f", 2, 2 * fmtMaxWidth},
		{"%[1]999999999999d", 1, fmtMaxWidth},
	}
	for _, tc := range tests {
		verbs, pad := scanFormat(tc.format)
		require.Equal(t, tc.verbs, verbs, tc.format)
		require.Equal(t, tc.pad, pad, tc.format)
	}
}

// TestSymlinkedPolicyRefused checks that a symlink in the policy directory is an error naming it,
// never silently skipped (nor followed out of the repository).
func TestSymlinkedPolicyRefused(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "x.rego")
	require.NoError(t, os.WriteFile(outside, []byte("package main\n"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "linked.rego")))
	_, err := Load(dir, filepath.Dir(dir))
	require.ErrorContains(t, err, "linked.rego is a symlink")
}
