package idtoken

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	gidtoken "google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// quietLogger is handed to the Google libraries so that enabling their
// debug logging (GOOGLE_SDK_GO_LOGGING_LEVEL) cannot print token responses.
var quietLogger = slog.New(slog.DiscardHandler)

// Credential file types (the "type" field of a Google credentials JSON).
const (
	TypeServiceAccount             = "service_account"
	TypeAuthorizedUser             = "authorized_user"
	TypeImpersonatedServiceAccount = "impersonated_service_account"
	TypeExternalAccount            = "external_account"
)

// KeyOptions configure sources built from a credentials file.
type KeyOptions struct {
	// HTTPClient is the base client (no credentials) for the calls an
	// impersonated_service_account file leads to: the access-token exchange
	// of its source credentials and IAM Credentials generateIdToken.
	// nil uses http.DefaultClient. A service_account key posts its JWT to
	// the key's token_uri with the library's own client.
	HTTPClient *http.Client
}

// KeySource mints ID tokens with a service-account key: a JWT signed with
// the key, carrying target_audience, is exchanged at the key's token_uri
// for a Google-signed ID token.
type KeySource struct {
	key    secret // the key JSON, out of reach of fmt and reflection
	email  string
	origin string
}

// NewKeyFile reads a credentials file. A service_account key yields a
// *KeySource; an impersonated_service_account file (what `gcloud auth
// application-default login --impersonate-service-account` writes) yields
// an *Impersonated source whose caller is the file's source credentials.
// User credentials give a *UserCredentialsError; other types an
// *UnsupportedCredentialsError.
func NewKeyFile(path string, o KeyOptions) (Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading credentials file: %w", err)
	}
	return NewKeyJSON(b, path, o)
}

// NewKeyJSON is NewKeyFile for credentials already in memory; origin says
// where they came from (for messages).
func NewKeyJSON(data []byte, origin string, o KeyOptions) (Source, error) {
	var f struct {
		Type                           string          `json:"type"`
		ClientEmail                    string          `json:"client_email"`
		PrivateKey                     string          `json:"private_key"`
		ServiceAccountImpersonationURL string          `json:"service_account_impersonation_url"`
		Delegates                      []string        `json:"delegates"`
		SourceCredentials              json.RawMessage `json:"source_credentials"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("credentials in %s are not valid JSON", origin)
	}
	switch f.Type {
	case TypeServiceAccount:
		if f.ClientEmail == "" || f.PrivateKey == "" {
			return nil, fmt.Errorf("service-account key in %s lacks client_email or private_key", origin)
		}
		return &KeySource{key: newSecret(string(data)), email: f.ClientEmail, origin: origin}, nil
	case TypeAuthorizedUser:
		return nil, &UserCredentialsError{Origin: origin}
	case TypeImpersonatedServiceAccount:
		return impersonatedFromFile(origin, f.ServiceAccountImpersonationURL, f.Delegates, f.SourceCredentials, o)
	case "":
		return nil, fmt.Errorf("credentials in %s have no type field", origin)
	default:
		return nil, &UnsupportedCredentialsError{Origin: origin, Type: f.Type}
	}
}

// impersonatedFromFile turns an impersonated_service_account file into an
// impersonation source whose caller is the file's source credentials.
func impersonatedFromFile(origin, impURL string, delegates []string, src json.RawMessage, o KeyOptions) (Source, error) {
	target := accountName(strings.SplitN(impURL, ":generate", 2)[0])
	if target == "" || len(src) == 0 {
		return nil, fmt.Errorf("impersonated_service_account credentials in %s lack service_account_impersonation_url or source_credentials", origin)
	}
	var st struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(src, &st); err != nil {
		return nil, fmt.Errorf("source_credentials in %s are not a JSON object", origin)
	}
	var ct google.CredentialsType
	switch st.Type {
	case TypeServiceAccount:
		ct = google.ServiceAccount
	case TypeAuthorizedUser:
		ct = google.AuthorizedUser
	default:
		return nil, &UnsupportedCredentialsError{Origin: origin + " (source_credentials)", Type: st.Type}
	}
	base := o.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, base)
	creds, err := google.CredentialsFromJSONWithType(ctx, src, ct, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		return nil, fmt.Errorf("source_credentials in %s: %w", origin, RedactError(err))
	}
	transport := base.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	client := &http.Client{Transport: &oauth2.Transport{Source: creds.TokenSource, Base: transport}}
	return NewImpersonated(ImpersonationOptions{Target: target, Delegates: delegates, HTTPClient: client})
}

// Email is the key's service account.
func (k *KeySource) Email() string { return k.email }

// Describe names the key's origin and account.
func (k *KeySource) Describe() string {
	return fmt.Sprintf("service-account key %s (%s)", k.origin, k.email)
}

// Token exchanges a JWT signed with the key for an ID token for audience.
func (k *KeySource) Token(ctx context.Context, audience string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	ts, err := gidtoken.NewTokenSource(ctx, audience,
		gidtoken.WithAuthCredentialsJSON(gidtoken.ServiceAccount, []byte(k.key())),
		option.WithLogger(quietLogger))
	return mintFrom(ts, err, k.Describe(), audience)
}

// ADCOptions configure NewADC.
type ADCOptions struct {
	// HTTPClient is the base client for metadata requests and for the
	// calls an impersonated_service_account file leads to.
	HTTPClient *http.Client
	// OnGCE reports whether a metadata server is reachable when no
	// credentials file exists; default metadata.OnGCEWithContext (which is
	// true at once when GCE_METADATA_HOST is set).
	OnGCE func(context.Context) bool
}

// NewADC finds Application Default Credentials the way Google's libraries
// do: the file named by GOOGLE_APPLICATION_CREDENTIALS, then gcloud's
// application_default_credentials.json, then the metadata server. A file is
// read with NewKeyFile (so gcloud user credentials give a
// *UserCredentialsError). With nothing found it returns a
// *NoCredentialsError listing every place tried.
func NewADC(ctx context.Context, o ADCOptions) (Source, error) {
	var tried []string
	if p := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); p != "" {
		return NewKeyFile(p, KeyOptions{HTTPClient: o.HTTPClient})
	}
	tried = append(tried, "GOOGLE_APPLICATION_CREDENTIALS (not set)")
	if p := wellKnownFile(); p != "" {
		if _, err := os.Stat(p); err == nil {
			return NewKeyFile(p, KeyOptions{HTTPClient: o.HTTPClient})
		}
		tried = append(tried, p+" (no such file)")
	}
	onGCE := o.OnGCE
	if onGCE == nil {
		onGCE = metadata.OnGCEWithContext
	}
	if os.Getenv("GCE_METADATA_HOST") != "" || onGCE(ctx) {
		return NewMetadata(MetadataOptions{HTTPClient: o.HTTPClient}), nil
	}
	tried = append(tried, "the metadata server (not reachable)")
	return nil, &NoCredentialsError{Tried: tried}
}

// wellKnownFile is where `gcloud auth application-default login` writes.
func wellKnownFile() string {
	const name = "application_default_credentials.json"
	if d := os.Getenv("CLOUDSDK_CONFIG"); d != "" {
		return filepath.Join(d, name)
	}
	if runtime.GOOS == "windows" {
		if d := os.Getenv("APPDATA"); d != "" {
			return filepath.Join(d, "gcloud", name)
		}
		return ""
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "gcloud", name)
}
