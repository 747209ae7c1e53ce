package charts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegistryAuth(t *testing.T) {
	dir := t.TempDir()
	first := filepath.Join(dir, "first.json")
	second := filepath.Join(dir, "second.json")
	require.NoError(t, os.WriteFile(first, []byte(`{
  "auths": {
    "https://index.docker.io/v1/": {"auth": "aHViOnB3"},
    "ghcr.io": {"username": "gh", "password": "tok"},
    "empty.example.com": {}
  },
  "credsStore": "desktop"
}`), 0o600))
	require.NoError(t, os.WriteFile(second, []byte(`{"auths": {"registry.example.com:5000": {"identitytoken": "idt"}, "empty.example.com": {"auth": "ZTpl"}}}`), 0o600))
	opts := PullOptions{DockerConfigs: []string{filepath.Join(dir, "missing.json"), first, second}}
	tests := []struct {
		host string
		want basicAuth
		ok   bool
	}{
		{host: "registry-1.docker.io", want: basicAuth{Username: "hub", Password: "pw"}, ok: true},
		{host: "docker.io", want: basicAuth{Username: "hub", Password: "pw"}, ok: true},
		{host: "ghcr.io", want: basicAuth{Username: "gh", Password: "tok"}, ok: true},
		{host: "registry.example.com:5000", want: basicAuth{IdentityToken: "idt"}, ok: true},
		{host: "empty.example.com", want: basicAuth{Username: "e", Password: "e"}, ok: true},
		{host: "registry.example.com"},
		{host: "quay.io"},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			got, ok := opts.registryAuth(tc.host)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
	none := PullOptions{DockerConfigs: []string{}}
	_, ok := none.registryAuth("ghcr.io")
	require.False(t, ok, "an empty list reads no file")
}

func TestRepositoryAuth(t *testing.T) {
	file := filepath.Join(t.TempDir(), "repositories.yaml")
	require.NoError(t, os.WriteFile(file, []byte("apiVersion: v1\nrepositories:\n- {name: a, url: 'https://charts.example.com/', username: u, password: p}\n- {name: b, url: 'https://open.example.com'}\n"), 0o600))
	opts := PullOptions{HelmRepositoryConfig: file}
	got, ok := opts.repositoryAuth("https://charts.example.com")
	require.True(t, ok)
	require.Equal(t, basicAuth{Username: "u", Password: "p"}, got)
	_, ok = opts.repositoryAuth("https://open.example.com")
	require.False(t, ok)
	_, ok = opts.repositoryAuth("https://charts.example.com/sub")
	require.False(t, ok)
}
