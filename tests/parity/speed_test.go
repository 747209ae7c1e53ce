package parity

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/check"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/kyverno/pack"
	"polc.dev/polc/internal/testutil"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// TestSpeedAgainstKyverno times polc check and kyverno apply of the compiled pack (both targets)
// on the same rendered objects of the generated 200-module repository, in one run, and prints the
// ratios. It measures, it does not judge: run it with POLC_SPEED=1 (hack/kyverno-speed.sh).
func TestSpeedAgainstKyverno(t *testing.T) {
	if os.Getenv("POLC_SPEED") == "" {
		t.Skip("set POLC_SPEED=1 to measure polc check against kyverno apply")
	}
	bin := kyvernoBin(t)
	dir := t.TempDir()
	require.NoError(t, testutil.GenerateRepo(dir, 200))

	start := time.Now()
	res, err := check.Run(context.Background(), check.Options{Root: dir, Rules: builtin.All()})
	require.NoError(t, err)
	polcTime := time.Since(start)

	// The same objects as the cluster sees them, and the pack, written once: into POLC_SPEED_DIR when
	// it is set, to profile the Kyverno CLI on them afterwards.
	work := os.Getenv("POLC_SPEED_DIR")
	if work == "" {
		work = t.TempDir()
	}
	var b strings.Builder
	objects := 0
	for _, m := range res.Repo.Modules {
		for _, o := range res.Repo.Objects[m.Name()] {
			doc, err := kyvernotest.AsCluster(res.Repo, m, o)
			require.NoError(t, err)
			y, err := yaml.Marshal(doc)
			require.NoError(t, err)
			if objects > 0 {
				b.WriteString("---\n")
			}
			b.Write(y)
			objects++
		}
	}
	resources := filepath.Join(work, "resources.yaml")
	require.NoError(t, os.WriteFile(resources, []byte(b.String()), 0o644))
	report := fmt.Sprintf("polc check: %d modules, %d objects, all rules, render included: %s", len(res.Repo.Reported()), objects, polcTime.Round(time.Millisecond))
	// kyverno apply compiles every ValidatingPolicy again for every object (no cache in the CLI), so
	// the ValidatingPolicy pack is applied to a sample, every n-th object (POLC_SPEED_VP_SAMPLE,
	// default 10), and the time for all objects is extrapolated; 1 applies it to all of them.
	sample := 10
	if v := os.Getenv("POLC_SPEED_VP_SAMPLE"); v != "" {
		_, err := fmt.Sscan(v, &sample)
		require.NoError(t, err, "POLC_SPEED_VP_SAMPLE")
		require.Positive(t, sample)
	}
	docs := strings.Split(b.String(), "---\n")
	var sampled strings.Builder
	for i := 0; i < len(docs); i += sample {
		if sampled.Len() > 0 {
			sampled.WriteString("---\n")
		}
		sampled.WriteString(docs[i])
	}
	sampleFile := filepath.Join(work, "sample.yaml")
	require.NoError(t, os.WriteFile(sampleFile, []byte(sampled.String()), 0o644))
	for _, target := range []kyverno.Target{kyverno.ClusterPolicy, kyverno.ValidatingPolicy} {
		pk, err := pack.Build(res.Repo, builtin.All(), kyverno.Options{Target: target})
		require.NoError(t, err)
		out := filepath.Join(work, string(target))
		var policies []string
		for _, p := range pk.Policies {
			for _, f := range pk.Files {
				if f.Path == p.Path {
					path := filepath.Join(out, filepath.FromSlash(f.Path))
					require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
					require.NoError(t, os.WriteFile(path, f.Data, 0o644))
					policies = append(policies, path)
				}
			}
		}
		args := append([]string{"apply"}, policies...)
		file, n := resources, objects
		if target == kyverno.ValidatingPolicy && sample > 1 {
			file, n = sampleFile, (objects+sample-1)/sample
		}
		args = append(args, "--resource", file, "-p", "--output-format", "json")
		start := time.Now()
		cmdOut, err := exec.Command(bin, args...).Output()
		elapsed := time.Since(start)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			require.NoError(t, err, "kyverno apply: %.500s", cmdOut)
		}
		all := time.Duration(float64(elapsed) * float64(objects) / float64(n))
		how := "measured"
		if n < objects {
			how = fmt.Sprintf("extrapolated from %d objects in %s", n, elapsed.Round(time.Millisecond))
		}
		report += fmt.Sprintf("\nkyverno apply, %s pack (%d policies): %s for %d objects (%s, %.1f ms per object), %.1fx polc check", target, len(pk.Policies),
			all.Round(time.Millisecond), objects, how, float64(elapsed.Milliseconds())/float64(n), all.Seconds()/polcTime.Seconds())
	}
	t.Log(report)
	fmt.Println(report)
}
