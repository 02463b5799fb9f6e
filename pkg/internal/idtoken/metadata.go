package idtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"cloud.google.com/go/compute/metadata"
)

// MetadataOptions configure a metadata-server source.
type MetadataOptions struct {
	// HTTPClient makes the metadata requests; nil uses the library's
	// default client. The server is GCE_METADATA_HOST when set, else
	// 169.254.169.254.
	HTTPClient *http.Client
}

// Metadata mints ID tokens for the service account attached to the machine
// the code runs on (Cloud Run, GCE, GKE with Workload Identity, ...), from
// the metadata server's identity endpoint.
type Metadata struct {
	client *metadata.Client
}

// NewMetadata returns a metadata-server source.
func NewMetadata(o MetadataOptions) *Metadata {
	if o.HTTPClient == nil {
		return &Metadata{client: metadata.NewWithOptions(&metadata.Options{UseDefaultClient: true})}
	}
	return &Metadata{client: metadata.NewWithOptions(&metadata.Options{Client: o.HTTPClient})}
}

// Describe names the metadata server.
func (m *Metadata) Describe() string {
	if h := os.Getenv("GCE_METADATA_HOST"); h != "" {
		return "metadata server " + h + " (attached service account)"
	}
	return "metadata server (attached service account)"
}

// Token fetches instance/service-accounts/default/identity for audience,
// in the full format (with the email claim).
func (m *Metadata) Token(ctx context.Context, audience string) (Token, error) {
	q := url.Values{"audience": {audience}, "format": {"full"}}
	raw, err := m.client.GetWithContext(ctx, "instance/service-accounts/default/identity?"+q.Encode())
	if err != nil {
		var nd metadata.NotDefinedError
		if errors.As(err, &nd) {
			err = fmt.Errorf("the metadata server has no identity endpoint for the default account (is a service account attached?): %w", err)
		}
		return Token{}, &MintError{Source: m.Describe(), Audience: audience, Err: RedactError(err)}
	}
	return parseMinted(raw, m.Describe(), audience)
}
