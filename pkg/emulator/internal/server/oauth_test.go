package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	emuiam "github.com/invokerctl/invokerctl/pkg/emulator/internal/iam"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/oauth"
)

// createSigningKey creates a key for the account and returns its key file
// and private key, to sign JWT-bearer assertions with.
func createSigningKey(t testing.TB, e *core.Server, email string) (emuiam.KeyFile, *rsa.PrivateKey) {
	t.Helper()
	raw, err := os.ReadFile(createKeyFile(t, e, email))
	if err != nil {
		t.Fatal(err)
	}
	var kf emuiam.KeyFile
	if err := json.Unmarshal(raw, &kf); err != nil {
		t.Fatal(err)
	}
	priv, err := core.ParsePrivateKeyPEM(kf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return kf, priv
}

// postAssertion posts a JWT-bearer grant and returns status and JSON body.
func postAssertion(t *testing.T, endpoint, grantType, assertion string) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(endpoint, url.Values{"grant_type": {grantType}, "assertion": {assertion}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "oauth-sa")
	kf, priv := createSigningKey(t, e, sa.Email)
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other := newTestEmulator(t, core.Options{})
	otherSA := createSA(t, other, "oauth-sa")
	otherKey, _ := os.ReadFile(createKeyFile(t, other, otherSA.Email))
	var okf emuiam.KeyFile
	_ = json.Unmarshal(otherKey, &okf)
	otherPriv, _ := core.ParsePrivateKeyPEM(okf.PrivateKey)

	now := time.Now()
	sign := func(claims jwt.MapClaims, key any, kid string, method jwt.SigningMethod) string {
		t.Helper()
		tok := jwt.NewWithClaims(method, claims)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": sa.Email, "aud": e.URL() + "/token", "iat": now.Add(-10 * time.Second).Unix(),
			"exp": now.Add(-10*time.Second + time.Hour).Unix(), "scope": "https://www.googleapis.com/auth/cloud-platform"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	good := func(mod func(jwt.MapClaims)) string {
		return sign(claims(mod), priv, kf.PrivateKeyID, jwt.SigningMethodRS256)
	}
	tests := []struct {
		name      string
		path      string
		grant     string
		assertion string
		status    int
		errCode   string // OAuth "error"; "" means success
		want      string // success field
		descr     string // part of error_description, when it matters
	}{
		{"scope, aud = token_uri", "/token", oauth.JWTBearerGrant, good(nil), 200, "", "access_token", ""},
		{"scope, gcloud's aud", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) { c["aud"] = "https://oauth2.googleapis.com/token" }), 200, "", "access_token", ""},
		{"v4 path and aud", "/oauth2/v4/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) { c["aud"] = "https://www.googleapis.com/oauth2/v4/token" }), 200, "", "access_token", ""},
		{"no kid: any key", "/token", oauth.JWTBearerGrant, sign(claims(nil), priv, "", jwt.SigningMethodRS256), 200, "", "access_token", ""},
		{"target_audience", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) { delete(c, "scope"); c["target_audience"] = "https://svc.example" }), 200, "", "id_token", ""},
		{"signed by another key", "/token", oauth.JWTBearerGrant, sign(claims(nil), stranger, kf.PrivateKeyID, jwt.SigningMethodRS256), 400, "invalid_grant", "", "Signature"},
		{"another emulator's key", "/token", oauth.JWTBearerGrant, sign(claims(nil), otherPriv, okf.PrivateKeyID, jwt.SigningMethodRS256), 400, "invalid_grant", "", "Signature"},
		{"expired assertion", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) {
			c["iat"] = now.Add(-2 * time.Hour).Unix()
			c["exp"] = now.Add(-time.Hour).Unix()
		}), 400, "invalid_grant", "", ""},
		{"lifetime over an hour", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) { c["exp"] = now.Add(2 * time.Hour).Unix() }), 400, "invalid_grant", "", ""},
		{"issued in the future", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) {
			c["iat"] = now.Add(time.Hour).Unix()
			c["exp"] = now.Add(90 * time.Minute).Unix()
		}), 400, "invalid_grant", "", ""},
		{"foreign audience", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) { c["aud"] = "https://evil.example/token" }), 400, "invalid_grant", "", ""},
		{"unknown account", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) { c["iss"] = "ghost@" + e.Project() + ".iam.gserviceaccount.com" }), 400, "invalid_grant", "", ""},
		{"neither scope nor audience", "/token", oauth.JWTBearerGrant, good(func(c jwt.MapClaims) { delete(c, "scope") }), 400, "invalid_scope", "", ""},
		{"HS256", "/token", oauth.JWTBearerGrant, sign(claims(nil), []byte("secret"), kf.PrivateKeyID, jwt.SigningMethodHS256), 400, "invalid_grant", "", "Signature"},
		{"wrong grant type", "/token", "client_credentials", good(nil), 400, "unsupported_grant_type", "", ""},
	}
	for _, tt := range tests {
		status, body := postAssertion(t, e.URL()+tt.path, tt.grant, tt.assertion)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d (%v)", tt.name, status, tt.status, body)
			continue
		}
		if tt.errCode != "" {
			if d, _ := body["error_description"].(string); body["error"] != tt.errCode || d == "" || !strings.Contains(d, tt.descr) {
				t.Errorf("%s: body %v, want error %s", tt.name, body, tt.errCode)
			}
			continue
		}
		if s, _ := body[tt.want].(string); s == "" {
			t.Errorf("%s: no %s in %v", tt.name, tt.want, body)
		}
		if tt.want == "access_token" {
			if n, ok := body["expires_in"].(float64); !ok || n <= 0 || body["token_type"] != "Bearer" {
				t.Errorf("%s: expires_in must be a positive JSON number: %v", tt.name, body)
			}
		}
	}
}

func TestTokenEndpointRefusesDisabledAccount(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "to-disable")
	keyPath := createKeyFile(t, e, sa.Email)
	ctx := context.Background()
	if _, err := idtoken.NewTokenSource(ctx, "https://svc.example", option.WithCredentialsFile(keyPath)); err != nil {
		t.Fatalf("enabled: %v", err)
	}
	if _, err := ownerIAM(t, e).Projects.ServiceAccounts.Disable(sa.Name, &iam.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err := idtoken.NewTokenSource(ctx, "https://svc.example", option.WithCredentialsFile(keyPath))
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("disabled account at the token endpoint: %v", err)
	}
	// Through the new auth library path as well.
	newTS, err := idtoken.NewTokenSource(ctx, "https://svc.example", option.WithAuthCredentialsFile(option.ServiceAccount, keyPath))
	if err == nil {
		_, err = newTS.Token() // the new auth path fetches lazily
	}
	if err == nil {
		t.Fatal("disabled account accepted through the new auth path")
	}
	if _, err := ownerIAM(t, e).Projects.ServiceAccounts.Enable(sa.Name, &iam.EnableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	ts, err := idtoken.NewTokenSource(ctx, "https://svc.example", option.WithAuthCredentialsFile(option.ServiceAccount, keyPath))
	if err != nil {
		t.Fatalf("new auth path: %v", err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if p, err := validator(t, e).Validate(ctx, tok.AccessToken, "https://svc.example"); err != nil || p.Claims["email"] != sa.Email {
		t.Fatalf("new auth path token: %v %+v", err, p)
	}
}
