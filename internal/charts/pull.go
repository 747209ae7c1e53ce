package charts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/chart"
	"helm.sh/helm/v4/pkg/chart/loader"
	sigsyaml "sigs.k8s.io/yaml"
)

// Defaults of PullOptions.
const (
	// DefaultTimeout bounds the pull of one chart, index included.
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxIndexSize caps a Helm repository's index.yaml (large public indexes are tens of
	// MiB).
	DefaultMaxIndexSize = 64 << 20
)

// PullOptions tune Pull. The zero value is usable.
type PullOptions struct {
	// Timeout bounds the pull of one chart (DefaultTimeout when zero).
	Timeout time.Duration
	// MaxIndexSize caps index.yaml (DefaultMaxIndexSize when zero).
	MaxIndexSize int64
	// MaxChartSize caps a chart download (MaxChartSize when zero or larger).
	MaxChartSize int64
	// PlainHTTP talks to OCI registries over plain HTTP instead of HTTPS (local registries,
	// tests). HTTP Helm repositories follow their URL's scheme.
	PlainHTTP bool
	// DockerConfigs are the Docker-format files read for OCI registry credentials (static
	// "auths" entries only). nil means the defaults: $DOCKER_CONFIG/config.json or
	// ~/.docker/config.json, and Helm's registry config; an empty slice reads none.
	DockerConfigs []string
	// HelmRepositoryConfig is Helm's repositories.yaml, read for HTTP basic-auth credentials;
	// empty means $HELM_REPOSITORY_CONFIG or Helm's default file.
	HelmRepositoryConfig string
	// Transport carries the requests (http.DefaultTransport when nil).
	Transport http.RoundTripper
}

// withDefaults fills in the zero fields.
func (o PullOptions) withDefaults() PullOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxIndexSize <= 0 {
		o.MaxIndexSize = DefaultMaxIndexSize
	}
	if o.MaxChartSize <= 0 || o.MaxChartSize > MaxChartSize {
		o.MaxChartSize = MaxChartSize
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	return o
}

