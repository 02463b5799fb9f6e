package idtoken

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fakeJWT builds a JWT-shaped token (RS256 header, the claims, a dummy
// signature). Nothing here verifies signatures; the service does.
func fakeJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"})
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "." + enc([]byte("signature-"+strings.Repeat("x", 40)))
}

func idClaims(aud, email string, exp time.Time) map[string]any {
	return map[string]any{
		"iss": "https://accounts.google.com", "aud": aud, "sub": "123456789012345678901",
		"email": email, "email_verified": true, "iat": exp.Add(-time.Hour).Unix(), "exp": exp.Unix(),
	}
}

// assertNoToken fails when s contains the token text (or its payload).
func assertNoToken(t testing.TB, what, s, raw string) {
	t.Helper()
	if strings.Contains(s, raw) {
		t.Fatalf("%s contains the token: %s", what, s)
	}
	if parts := strings.Split(raw, "."); len(parts) == 3 && strings.Contains(s, parts[1]) {
		t.Fatalf("%s contains the token payload: %s", what, s)
	}
}
