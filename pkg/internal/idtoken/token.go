// Package idtoken obtains Google-signed ID tokens for calling private Cloud
// Run services, from the four sources Cloud Run's authentication guide lists:
//
//   - a service-account key (a key file or Application Default Credentials):
//     a self-signed JWT exchanged at the key's token_uri ([NewKeyFile],
//     [NewKeyJSON], [NewADC]);
//   - impersonation of a service account through IAM Credentials
//     generateIdToken, with an optional delegate chain ([NewImpersonated]);
//   - the metadata server of the machine the code runs on ([NewMetadata]);
//   - an explicit token handed over in a file or an environment variable, as
//     CI systems do ([NewTokenFile], [NewTokenEnv]).
//
// Every source satisfies [Source]; [Cache] reuses one token per audience until
// shortly before it expires.
//
// Tokens are credentials. A [Token] keeps the JWT out of reach of fmt, JSON,
// slog and reflection-based printing, and only hands it over as an
// Authorization header ([Token.SetAuthHeader]). Errors built here never
// contain token text, and [Redact], [RedactError] and [RedactingHandler]
// scrub JWT-looking text from strings, errors and logs produced elsewhere.
package idtoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"
)

// secret holds a credential inside a closure: reflection cannot see into a
// func value, so even fmt's reflection-based printing (say %s of a struct
// that holds a Token in an unexported field) shows only an address.
type secret func() string

func newSecret(v string) secret { return func() string { return v } }

// Token is an ID token with the claims read from it (without verifying the
// signature: the service that receives the token verifies it).
//
// The JWT itself is unexported and never formatted: String, GoString,
// Format, MarshalJSON and LogValue all print "[REDACTED]" in its place.
type Token struct {
	raw secret

	// Audiences is the aud claim (Google ID tokens carry exactly one).
	Audiences []string
	// Email is the email claim (absent when the minting path left it out);
	// Subject the sub claim (a service account's unique id).
	Email   string
	Subject string
	Issuer  string
	// IssuedAt and Expiry are the iat and exp claims; zero when absent.
	IssuedAt time.Time
	Expiry   time.Time
	// Source describes where the token came from (Source.Describe).
	Source string
}

// ErrNotJWT reports text that is not a well-formed JWT (three dot-separated
// base64url parts with a JSON payload).
var ErrNotJWT = errors.New("not a JWT")

// ParseToken reads the claims of a JWT without verifying its signature. The
// error never contains the token text.
func ParseToken(raw string) (Token, error) {
	raw = strings.TrimSpace(raw)
	raw = strings.TrimPrefix(raw, "Bearer ")
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return Token{}, fmt.Errorf("%w: expected three dot-separated parts", ErrNotJWT)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Token{}, fmt.Errorf("%w: payload is not base64url", ErrNotJWT)
	}
	var c struct {
		Iss   string          `json:"iss"`
		Aud   json.RawMessage `json:"aud"`
		Sub   string          `json:"sub"`
		Email string          `json:"email"`
		Iat   json.Number     `json:"iat"`
		Exp   json.Number     `json:"exp"`
	}
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return Token{}, fmt.Errorf("%w: payload is not a JSON object", ErrNotJWT)
	}
	t := Token{raw: newSecret(raw), Email: c.Email, Subject: c.Sub, Issuer: c.Iss}
	if len(c.Aud) > 0 && string(c.Aud) != "null" {
		var one string
		if err := json.Unmarshal(c.Aud, &one); err == nil {
			t.Audiences = []string{one}
		} else if err := json.Unmarshal(c.Aud, &t.Audiences); err != nil {
			return Token{}, fmt.Errorf("%w: aud claim is neither a string nor a list of strings", ErrNotJWT)
		}
	}
	if t.IssuedAt, err = unixClaim(c.Iat); err != nil {
		return Token{}, fmt.Errorf("%w: iat claim: %v", ErrNotJWT, err)
	}
	if t.Expiry, err = unixClaim(c.Exp); err != nil {
		return Token{}, fmt.Errorf("%w: exp claim: %v", ErrNotJWT, err)
	}
	return t, nil
}

func unixClaim(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, errors.New("not a number")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.raw == nil || t.raw() == "" }

// Caller is the identity the token speaks for: its email claim, else its
// subject.
func (t Token) Caller() string {
	if t.Email != "" {
		return t.Email
	}
	return t.Subject
}

// Audience is the first aud claim value ("" when there is none).
func (t Token) Audience() string {
	if len(t.Audiences) == 0 {
		return ""
	}
	return t.Audiences[0]
}

// ExpiresWithin reports whether the token expires before now+d. A token
// without an exp claim never expires by this test.
func (t Token) ExpiresWithin(now time.Time, d time.Duration) bool {
	return !t.Expiry.IsZero() && !now.Add(d).Before(t.Expiry)
}

// SetAuthHeader sets "Authorization: Bearer <token>" on h. It is the only
// way the JWT leaves a Token.
func (t Token) SetAuthHeader(h http.Header) {
	if t.IsZero() {
		return
	}
	h.Set("Authorization", "Bearer "+t.raw())
}

// String describes the token without its text.
func (t Token) String() string {
	if t.IsZero() {
		return "idtoken.Token{}"
	}
	var b strings.Builder
	b.WriteString("idtoken.Token{")
	fmt.Fprintf(&b, "caller=%q aud=%q", t.Caller(), t.Audience())
	if !t.Expiry.IsZero() {
		fmt.Fprintf(&b, " exp=%s", t.Expiry.UTC().Format(time.RFC3339))
	}
	b.WriteString(" jwt=" + Redacted + "}")
	return b.String()
}

// GoString is String, so %#v does not reveal the token either.
func (t Token) GoString() string { return t.String() }

// Format prints String for every verb.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// MarshalJSON renders the claims and "[REDACTED]" in place of the token.
func (t Token) MarshalJSON() ([]byte, error) {
	v := struct {
		Caller    string     `json:"caller,omitempty"`
		Audiences []string   `json:"audiences,omitempty"`
		Email     string     `json:"email,omitempty"`
		Subject   string     `json:"subject,omitempty"`
		Issuer    string     `json:"issuer,omitempty"`
		IssuedAt  *time.Time `json:"issuedAt,omitempty"`
		Expiry    *time.Time `json:"expiry,omitempty"`
		Source    string     `json:"source,omitempty"`
		Token     string     `json:"token,omitempty"`
	}{Caller: t.Caller(), Audiences: t.Audiences, Email: t.Email, Subject: t.Subject, Issuer: t.Issuer, Source: t.Source}
	if !t.IssuedAt.IsZero() {
		v.IssuedAt = &t.IssuedAt
	}
	if !t.Expiry.IsZero() {
		v.Expiry = &t.Expiry
	}
	if !t.IsZero() {
		v.Token = Redacted
	}
	return json.Marshal(v)
}

// LogValue renders the claims for log/slog, never the token.
func (t Token) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("caller", t.Caller()), slog.String("aud", t.Audience())}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("exp", t.Expiry))
	}
	if t.Source != "" {
		attrs = append(attrs, slog.String("source", t.Source))
	}
	attrs = append(attrs, slog.String("jwt", Redacted))
	return slog.GroupValue(attrs...)
}
