package server

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

func TestMintAndVerifyIDToken(t *testing.T) {
	t.Parallel()
	clock := clock.NewFake(time.Now())
	e := newTestEmulator(t, core.Options{Now: clock.Now})
	other := newTestEmulator(t, core.Options{})
	sa := &model.ServiceAccount{UniqueID: "100000000000000000042", Email: "caller@p.iam.gserviceaccount.com"}

	tok, err := e.MintIDToken(sa, "https://svc-abc.a.run.app", true, map[string]any{"iss": "ignored", "custom": "x"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.VerifyIDToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "https://accounts.google.com" || c.Audience != "https://svc-abc.a.run.app" || c.Subject != sa.UniqueID ||
		c.AuthorizedParty != sa.UniqueID || c.Email != sa.Email || !c.EmailVerified || c.Expiry.Sub(c.IssuedAt) != time.Hour {
		t.Fatalf("claims %+v", c)
	}
	noEmail, _ := e.MintIDToken(sa, "aud", false, map[string]any{"email": "forged@example.com"})
	if c, err := e.VerifyIDToken(noEmail); err != nil || c.Email != "" || c.EmailVerified {
		t.Fatalf("includeEmail=false: %v %+v", err, c)
	}

	// Tokens the emulator must refuse.
	signWith := func(claims jwt.MapClaims, em *core.Server) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tk.Header["kid"] = em.Mgmt.SignKID
		s, err := tk.SignedString(em.Mgmt.Signers[em.Mgmt.SignKID])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := clock.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "accounts.google.com", "aud": "a", "sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	if _, err := e.VerifyIDToken(signWith(base(), e)); err != nil {
		t.Fatalf("issuer without https:// is Google's too: %v", err)
	}
	foreignIss := base()
	foreignIss["iss"] = "https://evil.example"
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://accounts.google.com","aud":"x","exp":9999999999}`)) + "." + parts[2]
	unsigned := parts[0] + "." + parts[1] + "."
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, base()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	otherTok, _ := other.MintIDToken(sa, "https://svc-abc.a.run.app", true, nil)
	tests := []struct{ name, token string }{
		{"another emulator's key", otherTok},
		{"foreign issuer", signWith(foreignIss, e)},
		{"tampered payload", tampered},
		{"no signature", unsigned},
		{"alg none", noneTok},
		{"garbage", "not.a.jwt"},
	}
	for _, tt := range tests {
		if _, err := e.VerifyIDToken(tt.token); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	clock.Advance(time.Hour + core.IDTokenClockSkew + time.Second)
	if _, err := e.VerifyIDToken(tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: %v", err)
	}
}
