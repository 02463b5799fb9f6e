package server

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

func getJSON(t *testing.T, c *http.Client, u string, v any) http.Header {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp.Header
}

func TestCertificateDocuments(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "certs-sa")
	createKeyFile(t, e, sa.Email)
	c := e.HTTPClient() // the real Google URLs, rewritten
	e.Mu.Lock()
	kid := e.Mgmt.SignKID
	sa2 := e.St.ServiceAccounts[sa.Email]
	var userKey string
	for id := range sa2.Keys {
		userKey = id
	}
	e.Mu.Unlock()

	var v1 map[string]string
	h := getJSON(t, c, "https://www.googleapis.com/oauth2/v1/certs", &v1)
	if !strings.Contains(h.Get("Cache-Control"), "max-age=") {
		t.Errorf("v1 certs Cache-Control %q", h.Get("Cache-Control"))
	}
	block, _ := pem.Decode([]byte(v1[kid]))
	if block == nil {
		t.Fatalf("v1 certs lack kid %s: %v", kid, v1)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	}

	var v3 struct{ Keys []map[string]string }
	h = getJSON(t, c, "https://www.googleapis.com/oauth2/v3/certs", &v3)
	if len(v3.Keys) != 1 || v3.Keys[0]["kid"] != kid || v3.Keys[0]["kty"] != "RSA" || v3.Keys[0]["alg"] != "RS256" || v3.Keys[0]["e"] != "AQAB" ||
		strings.ContainsAny(v3.Keys[0]["n"], "=+/") || !strings.Contains(h.Get("Cache-Control"), "max-age=") {
		t.Fatalf("v3 JWKS %v (Cache-Control %q)", v3, h.Get("Cache-Control"))
	}

	var x509s map[string]string
	getJSON(t, c, "https://www.googleapis.com/robot/v1/metadata/x509/"+sa.Email, &x509s)
	if _, ok := x509s[userKey]; !ok || len(x509s) != 1 {
		t.Fatalf("robot x509 %v lacks key %s", x509s, userKey)
	}
	var jwks struct{ Keys []map[string]string }
	getJSON(t, c, "https://www.googleapis.com/robot/v1/metadata/jwk/"+sa.Email, &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != userKey {
		t.Fatalf("robot jwk %v", jwks)
	}
	resp, _ := c.Get("https://www.googleapis.com/robot/v1/metadata/x509/ghost@" + e.Project() + ".iam.gserviceaccount.com")
	if resp.StatusCode != 404 {
		t.Fatalf("robot certs of an unknown account: %d", resp.StatusCode)
	}
	resp.Body.Close()

	var oidc map[string]any
	getJSON(t, c, "https://accounts.google.com/.well-known/openid-configuration", &oidc)
	if oidc["issuer"] != "https://accounts.google.com" {
		t.Fatalf("openid configuration %v", oidc)
	}
	var viaDiscovery struct{ Keys []map[string]string }
	getJSON(t, http.DefaultClient, oidc["jwks_uri"].(string), &viaDiscovery)
	if len(viaDiscovery.Keys) != 1 {
		t.Fatalf("jwks_uri %v did not serve the keys", oidc["jwks_uri"])
	}
}

// TestValidatorRejections: the real Go validator, pointed at the emulator,
// refuses tokens signed by another key, for another audience, or expired.
func TestValidatorRejections(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	other := newTestEmulator(t, core.Options{})
	past := newTestEmulator(t, core.Options{Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }})
	mint := func(em *core.Server) string {
		t.Helper()
		tok, err := em.MintIDToken(&model.ServiceAccount{UniqueID: "123456789012345678901", Email: "x@p.iam.gserviceaccount.com"}, "https://svc.example", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ctx := context.Background()
	v := validator(t, e)
	if _, err := v.Validate(ctx, mint(e), "https://svc.example"); err != nil {
		t.Fatalf("own token: %v", err)
	}
	tests := []struct {
		name, token, aud string
	}{
		{"token signed by another key", mint(other), "https://svc.example"},
		{"wrong audience", mint(e), "https://other.example"},
	}
	for _, tt := range tests {
		if _, err := v.Validate(ctx, tt.token, tt.aud); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	// An expired token: minted three hours ago by an emulator sharing the key.
	past.Mgmt.Signers, past.Mgmt.SignKID = e.Mgmt.Signers, e.Mgmt.SignKID
	if _, err := v.Validate(ctx, mint(past), "https://svc.example"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
	// The kid is in the header.
	parsed, _, _ := jwt.NewParser().ParseUnverified(mint(e), jwt.MapClaims{})
	if parsed.Header["kid"] != e.Mgmt.SignKID || parsed.Header["typ"] != "JWT" {
		t.Errorf("header %v", parsed.Header)
	}
}
