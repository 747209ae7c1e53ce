package charts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Media types of a Helm chart in an OCI registry.
const (
	// ChartLayerMediaType is the packaged chart layer.
	ChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	// legacyChartLayerMediaType is the layer type of charts pushed by Helm before 3.8.
	legacyChartLayerMediaType = "application/tar+gzip"
	// maxManifestSize caps an OCI manifest.
	maxManifestSize = 4 << 20
)

// ociTarget splits an OCI ref into the repository (host/path) and the reference to resolve: the
// digest when set, else the version as a tag (Helm writes "+" as "_" in tags).
func ociTarget(ref Ref) (repo, reference string, err error) {
	repo, ok := strings.CutPrefix(strings.TrimRight(ref.URL, "/"), "oci://")
	if !ok || repo == "" {
		return "", "", fmt.Errorf("%q is not an oci:// URL", ref.URL)
	}
	if ref.Chart != "" {
		repo += "/" + ref.Chart
	}
	switch {
	case ref.Digest != "":
		if _, err := digest.Parse(ref.Digest); err != nil {
			return "", "", fmt.Errorf("digest %q: %w", ref.Digest, err)
		}
		return repo, ref.Digest, nil
	case ref.Version != "":
		return repo, strings.ReplaceAll(ref.Version, "+", "_"), nil
	}
	return "", "", fmt.Errorf("no tag or digest")
}

// pullOCI downloads a chart from an OCI registry: the manifest (verified against ref.Digest
// when set), then its chart layer (verified against the manifest's digest).
func pullOCI(ctx context.Context, ref Ref, opts PullOptions) ([]byte, error) {
	name, reference, err := ociTarget(ref)
	if err != nil {
		return nil, err
	}
	repo, err := remote.NewRepository(name)
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = opts.PlainHTTP
	repo.MaxMetadataBytes = maxManifestSize
	client := &auth.Client{Client: opts.httpClient(), Cache: auth.NewCache(), ClientID: "polc"}
	host := repo.Reference.Registry
	if cred, ok := opts.registryAuth(host); ok {
		client.Credential = auth.StaticCredential(host, auth.Credential{Username: cred.Username, Password: cred.Password, RefreshToken: cred.IdentityToken})
	}
	repo.Client = client
	desc, rc, err := repo.FetchReference(ctx, reference)
	if err != nil {
		return nil, fmt.Errorf("fetch manifest: %w", err)
	}
	raw, err := content.ReadAll(rc, desc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if ref.Digest != "" && digest.FromBytes(raw).String() != ref.Digest {
		return nil, fmt.Errorf("manifest digest %s does not match the pinned %s", digest.FromBytes(raw), ref.Digest)
	}
	layer, err := chartLayer(raw, opts.MaxChartSize)
	if err != nil {
		return nil, err
	}
	blob, err := repo.Blobs().Fetch(ctx, layer)
	if err != nil {
		return nil, fmt.Errorf("fetch chart layer %s: %w", layer.Digest, err)
	}
	defer blob.Close()
	data, err := content.ReadAll(blob, layer)
	if err != nil {
		return nil, fmt.Errorf("read chart layer %s: %w", layer.Digest, err)
	}
	return data, nil
}

// chartLayer finds the chart layer of an image manifest and checks its size against limit.
func chartLayer(raw []byte, limit int64) (ocispec.Descriptor, error) {
	var m ocispec.Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("parse manifest: %w", err)
	}
	if m.MediaType == ocispec.MediaTypeImageIndex {
		return ocispec.Descriptor{}, fmt.Errorf("the reference names an image index, not a chart")
	}
	var found []ocispec.Descriptor
	for _, l := range m.Layers {
		if l.MediaType == ChartLayerMediaType || l.MediaType == legacyChartLayerMediaType {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		return ocispec.Descriptor{}, fmt.Errorf("the manifest has %d layers of type %s, want 1: not a Helm chart", len(found), ChartLayerMediaType)
	}
	if found[0].Size < 0 || found[0].Size > limit {
		return ocispec.Descriptor{}, fmt.Errorf("chart layer %s: %d bytes, more than the %d allowed", found[0].Digest, found[0].Size, limit)
	}
	return found[0], nil
}
