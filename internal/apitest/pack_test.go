package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"polc.dev/polc/internal/builtin"
	"polc.dev/polc/internal/genfiles"
	"polc.dev/polc/internal/kyverno"
	"polc.dev/polc/internal/kyverno/kyvernotest"
	"polc.dev/polc/internal/kyverno/pack"
	"sigs.k8s.io/yaml"
)

// exceptionsRepo is the test repository whose pack has PolicyExceptions.
const exceptionsRepo = "../../tests/testdata/repos/good-exceptions-excepted"

// describe lists pack objects as "kind name file".
func describe(objs []PackObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.String())
	}
	return out
}

// TestPackObjectsOfCompiledPack selects, from the packs polc compile writes for both targets,
// exactly the files that the pack's kustomization.yaml lists: every policy, then every
// PolicyException; never the kustomization, the README or the generated tests.
func TestPackObjectsOfCompiledPack(t *testing.T) {
	repo := kyvernotest.Load(t, exceptionsRepo)
	for _, tc := range []struct {
		target                   kyverno.Target
		policyKind, policyGroup  string
		exceptionGroupAndVersion string
	}{
		{kyverno.ClusterPolicy, "ClusterPolicy", "kyverno.io/v1", "kyverno.io/v2"},
		{kyverno.ValidatingPolicy, "ValidatingPolicy", "policies.kyverno.io/v1", "policies.kyverno.io/v1"},
	} {
		t.Run(string(tc.target), func(t *testing.T) {
			pk, err := pack.Build(repo, builtin.All(), kyverno.Options{Target: tc.target, Now: kyvernotest.Now})
			require.NoError(t, err)
			objs, err := PackObjects(pk.Files)
			require.NoError(t, err)

			var files []string
			exceptions := 0
			for i, o := range objs {
				files = append(files, o.File)
				switch o.Object.GetKind() {
				case tc.policyKind:
					assert.Equal(t, tc.policyGroup, o.Object.GetAPIVersion(), o.String())
					assert.Zero(t, exceptions, "%s comes after a PolicyException", o)
				case "PolicyException":
					assert.Equal(t, tc.exceptionGroupAndVersion, o.Object.GetAPIVersion(), o.String())
					assert.Equal(t, kyverno.ExceptionNamespace, o.Object.GetNamespace(), o.String())
					assert.True(t, strings.HasPrefix(o.File, "exceptions/"), o.String())
					exceptions++
				default:
					t.Errorf("object %d: unexpected %s", i, o)
				}
				assert.False(t, strings.HasPrefix(o.File, "tests/") || o.File == "kustomization.yaml" || o.File == "README.md", o.String())
			}
			assert.Positive(t, exceptions, "the repository's pack has PolicyExceptions")
			assert.Len(t, objs, len(pk.Policies)+exceptions)
			// Every listed resource is applied once, and nothing else.
			var kust struct {
				Resources []string `json:"resources"`
			}
			for _, f := range pk.Files {
				if f.Path == "kustomization.yaml" {
					require.NoError(t, yaml.Unmarshal(f.Data, &kust))
				}
			}
			slices.Sort(files)
			assert.Equal(t, kust.Resources, files)
		})
	}
}

