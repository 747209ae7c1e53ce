package chartstest

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd" // the registry's auth
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // the registry's storage
	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v4/pkg/registry"
)

// Credentials of the test registry.
const (
	RegistryUser     = "polc"
	RegistryPassword = "s3cret"
)

// Registry is a loopback OCI registry (distribution's, in memory) that requires basic auth and
// counts the requests it receives.
type Registry struct {
	// Host is the registry's host:port.
	Host     string
	requests atomic.Int64
}

// Requests returns how many requests the registry has received.
func (r *Registry) Requests() int64 { return r.requests.Load() }

// NewRegistry starts a Registry, closed when the test ends.
func NewRegistry(t *testing.T) *Registry {
	t.Helper()
	logrus.SetOutput(io.Discard)
	hash, err := bcrypt.GenerateFromPassword([]byte(RegistryPassword), bcrypt.MinCost)
	require.NoError(t, err)
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	require.NoError(t, os.WriteFile(htpasswd, fmt.Appendf(nil, "%s:%s\n", RegistryUser, hash), 0o600))
	config := &configuration.Configuration{}
	config.Storage = configuration.Storage{"inmemory": configuration.Parameters{}}
	config.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "polc-test", "path": htpasswd}}
	config.Log.AccessLog.Disabled = true
	reg := &Registry{}
	app := handlers.NewApp(context.Background(), config)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.requests.Add(1)
		app.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	reg.Host = strings.TrimPrefix(srv.URL, "http://")
	return reg
}

// Push pushes a packaged chart to repo:tag with Helm's registry client and returns the manifest
// digest.
func (r *Registry) Push(t *testing.T, repo, tag string, data []byte) string {
	t.Helper()
	client, err := registry.NewClient(registry.ClientOptPlainHTTP(), registry.ClientOptWriter(io.Discard),
		registry.ClientOptBasicAuth(RegistryUser, RegistryPassword), registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	require.NoError(t, err)
	res, err := client.Push(data, r.Host+"/"+repo+":"+tag, registry.PushOptStrictMode(false))
	require.NoError(t, err)
	return res.Manifest.Digest
}

// DockerConfig writes, in dir, a Docker config.json with the registry's static credentials and
// returns its path.
func (r *Registry) DockerConfig(t *testing.T, dir string) string {
	t.Helper()
	file := filepath.Join(dir, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(RegistryUser + ":" + RegistryPassword))
	require.NoError(t, os.WriteFile(file, []byte(`{"auths":{"`+r.Host+`":{"auth":"`+auth+`"}}}`), 0o600))
	return file
}
