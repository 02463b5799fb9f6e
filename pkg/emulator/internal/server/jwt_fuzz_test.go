package server

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/oauth"
)

// fuzzNow is the fixed clock of the JWT fuzz targets, so committed seeds
// carry meaningful iat/exp values: 2026-01-01T00:00:00Z.
var fuzzNow = time.Unix(1767225600, 0).UTC()

// fuzzKID stands in a fuzzed header for the kid of the key the target
// signs with (random per run, so a seed cannot spell it).
const fuzzKID = "$KID"

// fuzzJWT builds the compact JWS the fuzz targets verify: header and
// payload as given (fuzzKID replaced by kid), then by mode: 0 an RS256
// signature of key, 1 a signature that is not one, 2 none at all; any
// other mode uses header as the whole token, unmodified.
func fuzzJWT(header, payload []byte, mode uint8, key *rsa.PrivateKey, kid string) (string, bool) {
	if mode > 2 {
		return string(header), false
	}
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64([]byte(strings.ReplaceAll(string(header), fuzzKID, kid))) + "." + b64(payload)
	switch mode {
	case 0:
		sum := sha256.Sum256([]byte(input))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return input + "." + b64(sig), true
	case 1:
		return input + "." + b64(payload), false
	}
	return input + ".", false
}

// jwtOracle decodes a token the way the checks are specified, independently
// of the code under test: the header and claims as JSON objects, numeric
// dates in whole seconds. ok is false when the token is not even that.
type jwtOracle struct {
	header, claims map[string]any
}

func decodeJWTOracle(tok string) (jwtOracle, bool) {
	var o jwtOracle
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return o, false
	}
	for i, dst := range []*map[string]any{&o.header, &o.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil || *dst == nil {
			return o, false
		}
	}
	return o, true
}

// seconds is a numeric date claim in whole seconds; ok is false when absent
// or not a number, exact is false when it is too large for the comparison
// to be meaningful (the oracle then does not judge).
func (o jwtOracle) seconds(k string) (sec int64, ok, exact bool) {
	f, ok := o.claims[k].(float64)
	if !ok {
		return 0, false, true
	}
	return int64(math.Floor(f)), true, math.Abs(f) < 1e15
}

// FuzzVerifyIDToken feeds ID tokens, signed by the emulator's Google key or
// not, to the data plane's verifier. It never panics; every refusal is an
// *core.IDTokenError; and it accepts a token exactly when an independent
// reading of the rules (VerifyIDToken's doc) accepts it.
func FuzzVerifyIDToken(f *testing.F) {
	f.Add([]byte(`{"alg":"RS256","kid":"$KID","typ":"JWT"}`), []byte(`{"iss":"https://accounts.google.com","aud":"https://svc.example","sub":"1","iat":1767225600,"exp":1767229200}`), uint8(0))
	f.Add([]byte(`{"alg":"none"}`), []byte(`{"iss":"accounts.google.com","aud":"a","iat":1767225600,"exp":1767229200,"nbf":1767225700}`), uint8(2))
	f.Add([]byte("a.b.c"), []byte(nil), uint8(3))
	e := newTestEmulator(f, core.Options{Now: func() time.Time { return fuzzNow }})
	key, kid := e.Mgmt.Signers[e.Mgmt.SignKID], e.Mgmt.SignKID
	now := fuzzNow.Unix()
	skew, maxExp := int64(core.IDTokenClockSkew/time.Second), int64(core.MaxIDTokenExpiry/time.Second)
	f.Fuzz(func(t *testing.T, header, payload []byte, mode uint8) {
		tok, signed := fuzzJWT(header, payload, mode, key, kid)
		c, err := e.VerifyIDToken(tok)
		var ve *core.IDTokenError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("untyped refusal: %v", err)
		}
		o, decodes := decodeJWTOracle(tok)
		want, judged := decodes && signed, true
		if want {
			alg, _ := o.header["alg"].(string)
			hkid, _ := o.header["kid"].(string)
			iss, _ := o.claims["iss"].(string)
			aud, _ := o.claims["aud"].(string)
			exp, hasExp, exactExp := o.seconds("exp")
			iat, hasIat, exactIat := o.seconds("iat")
			nbf, hasNbf, exactNbf := o.seconds("nbf")
			_, nbfPresent := o.claims["nbf"]
			judged = exactExp && exactIat && exactNbf
			want = alg == "RS256" && hkid == kid &&
				(iss == "https://accounts.google.com" || iss == "accounts.google.com") && aud != "" &&
				hasExp && now <= exp+skew && exp <= now+maxExp &&
				hasIat && iat <= now+skew &&
				(!nbfPresent || (hasNbf && nbf <= now+skew))
		}
		switch {
		case err == nil && c == nil:
			t.Fatal("accepted without claims")
		case err == nil && !signed:
			t.Fatalf("accepted a token the emulator did not sign: %q", tok)
		case judged && want && err != nil:
			t.Fatalf("refused a token the rules accept: %v\nheader %s\nclaims %v", err, header, o.claims)
		case judged && !want && err == nil:
			t.Fatalf("accepted a token the rules refuse: header %s claims %v", header, o.claims)
		}
	})
}