// TestPackObjects covers the selection and order on hand-written packs.
func TestPackObjects(t *testing.T) {
	kust := func(res ...string) genfiles.File {
		return genfiles.File{Path: "kustomization.yaml", Data: []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + strings.Join(res, "\n  - ") + "\n")}
	}
	policy := genfiles.File{Path: "labels/p.yaml", Data: []byte("# header\napiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\n")}
	policy2 := genfiles.File{Path: "security/q.yaml", Data: []byte("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: q\n---\n---\napiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: r\n")}
	exception := genfiles.File{Path: "exceptions/e.yaml", Data: []byte("apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: e\n  namespace: kyverno\n")}
	test := genfiles.File{Path: "tests/p/resources.yaml", Data: []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n")}
	readme := genfiles.File{Path: "README.md", Data: []byte("# Policy pack\n")}
	tests := []struct {
		name  string
		files []genfiles.File
		want  []string
		err   string
	}{
		{"policies before exceptions, listed files only",
			[]genfiles.File{exception, kust("exceptions/e.yaml", "labels/p.yaml", "security/q.yaml"), policy, policy2, readme, test},
			[]string{"ClusterPolicy p (labels/p.yaml)", "ClusterPolicy q (security/q.yaml)", "ClusterPolicy r (security/q.yaml)",
				"PolicyException kyverno/e (exceptions/e.yaml)"}, ""},
		{"unlisted policy left out", []genfiles.File{kust("labels/p.yaml"), policy, policy2},
			[]string{"ClusterPolicy p (labels/p.yaml)"}, ""},
		{"no kustomization", []genfiles.File{policy}, nil, "has no kustomization.yaml"},
		{"listed file missing", []genfiles.File{kust("labels/p.yaml", "labels/gone.yaml"), policy}, nil, "resource labels/gone.yaml is not a file of the pack"},
		{"document without a name", []genfiles.File{kust("bad.yaml"), {Path: "bad.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\n")}},
			nil, "policy pack bad.yaml: a document without apiVersion, kind or metadata.name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := PackObjects(tc.files)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, describe(objs))
		})
	}
}

// TestPolicyReady covers how Kyverno reports each policy kind ready.
func TestPolicyReady(t *testing.T) {
	tests := []struct {
		name   string
		status string
		ready  bool
		why    string
	}{
		{"no status yet", `{}`, false, ""},
		{"ClusterPolicy ready", `{"conditions":[{"type":"Ready","status":"True","message":"Ready"}]}`, true, "Ready"},
		{"ClusterPolicy not ready", `{"conditions":[{"type":"Ready","status":"False","message":"bad pattern"}]}`, false, "bad pattern"},
		{"ValidatingPolicy ready", `{"conditionStatus":{"ready":true}}`, true, ""},
		{"ValidatingPolicy not ready", `{"conditionStatus":{"ready":false,"conditions":[{"type":"WebhookConfigured","status":"False","message":"not yet"},{"type":"RBAC","status":"True","message":"ok"}]}}`,
			false, "not yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var status map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.status), &status))
			ready, why := policyReady(&unstructured.Unstructured{Object: map[string]any{"status": status}})
			assert.Equal(t, tc.ready, ready)
			assert.Equal(t, tc.why, why)
		})
	}
}

// discoveryOnly is an API server that serves discovery for the core group and apps only, and
// records every other request.
func discoveryOnly(t *testing.T, others *[]string) *httptest.Server {
	docs := map[string]string{
		"/api":          `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}`,
		"/apis":         `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}`,
		"/api/v1":       `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["get","list","create","delete","patch"]}]}`,
		"/apis/apps/v1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":[{"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment","verbs":["get","list","create","delete","patch"]}]}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, ok := docs[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, d)
			return
		}
		*others = append(*others, r.Method+" "+r.URL.Path)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestInstallPackWithoutKyverno fails, having sent nothing but discovery requests, on an API
// server that does not serve Kyverno's kinds.
func TestInstallPackWithoutKyverno(t *testing.T) {
	var others []string
	srv := discoveryOnly(t, &others)
	var progress bytes.Buffer
	c, err := NewCluster(&rest.Config{Host: srv.URL}, Options{RunID: "r1", Progress: &progress})
	require.NoError(t, err)
	repo := kyvernotest.Load(t, exceptionsRepo)
	pk, err := pack.Build(repo, builtin.All(), kyverno.Options{Target: kyverno.ClusterPolicy, Now: kyvernotest.Now})
	require.NoError(t, err)
	objs, err := PackObjects(pk.Files)
	require.NoError(t, err)

	installed, err := c.InstallPack(context.Background(), objs)
	require.Error(t, err)
	assert.Nil(t, installed)
	assert.True(t, errors.Is(err, ErrKyvernoNotServed), err.Error())
	assert.Equal(t, "the API server does not serve Kyverno's policy kinds: no ClusterPolicy (kyverno.io/v1), no PolicyException (kyverno.io/v2)", err.Error())
	assert.Empty(t, others, "only discovery")
	assert.NoError(t, installed.Remove(context.Background()), "Remove of nothing")
}
