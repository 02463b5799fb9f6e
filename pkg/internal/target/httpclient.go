package target

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/invokerctl/invokerctl/pkg/internal/hostrewrite"
)

// CloudPlatformScope is the scope of the operator's credentials.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// AuthorizedClient returns an HTTP client that calls Google APIs as the
// operator, for libraries whose Google host is fixed in their code (the
// impersonate package's IAM Credentials URL). Against Google it is
// golang.org/x/oauth2/google's client over Application Default Credentials;
// against an emulator its transport adds the emulator token and sends every
// request to the emulator's host, keeping path and query.
func (t Target) AuthorizedClient(ctx context.Context) (*http.Client, error) {
	if t.emulatorURL == "" {
		c, err := google.DefaultClient(ctx, CloudPlatformScope)
		if err != nil {
			return nil, fmt.Errorf("no Google credentials for impersonation: %w", err)
		}
		return c, nil
	}
	rw, err := hostrewrite.New(t.emulatorURL, nil)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &oauth2.Transport{Source: t.TokenSource(), Base: rw}}, nil
}

// MetadataClient returns an HTTP client that sends metadata-server requests
// to the emulator, which serves the metadata server too; nil for Google,
// where the metadata library finds its server itself (GCE_METADATA_HOST or
// the link-local address).
func (t Target) MetadataClient() *http.Client {
	if t.emulatorURL == "" {
		return nil
	}
	rw, err := hostrewrite.New(t.emulatorURL, nil)
	if err != nil {
		return nil
	}
	return &http.Client{Transport: rw}
}
