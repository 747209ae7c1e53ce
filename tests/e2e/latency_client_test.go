//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// maxResponse caps what is read of one API server response.
const maxResponse = 8 << 20

// apiClient sends plain HTTPS requests to the API server named by a kubeconfig, with its bearer
// token, and times each one. It speaks HTTP/2 over one connection, as kubectl does.
type apiClient struct {
	server string
	token  string
	http   *http.Client

	mu        sync.Mutex
	resources map[string]apiResource // "group/version/kind" -> its resource
}

// apiResource is what discovery says of a kind.
type apiResource struct {
	name       string // the plural, as in the path
	namespaced bool
}

// kubeconfig holds the parts of a kubeconfig file that the probe uses.
type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string `json:"server"`
			CertificateAuthority     string `json:"certificate-authority"`
			CertificateAuthorityData []byte `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			Token     string `json:"token"`
			TokenFile string `json:"tokenFile"`
		} `json:"user"`
	} `json:"users"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
}

// newAPIClient reads the kubeconfig at path: the server, the certificate authority and the bearer
// token of its current context (the stack of hack/e2e authenticates with a static token).
func newAPIClient(path string) (*apiClient, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var cluster, user string
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			cluster, user = c.Context.Cluster, c.Context.User
		}
	}
	if cluster == "" {
		return nil, fmt.Errorf("%s: no context %q", path, kc.CurrentContext)
	}
	c := &apiClient{resources: map[string]apiResource{}}
	pool := x509.NewCertPool()
	for _, cl := range kc.Clusters {
		if cl.Name != cluster {
			continue
		}
		c.server = strings.TrimSuffix(cl.Cluster.Server, "/")
		ca := cl.Cluster.CertificateAuthorityData
		if f := cl.Cluster.CertificateAuthority; f != "" {
			if !filepath.IsAbs(f) {
				f = filepath.Join(filepath.Dir(path), f)
			}
			if ca, err = os.ReadFile(f); err != nil {
				return nil, fmt.Errorf("%s: cluster %s: %w", path, cluster, err)
			}
		}
		if len(ca) > 0 && !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("%s: cluster %s: no certificate in its certificate authority", path, cluster)
		}
	}
	for _, u := range kc.Users {
		if u.Name != user {
			continue
		}
		c.token = u.User.Token
		if f := u.User.TokenFile; c.token == "" && f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("%s: user %s: %w", path, user, err)
			}
			c.token = strings.TrimSpace(string(b))
		}
	}
	if c.server == "" || c.token == "" {
		return nil, fmt.Errorf("%s: context %s needs a server and a bearer token (token or tokenFile)", path, kc.CurrentContext)
	}
	c.http = &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
		MaxConnsPerHost:   4,
	}}
	return c, nil
}

// do sends one request and returns the status, the body and the time from sending the request to
// having read the whole answer.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) (int, []byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, time.Since(start), fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	elapsed := time.Since(start)
	if err != nil {
		return resp.StatusCode, nil, elapsed, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode, b, elapsed, nil
}

// getJSON decodes the answer to a GET into v; a status other than 200 is an error.
func (c *apiClient) getJSON(ctx context.Context, path string, v any) error {
	status, body, _, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, status, statusMessage(body))
	}
	return json.Unmarshal(body, v)
}

// statusMessage returns the message of a Kubernetes Status answer, or the start of the body.
func statusMessage(body []byte) string {
	var s struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &s) == nil && s.Message != "" {
		return s.Message
	}
	if len(body) > 300 {
		body = body[:300]
	}
	return string(body)
}

// resource returns the resource that serves kind in apiVersion, from discovery (cached).
func (c *apiClient) resource(ctx context.Context, apiVersion, kind string) (apiResource, error) {
	key := apiVersion + "/" + kind
	c.mu.Lock()
	r, ok := c.resources[key]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	path := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		path = "/api/" + apiVersion
	}
	var list struct {
		Resources []struct {
			Name       string `json:"name"`
			Kind       string `json:"kind"`
			Namespaced bool   `json:"namespaced"`
		} `json:"resources"`
	}
	if err := c.getJSON(ctx, path, &list); err != nil {
		return apiResource{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, res := range list.Resources {
		if !strings.Contains(res.Name, "/") { // not a subresource
			c.resources[apiVersion+"/"+res.Kind] = apiResource{name: res.Name, namespaced: res.Namespaced}
		}
	}
	r, ok = c.resources[key]
	if !ok {
		return apiResource{}, fmt.Errorf("the API server does not serve %s %s", apiVersion, kind)
	}
	return r, nil
}

// objectPaths returns the collection path that creates doc and the path of doc itself.
func (c *apiClient) objectPaths(ctx context.Context, doc map[string]any) (collection, item string, err error) {
	apiVersion, _ := doc["apiVersion"].(string)
	kind, _ := doc["kind"].(string)
	meta, _ := doc["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if apiVersion == "" || kind == "" || name == "" {
		return "", "", errors.New("an object without apiVersion, kind or metadata.name")
	}
	r, err := c.resource(ctx, apiVersion, kind)
	if err != nil {
		return "", "", err
	}
	prefix := "/apis/" + apiVersion
	if !strings.Contains(apiVersion, "/") {
		prefix = "/api/" + apiVersion
	}
	if r.namespaced {
		if ns == "" {
			ns = "default"
		}
		prefix += "/namespaces/" + url.PathEscape(ns)
	}
	collection = prefix + "/" + r.name
	return collection, collection + "/" + url.PathEscape(name), nil
}
