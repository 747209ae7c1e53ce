package charts

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v4/pkg/helmpath"
	sigsyaml "sigs.k8s.io/yaml"
)

// maxConfigSize caps a credentials file.
const maxConfigSize = 1 << 20

// basicAuth is a user name and password (or, for OCI, an identity token).
type basicAuth struct {
	Username, Password, IdentityToken string
}

// readSmall reads a file of at most maxConfigSize bytes; a missing or unreadable file is empty.
func readSmall(file string) []byte {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil || len(data) > maxConfigSize {
		return nil
	}
	return data
}

// dockerConfigFiles are the Docker-format credential files read for OCI registries: the Docker
// config ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) and Helm's registry config
// (helm registry login), unless opts names them.
func (o PullOptions) dockerConfigFiles() []string {
	if o.DockerConfigs != nil {
		return o.DockerConfigs
	}
	var out []string
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		out = append(out, filepath.Join(d, "config.json"))
	} else if home, err := os.UserHomeDir(); err == nil {
		out = append(out, filepath.Join(home, ".docker", "config.json"))
	}
	if p := os.Getenv("HELM_REGISTRY_CONFIG"); p != "" {
		return append(out, p)
	}
	return append(out, helmpath.ConfigPath("registry", "config.json"))
}

// helmRepositoryFile is Helm's repositories file ($HELM_REPOSITORY_CONFIG, else
// repositories.yaml in Helm's configuration directory), unless opts names one.
func (o PullOptions) helmRepositoryFile() string {
	if o.HelmRepositoryConfig != "" {
		return o.HelmRepositoryConfig
	}
	if p := os.Getenv("HELM_REPOSITORY_CONFIG"); p != "" {
		return p
	}
	return helmpath.ConfigPath("repositories.yaml")
}

// dockerConfig is the part of a Docker config file that holds static credentials. Credential
// helpers (credsStore, credHelpers) are not run: polc starts no process on behalf of a
// repository's URLs.
type dockerConfig struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
	} `json:"auths"`
}

// registryAuth returns the static credentials the Docker config files hold for host, if any.
func (o PullOptions) registryAuth(host string) (basicAuth, bool) {
	for _, file := range o.dockerConfigFiles() {
		var cfg dockerConfig
		if data := readSmall(file); data == nil || json.Unmarshal(data, &cfg) != nil {
			continue
		}
		for key, a := range cfg.Auths {
			if authHost(key) != authHost(host) {
				continue
			}
			out := basicAuth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
			if a.Auth != "" {
				if dec, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
					out.Username, out.Password, _ = strings.Cut(string(dec), ":")
				}
			}
			if out.Username != "" || out.Password != "" || out.IdentityToken != "" {
				return out, true
			}
		}
	}
	return basicAuth{}, false
}

// authHost returns the host of a Docker config key or registry host: a bare host[:port] or a
// URL. Docker Hub's names (index.docker.io, the legacy key's host, and registry-1.docker.io)
// all become docker.io.
func authHost(key string) string {
	if strings.Contains(key, "://") {
		if u, err := url.Parse(key); err == nil {
			key = u.Host
		}
	}
	key, _, _ = strings.Cut(key, "/")
	if key == "index.docker.io" || key == "registry-1.docker.io" {
		return "docker.io"
	}
	return key
}

// helmRepositories is the part of Helm's repositories.yaml that holds credentials.
type helmRepositories struct {
	Repositories []struct {
		URL      string `json:"url"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"repositories"`
}

// repositoryAuth returns the basic-auth credentials Helm's repositories file holds for the
// HTTP(S) repository at repoURL, if any.
func (o PullOptions) repositoryAuth(repoURL string) (basicAuth, bool) {
	var cfg helmRepositories
	data := readSmall(o.helmRepositoryFile())
	if data == nil || sigsyaml.Unmarshal(data, &cfg) != nil {
		return basicAuth{}, false
	}
	want := strings.TrimRight(repoURL, "/")
	for _, r := range cfg.Repositories {
		if strings.TrimRight(r.URL, "/") == want && (r.Username != "" || r.Password != "") {
			return basicAuth{Username: r.Username, Password: r.Password}, true
		}
	}
	return basicAuth{}, false
}