// FuzzTokenEndpointAssertion posts JWT-bearer grants (signed by a service
// account's key or not) to the OAuth token endpoint. It never panics or
// answers 5xx, answers errors in the OAuth shape, and grants a token only
// for an assertion the rules of the JWT-bearer grant accept: the RS256
// signature of the account's key, iss the account, aud the token endpoint,
// (or a list naming it), exp ahead, iat not ahead of the 5-minute skew, exp-iat at most an hour,
// sub absent or the account.
func FuzzTokenEndpointAssertion(f *testing.F) {
	const email = "fuzz-caller@demo-project.iam.gserviceaccount.com"
	f.Add([]byte(`{"alg":"RS256","typ":"JWT"}`), []byte(`{"iss":"`+email+`","scope":"https://www.googleapis.com/auth/cloud-platform","aud":"https://oauth2.googleapis.com/token","iat":1767225600,"exp":1767229200}`), uint8(0))
	f.Add([]byte(`{"alg":"RS256","typ":"JWT"}`), []byte(`{"iss":"`+email+`","target_audience":"https://svc.example","aud":"https://oauth2.googleapis.com/token","iat":1767225600,"exp":1767229200}`), uint8(0))
	f.Add([]byte(`{"alg":"none"}`), []byte(`{"iss":"`+email+`"}`), uint8(2))
	e := newTestEmulator(f, core.Options{Now: func() time.Time { return fuzzNow }})
	createSA(f, e, "fuzz-caller")
	kf, key := createSigningKey(f, e, email)
	now := fuzzNow.Unix()
	f.Fuzz(func(t *testing.T, header, payload []byte, mode uint8) {
		tok, signed := fuzzJWT(header, payload, mode, key, kf.PrivateKeyID)
		body := url.Values{"grant_type": {oauth.JWTBearerGrant}, "assertion": {tok}}.Encode()
		req := httptest.NewRequest(http.MethodPost, e.URL()+"/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		var resp map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d, body not JSON: %s", w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			if w.Code >= 500 || w.Code < 400 || resp["error"] == nil {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			return
		}
		if resp["access_token"] == nil && resp["id_token"] == nil {
			t.Fatalf("200 without a token: %s", w.Body)
		}
		o, decodes := decodeJWTOracle(tok)
		if !signed || !decodes {
			t.Fatalf("granted a token for an assertion not signed by the account's key: %q", tok)
		}
		alg, _ := o.header["alg"].(string)
		iss, _ := o.claims["iss"].(string)
		// RFC 7523 §3 allows aud to be a list naming the token endpoint.
		auds, _ := o.claims["aud"].([]any)
		if a, ok := o.claims["aud"].(string); ok {
			auds = []any{a}
		}
		audOK := slices.ContainsFunc(auds, func(a any) bool { s, _ := a.(string); return strings.HasSuffix(s, "/token") })
		sub, hasSub := o.claims["sub"].(string)
		exp, hasExp, _ := o.seconds("exp")
		iat, hasIat, _ := o.seconds("iat")
		if alg != "RS256" || !strings.EqualFold(iss, email) || !audOK ||
			!hasExp || !hasIat || exp <= now || iat > now+300 || exp-iat > 3600 ||
			(hasSub && sub != "" && !strings.EqualFold(sub, email)) {
			t.Fatalf("granted a token for an assertion the rules refuse: header %s claims %v", header, o.claims)
		}
	})
}
