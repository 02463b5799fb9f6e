// Package target says where the Google APIs are for one run of invokerctl:
// Google itself (Application Default Credentials, the registry's provider),
// or an emulator at a URL with a bearer token. Every command that talks to
// Google (plan/apply/destroy through Terraform, verify and invoke through the
// Go clients) takes its endpoints and credentials from a Target, so the two
// cases differ in exactly one place.
package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// Environment variables read when targeting an emulator by URL.
const (
	// URLEnv holds the emulator's base URL (printed by `invokerctl emulator serve`).
	URLEnv = "INVOKERCTL_EMULATOR_URL"
	// TokenEnv holds the bearer token for the emulator's management APIs.
	TokenEnv = "INVOKERCTL_EMULATOR_TOKEN"
)

// Kind names the two kinds of target.
type Kind string

// Target kinds.
const (
	KindGoogle   Kind = "google"
	KindEmulator Kind = "emulator"
)

// Target is where the Google APIs are. The zero value is Google.
type Target struct {
	emulatorURL string // base URL without trailing slash; empty for Google
	token       string
	// adc is the emulator target's Application Default Credentials, when
	// it has no emulator token (EmulatorADC); nil otherwise.
	adc oauth2.TokenSource
}

// Google is the real Google Cloud, reached with Application Default
// Credentials.
func Google() Target { return Target{} }

// ErrNoToken is returned by Emulator when no bearer token is available.
var ErrNoToken = errors.New("no emulator token: set " + TokenEnv + " (printed by `invokerctl emulator serve`)")

// Emulator targets the emulator at rawURL ("http://127.0.0.1:8080"), using
// token as the bearer token of every management call.
func Emulator(rawURL, token string) (Target, error) {
	base, err := emulatorBase(rawURL)
	if err != nil {
		return Target{}, err
	}
	if token == "" {
		return Target{}, ErrNoToken
	}
	return Target{emulatorURL: base, token: token}, nil
}

// emulatorBase checks an emulator URL and returns it as scheme://host.
func emulatorBase(rawURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return "", fmt.Errorf("emulator URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("emulator URL %q: want http://HOST:PORT", rawURL)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("emulator URL %q: want only a scheme, host and port, e.g. http://127.0.0.1:8080", rawURL)
	}
	return u.Scheme + "://" + u.Host, nil
}

// FromEnv is FromEnvContext with a background context.
func FromEnv(rawURL string, getenv func(string) string) (Target, error) {
	return FromEnvContext(context.Background(), rawURL, getenv)
}

// FromEnvContext targets the emulator at rawURL, or at
// $INVOKERCTL_EMULATOR_URL when rawURL is empty, with the token from
// $INVOKERCTL_EMULATOR_TOKEN or, when that is not set, with Application
// Default Credentials (EmulatorADC; ctx carries their token requests).
func FromEnvContext(ctx context.Context, rawURL string, getenv func(string) string) (Target, error) {
	if rawURL == "" {
		rawURL = getenv(URLEnv)
	}
	if rawURL == "" {
		return Target{}, fmt.Errorf("no emulator URL: pass --emulator URL or set %s", URLEnv)
	}
	if tok := getenv(TokenEnv); tok != "" {
		return Emulator(rawURL, tok)
	}
	return EmulatorADC(ctx, rawURL, getenv)
}

// Kind is KindGoogle or KindEmulator.
func (t Target) Kind() Kind {
	if t.emulatorURL == "" {
		return KindGoogle
	}
	return KindEmulator
}

// IsEmulator reports whether t is an emulator.
func (t Target) IsEmulator() bool { return t.emulatorURL != "" }

// URL is the emulator's base URL without a trailing slash ("" for Google).
func (t Target) URL() string { return t.emulatorURL }

// Token is the bearer token of the emulator's management calls ("" for
// Google): the emulator token, or a current access token of the
// Application Default Credentials ("" when they fail to refresh). Never
// print it.
func (t Target) Token() string {
	if t.adc != nil {
		tok, err := t.adc.Token()
		if err != nil {
			return ""
		}
		return tok.AccessToken
	}
	return t.token
}

// String describes t without its token.
func (t Target) String() string {
	if t.emulatorURL == "" {
		return "Google Cloud (Application Default Credentials)"
	}
	return "emulator at " + t.emulatorURL
}

// APIEndpoint is the root URL to give google.golang.org/api clients with
// option.WithEndpoint ("http://127.0.0.1:8080/"); "" for Google, meaning the
// clients' defaults.
func (t Target) APIEndpoint() string {
	if t.emulatorURL == "" {
		return ""
	}
	return t.emulatorURL + "/"
}

// TokenSource yields the emulator token; nil for Google, meaning
// Application Default Credentials.
func (t Target) TokenSource() oauth2.TokenSource {
	if t.emulatorURL == "" {
		return nil
	}
	if t.adc != nil {
		return t.adc
	}
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: t.token, TokenType: "Bearer"})
}

// MetadataHost is the value for GCE_METADATA_HOST (host:port, no scheme)
// when the emulator also serves the metadata server; "" for Google.
func (t Target) MetadataHost() string {
	if t.emulatorURL == "" {
		return ""
	}
	u, _ := url.Parse(t.emulatorURL)
	return u.Host
}

// Hostname is the emulator's host without port ("" for Google).
func (t Target) Hostname() string {
	if t.emulatorURL == "" {
		return ""
	}
	u, _ := url.Parse(t.emulatorURL)
	h, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return u.Host
	}
	return h
}

// ProviderEndpoints are the hashicorp/google provider's *_custom_endpoint
// settings that send every API invokerctl's module uses to the emulator
// (nil for Google). Values end in "/<version>/" as the provider requires.
// Both iam_custom_endpoint (provider 6.0 to 7.29) and
// iam_beta_custom_endpoint (7.30 and later, where google_service_account
// moved to the iambeta client) are set, so every provider version in the
// module's constraint reaches the emulator.
func (t Target) ProviderEndpoints() map[string]string {
	if t.emulatorURL == "" {
		return nil
	}
	v1, v2, v3 := t.emulatorURL+"/v1/", t.emulatorURL+"/v2/", t.emulatorURL+"/v3/"
	return map[string]string{
		"cloud_run_v2_custom_endpoint":        v2,
		"cloudfunctions2_custom_endpoint":     v2,
		"iam_custom_endpoint":                 v1,
		"iam_beta_custom_endpoint":            v1,
		"iam_credentials_custom_endpoint":     v1,
		"resource_manager_custom_endpoint":    v1,
		"resource_manager_v3_custom_endpoint": v3,
	}
}
