package target

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/invokerctl/invokerctl/pkg/internal/hostrewrite"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
)

// CredentialsEnv names the credentials file of Application Default
// Credentials.
const CredentialsEnv = "GOOGLE_APPLICATION_CREDENTIALS"

// EmulatorADC targets the emulator at rawURL with Application Default
// Credentials in place of an emulator token, found as against Google:
// $GOOGLE_APPLICATION_CREDENTIALS (read through getenv: a service-account
// key, an external_account file a CI auth action wrote for Workload
// Identity Federation, ...), gcloud's application-default file, the
// metadata server. Their token requests to Google hosts (sts, oauth2,
// iamcredentials.googleapis.com) go to the emulator, so nothing reaches
// Google; other hosts (a CI provider's OIDC token URL) are called as they
// are. One access token is fetched now, so missing or refused credentials
// fail here, naming both ways to authenticate; it is reused until shortly
// before it expires (one token exchange per run, not per call).
func EmulatorADC(ctx context.Context, rawURL string, getenv func(string) string) (Target, error) {
	base, err := emulatorBase(rawURL)
	if err != nil {
		return Target{}, err
	}
	rw, err := hostrewrite.New(base, nil)
	if err != nil {
		return Target{}, err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: &googleHostsTo{emulator: rw}})
	creds, err := findCredentials(ctx, getenv)
	if err != nil {
		return Target{}, &NoCredentialsError{URL: base, Err: idtoken.RedactError(err)}
	}
	ts := oauth2.ReuseTokenSource(nil, creds.TokenSource)
	if _, err := ts.Token(); err != nil {
		return Target{}, &NoCredentialsError{URL: base, Found: true, Err: idtoken.RedactError(err)}
	}
	return Target{emulatorURL: base, adc: ts}, nil
}

// NoCredentialsError says that an emulator target has neither an emulator
// token nor working Application Default Credentials.
type NoCredentialsError struct {
	URL string
	// Found is set when Application Default Credentials exist but getting
	// a token with them failed (e.g. STS or IAM refused them).
	Found bool
	Err   error // why (redacted)
}

func (e *NoCredentialsError) Error() string {
	why := strings.Join(strings.Fields(e.Err.Error()), " ") // one line, however the server indented its answer
	if e.Found {
		return fmt.Sprintf("the Application Default Credentials (%s) gave no token for the emulator at %s (%s is not set): %s",
			CredentialsEnv, e.URL, TokenEnv, why)
	}
	return fmt.Sprintf("no credentials for the emulator at %s: set %s (printed by `invokerctl emulator serve`), or provide Application Default Credentials (%s, e.g. the external_account file of a CI auth action): %s",
		e.URL, TokenEnv, CredentialsEnv, why)
}

func (e *NoCredentialsError) Unwrap() error { return e.Err }

// findCredentials is google.FindDefaultCredentials, except that the
// credentials file is named by getenv (the command's environment).
func findCredentials(ctx context.Context, getenv func(string) string) (*google.Credentials, error) {
	params := google.CredentialsParams{Scopes: []string{CloudPlatformScope}}
	path := getenv(CredentialsEnv)
	if path == "" {
		return google.FindDefaultCredentialsWithParams(ctx, params)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", CredentialsEnv, err)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil || head.Type == "" {
		return nil, fmt.Errorf("$%s: %s is not a Google credentials file (JSON with a \"type\")", CredentialsEnv, path)
	}
	c, err := google.CredentialsFromJSONWithTypeAndParams(ctx, b, google.CredentialsType(head.Type), params)
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", CredentialsEnv, err)
	}
	return c, nil
}

// googleHostsTo sends requests for Google's API hosts (*.googleapis.com)
// to the emulator and any other request where it was going.
type googleHostsTo struct{ emulator *hostrewrite.Transport }

func (g *googleHostsTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if h := r.URL.Hostname(); h == "googleapis.com" || strings.HasSuffix(h, ".googleapis.com") {
		return g.emulator.RoundTrip(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}