// httpClient returns a client that follows at most 10 redirects, only to http and https URLs.
func (o PullOptions) httpClient() *http.Client {
	return &http.Client{
		Transport: o.Transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s refused: only http and https are followed", req.URL.Redacted())
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
}

// Pull downloads the chart of ref into the cache, unless the cache already holds it (a cached
// archive that does not load as that chart is downloaded again): from an
// HTTP(S) Helm repository (index.yaml, then the chart's first URL, checked against the index's
// digest when it has one) or from an OCI registry (the manifest, checked against ref.Digest
// when set, then its chart layer). Every body is size-capped and the whole pull is bounded by
// opts.Timeout. Errors name the ref.
func Pull(ctx context.Context, c Cache, ref Ref, opts PullOptions) error {
	if c.Valid(ref) {
		return nil
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var data []byte
	var err error
	switch ref.Type {
	case TypeHelm:
		data, err = pullHTTP(ctx, ref, opts)
	case TypeOCI:
		data, err = pullOCI(ctx, ref, opts)
	default:
		err = fmt.Errorf("unknown source type %q", ref.Type)
	}
	if err == nil {
		err = verifyChart(data, ref)
	}
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	return c.Put(ref, data)
}

// Valid reports whether the cache holds an archive that loads as the chart ref names.
func (c Cache) Valid(ref Ref) bool {
	data, err := c.Get(ref)
	return err == nil && verifyChart(data, ref) == nil
}

// verifyChart checks that data is a chart archive Helm loads and, where ref names them, that its
// name and version are ref's.
func verifyChart(data []byte, ref Ref) error {
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("load chart: %w", err)
	}
	acc, err := chart.NewDefaultAccessor(ch)
	if err != nil {
		return fmt.Errorf("load chart: %w", err)
	}
	version, _ := acc.MetadataAsMap()["Version"].(string)
	return Matches(acc.Name(), version, ref)
}

// Matches returns an error unless a chart named name at version is the chart ref names (an
// OCIRepository ref names no chart; its tag writes "+" as "_").
func Matches(name, version string, ref Ref) error {
	if ref.Chart != "" && name != ref.Chart {
		return fmt.Errorf("the archive holds chart %q, not %q", name, ref.Chart)
	}
	if ref.Version != "" && strings.TrimPrefix(version, "v") != strings.TrimPrefix(strings.ReplaceAll(ref.Version, "_", "+"), "v") {
		return fmt.Errorf("the archive holds version %q, not %q", version, ref.Version)
	}
	return nil
}

// indexFile is the part of a Helm repository index that Pull reads.
type indexFile struct {
	Entries map[string][]struct {
		Version string   `json:"version"`
		URLs    []string `json:"urls"`
		Digest  string   `json:"digest"`
	} `json:"entries"`
}

// pullHTTP downloads a chart from an HTTP(S) Helm repository.
func pullHTTP(ctx context.Context, ref Ref, opts PullOptions) ([]byte, error) {
	base, err := httpURL(strings.TrimRight(ref.URL, "/") + "/")
	if err != nil {
		return nil, err
	}
	cred, hasCred := opts.repositoryAuth(ref.URL)
	client := opts.httpClient()
	get := func(u *url.URL, limit int64, what string) ([]byte, error) {
		var auth *basicAuth
		if hasCred && u.Host == base.Host {
			auth = &cred // as Helm does: credentials go only to the repository's own host
		}
		return fetch(ctx, client, u, auth, limit, what)
	}
	raw, err := get(base.JoinPath("index.yaml"), opts.MaxIndexSize, "index")
	if err != nil {
		return nil, err
	}
	chartURL, digest, err := findChart(raw, ref)
	if err != nil {
		return nil, err
	}
	u, err := base.Parse(chartURL)
	if err != nil {
		return nil, fmt.Errorf("chart URL %q in the index: %w", chartURL, err)
	}
	if u, err = httpURL(u.String()); err != nil {
		return nil, fmt.Errorf("chart URL in the index: %w", err)
	}
	data, err := get(u, opts.MaxChartSize, "chart")
	if err != nil {
		return nil, err
	}
	if digest != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, strings.TrimPrefix(digest, "sha256:")) {
			return nil, fmt.Errorf("chart %s: digest sha256:%s does not match the index's %s", u.Redacted(), got, digest)
		}
	}
	return data, nil
}

// httpURL parses an absolute http or https URL.
func httpURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http or https URL", u.Redacted())
	}
	return u, nil
}

// findChart finds ref's chart and version in a repository index and returns its first URL and
// its digest ("" when the index has none).
func findChart(raw []byte, ref Ref) (string, string, error) {
	var idx indexFile
	if err := sigsyaml.Unmarshal(raw, &idx); err != nil {
		return "", "", fmt.Errorf("parse index.yaml: %w", err)
	}
	versions, ok := idx.Entries[ref.Chart]
	if !ok {
		return "", "", fmt.Errorf("chart %q is not in the repository's index", ref.Chart)
	}
	want := strings.TrimPrefix(ref.Version, "v")
	for _, v := range versions {
		if v.Version != ref.Version && strings.TrimPrefix(v.Version, "v") != want {
			continue
		}
		if len(v.URLs) == 0 {
			return "", "", fmt.Errorf("chart %q version %s has no URL in the index", ref.Chart, v.Version)
		}
		return v.URLs[0], v.Digest, nil
	}
	return "", "", fmt.Errorf("chart %q has no version %s in the repository's index", ref.Chart, ref.Version)
}

// fetch GETs u and returns its body, refusing one larger than limit bytes.
func fetch(ctx context.Context, client *http.Client, u *url.URL, auth *basicAuth, limit int64, what string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if auth != nil {
		req.SetBasicAuth(auth.Username, auth.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s %s: %s", what, u.Redacted(), resp.Status)
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("get %s %s: %d bytes, more than the %d allowed", what, u.Redacted(), resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", what, u.Redacted(), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("get %s %s: more than the %d bytes allowed", what, u.Redacted(), limit)
	}
	return data, nil
}
