package server

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// Every check Google's front end makes on a Google-signed ID token, one
// case per claim or header field, through the data plane (status and
// counter) and VerifyIDToken (which check refused it). Tokens are signed
// with the emulator's own Google key, so only the claim under test is
// wrong.
func TestDataPlaneChecksEveryIDTokenClaim(t *testing.T) {
	e, clock := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	now := clock.Now().Truncate(time.Second)
	skew := core.IDTokenClockSkew
	good := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": "https://accounts.google.com", "aud": private,
			"email": "caller-one@demo-project.iam.gserviceaccount.com", "email_verified": true,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	sign := func(claims jwt.MapClaims, header map[string]any) string {
		t.Helper()
		tk := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tk.Header["kid"] = e.Mgmt.SignKID
		for k, v := range header {
			if v == nil {
				delete(tk.Header, k)
			} else {
				tk.Header[k] = v
			}
		}
		s, err := tk.SignedString(e.Mgmt.Signers[e.Mgmt.SignKID])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := sign(good(), nil)
	parts := strings.Split(valid, ".")
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hsTok := func() string {
		tk := jwt.NewWithClaims(jwt.SigningMethodHS256, good())
		tk.Header["kid"] = e.Mgmt.SignKID
		s, _ := tk.SignedString([]byte("a shared secret"))
		return s
	}()

	tests := []struct {
		name   string
		token  string
		check  core.IDTokenCheck // "" = accepted
		status int
	}{
		{"valid", valid, "", 200},
		{"iss without https://", sign(with("iss", "accounts.google.com"), nil), "", 200},
		{"aud with a trailing slash", sign(with("aud", private+"/"), nil), "", 200},
		{"iat within the skew ahead", sign(with("iat", now.Add(skew-time.Second).Unix()), nil), "", 200},
		{"nbf in the past", sign(with("nbf", now.Add(-time.Minute).Unix()), nil), "", 200},
		{"nbf within the skew ahead", sign(with("nbf", now.Add(skew-time.Second).Unix()), nil), "", 200},
		{"exp a day ahead", sign(with("exp", now.Add(core.MaxIDTokenExpiry).Unix()), nil), "", 200},

		{"not three segments", parts[0] + "." + parts[1], core.CheckFormat, 401},
		{"header not base64url", "%%%." + parts[1] + "." + parts[2], core.CheckFormat, 401},
		{"header not JSON", b64("RS256") + "." + parts[1] + "." + parts[2], core.CheckFormat, 401},
		{"payload not JSON", parts[0] + "." + b64("{") + "." + parts[2], core.CheckFormat, 401},
		{"alg none", noneTok, core.CheckAlg, 401},
		{"alg HS256 (the key as a shared secret)", hsTok, core.CheckAlg, 401},
		{"alg missing", sign(good(), map[string]any{"alg": nil}), core.CheckAlg, 401},
		{"alg not a string", sign(good(), map[string]any{"alg": 256}), core.CheckAlg, 401},
		{"kid unknown", sign(good(), map[string]any{"kid": "0123456789abcdef"}), core.CheckKey, 401},
		{"kid missing", sign(good(), map[string]any{"kid": nil}), core.CheckKey, 401},
		{"signature of other claims", parts[0] + "." + b64(`{"iss":"https://accounts.google.com","aud":"`+private+`","exp":9999999999}`) + "." + parts[2], core.CheckSignature, 401},
		{"signature missing", parts[0] + "." + parts[1] + ".", core.CheckSignature, 401},
		{"iss missing", sign(with("iss", nil), nil), core.CheckIssuer, 401},
		{"iss wrong", sign(with("iss", "https://evil.example"), nil), core.CheckIssuer, 401},
		{"iss of another Google issuer", sign(with("iss", "https://securetoken.google.com/demo-project"), nil), core.CheckIssuer, 401},
		{"aud missing", sign(with("aud", nil), nil), core.CheckAudience, 401},
		{"aud empty", sign(with("aud", ""), nil), core.CheckAudience, 401},
		{"aud a list", sign(with("aud", []string{private, "https://other.example"}), nil), core.CheckAudience, 401},
		{"exp missing", sign(with("exp", nil), nil), core.CheckExpiry, 401},
		{"exp not a number", sign(with("exp", "tomorrow"), nil), core.CheckExpiry, 401},
		{"exp past the skew", sign(with("exp", now.Add(-skew-time.Second).Unix()), nil), core.CheckExpiry, 401},
		{"exp over a day ahead", sign(with("exp", now.Add(core.MaxIDTokenExpiry+time.Minute).Unix()), nil), core.CheckExpiry, 401},
		{"iat missing", sign(with("iat", nil), nil), core.CheckIssuedAt, 401},
		{"iat not a number", sign(with("iat", "now"), nil), core.CheckIssuedAt, 401},
		{"iat in the future", sign(with("iat", now.Add(skew+time.Second).Unix()), nil), core.CheckIssuedAt, 401},
		{"nbf in the future", sign(with("nbf", now.Add(skew+time.Second).Unix()), nil), core.CheckNotBefore, 401},
		{"nbf not a number", sign(with("nbf", "soon"), nil), core.CheckNotBefore, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.VerifyIDToken(tt.token)
			var ve *core.IDTokenError
			switch {
			case tt.check == "" && err != nil:
				t.Errorf("VerifyIDToken refused it: %v", err)
			case tt.check != "" && (!errors.As(err, &ve) || ve.Check != tt.check):
				t.Errorf("VerifyIDToken: %v, want the %q check to refuse it", err, tt.check)
			}
			before := e.Calls()["run.dataplane.invoke.invalid_token"]
			status, body, _ := rtCall(t, private, bearer(tt.token))
			rtWant(t, "data plane", status, tt.status, body)
			if got := e.Calls()["run.dataplane.invoke.invalid_token"] - before; tt.status == 401 && got != 1 {
				t.Errorf("invalid_token counter moved by %d, want 1", got)
			}
		})
	}
}
