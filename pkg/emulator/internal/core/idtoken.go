package core

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// googleIssuer is the iss of every ID token the emulator mints; both
// spellings are accepted when verifying (contract §13.1).
const googleIssuer = "https://accounts.google.com"

// idTokenLifetime is exp-iat of minted ID tokens (contract §12.2).
const idTokenLifetime = time.Hour

// idClaims are the claims of a Google-signed ID token the emulator minted.
type idClaims struct {
	Issuer          string
	Audience        string
	AuthorizedParty string // azp: SA uniqueId
	Subject         string // SA uniqueId
	Email           string // empty when the token carries no email
	EmailVerified   bool
	IssuedAt        time.Time
	Expiry          time.Time
}

// ensureSigningKeyLocked parses the stored "Google" ID-token signing keys
// into e.mgmt, creating one (RSA 2048, random hex kid) when there is none.
// Keys live in State.SigningKeys, so a restart with a state file keeps
// earlier tokens valid. Called with e.mu held during init.
func (e *Server) ensureSigningKeyLocked() error {
	e.Mgmt.Signers = map[string]*rsa.PrivateKey{}
	for _, k := range e.St.SigningKeys {
		priv, err := ParsePrivateKeyPEM(k.PrivateKeyPEM)
		if err != nil {
			return fmt.Errorf("emulator state: signing key %q: %w", k.KID, err)
		}
		e.Mgmt.Signers[k.KID] = priv
		e.Mgmt.SignKID = k.KID
	}
	if len(e.St.SigningKeys) > 0 {
		return nil
	}
	kid := RandomHex(20)
	kp, err := NewKeyPair(2048, "emulator-google-signing-"+kid, e.Opts.Now(), time.Time{})
	if err != nil {
		return fmt.Errorf("emulator: creating ID-token signing key: %w", err)
	}
	e.St.SigningKeys = append(e.St.SigningKeys, &model.SigningKey{KID: kid, PrivateKeyPEM: kp.PrivatePEM, CertPEM: kp.CertPEM})
	e.Mgmt.Signers[kid] = kp.Priv
	e.Mgmt.SignKID = kid
	return nil
}

// MintIDToken returns a Google-signed ID token for sa (claims as contract
// §12.2: iss https://accounts.google.com, aud, azp and sub = uniqueId, iat,
// exp = iat+1h; email and email_verified when includeEmail). extra claims
// are added (they never replace the standard ones). It reads only sa and
// the read-only signing keys, so it may be called with or without e.mu held
// (sa must not be mutated concurrently).
func (e *Server) MintIDToken(sa *model.ServiceAccount, audience string, includeEmail bool, extra map[string]any) (string, error) {
	if audience == "" {
		return "", errors.New("empty audience")
	}
	now := e.Opts.Now().UTC().Truncate(time.Second)
	claims := jwt.MapClaims{}
	maps.Copy(claims, extra)
	claims["iss"] = googleIssuer
	claims["aud"] = audience
	claims["azp"] = sa.UniqueID
	claims["sub"] = sa.UniqueID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(idTokenLifetime).Unix()
	if includeEmail {
		claims["email"] = sa.Email
		claims["email_verified"] = true
	} else {
		delete(claims, "email")
		delete(claims, "email_verified")
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = e.Mgmt.SignKID
	return tok.SignedString(e.Mgmt.Signers[e.Mgmt.SignKID])
}

// IDTokenCheck names one check of VerifyIDToken.
type IDTokenCheck string

// The checks of VerifyIDToken, in the order they run.
const (
	CheckFormat    IDTokenCheck = "format"    // three base64url segments, JSON header and payload
	CheckAlg       IDTokenCheck = "alg"       // RS256 (the algorithm of every key the emulator publishes)
	CheckKey       IDTokenCheck = "kid"       // a key of the emulator's Google JWKS
	CheckSignature IDTokenCheck = "signature" // verifies with that key
	CheckIssuer    IDTokenCheck = "iss"       // accounts.google.com, with or without https://
	CheckAudience  IDTokenCheck = "aud"       // present, one non-empty string
	CheckExpiry    IDTokenCheck = "exp"       // present, a number, not past (skew), not over a day ahead
	CheckIssuedAt  IDTokenCheck = "iat"       // present, a number, not in the future (skew)
	CheckNotBefore IDTokenCheck = "nbf"       // when present, a number, not in the future (skew)
)

// IDTokenError is why VerifyIDToken refused a token. It never holds the
// token.
type IDTokenError struct {
	Check  IDTokenCheck
	Detail string
}

func (e *IDTokenError) Error() string {
	return "invalid ID token: " + string(e.Check) + ": " + e.Detail
}

func idTokenErr(check IDTokenCheck, format string, args ...any) *IDTokenError {
	return &IDTokenError{Check: check, Detail: fmt.Sprintf(format, args...)}
}

// VerifyIDToken checks an ID token as Google's front end checks a
// Google-signed ID token and returns its claims; every refusal is an
// *IDTokenError naming the check. The checks are those of Google's own
// verifiers (google.golang.org/api/idtoken; the Java and Node.js
// google-auth-library ID-token verifiers):
//   - header: three base64url segments; alg RS256 (Google's validator takes
//     RS256 or ES256 with a key of the JWKS of that type; the emulator's
//     JWKS holds RSA keys only, so "none", HS256, ES256... are refused);
//     kid naming a key of the emulator's JWKS (the certs endpoints);
//   - the signature, with that key;
//   - iss: "https://accounts.google.com" or "accounts.google.com";
//   - aud: present and one non-empty string (Google's payload has a string
//     aud; the caller compares it with what it accepts);
//   - exp: present and numeric; refused once now > exp + IDTokenClockSkew,
//     and when exp is more than MaxIDTokenExpiry after now;
//   - iat: present and numeric; refused while iat > now + IDTokenClockSkew;
//   - nbf: optional (Google-minted ID tokens carry none); when present it
//     must be numeric and is refused while nbf > now + IDTokenClockSkew.
//
// It uses only read-only data, so it may be called with or without e.mu
// held.
func (e *Server) VerifyIDToken(raw string) (*idClaims, error) {
	hdr, err := parseJWTHeader(raw)
	if err != nil {
		return nil, idTokenErr(CheckFormat, "%v", err)
	}
	if hdr.Alg != "RS256" {
		return nil, idTokenErr(CheckAlg, "alg %q is not RS256", hdr.Alg)
	}
	key := e.Mgmt.Signers[hdr.Kid]
	if key == nil {
		return nil, idTokenErr(CheckKey, "signed by an unknown key (kid %q)", hdr.Kid)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, idTokenErr(CheckFormat, "%v", err)
	case err != nil:
		return nil, idTokenErr(CheckSignature, "%v", err)
	}
	c := &idClaims{}
	c.Issuer, _ = claims["iss"].(string)
	if c.Issuer != googleIssuer && c.Issuer != "accounts.google.com" {
		return nil, idTokenErr(CheckIssuer, "issuer %q is not Google", c.Issuer)
	}
	c.Audience, _ = claims["aud"].(string)
	if c.Audience == "" {
		return nil, idTokenErr(CheckAudience, "no audience (aud must be one non-empty string)")
	}
	if err := checkIDTokenTimes(claims, e.Opts.Now(), c); err != nil {
		return nil, err
	}
	c.Subject, _ = claims["sub"].(string)
	c.AuthorizedParty, _ = claims["azp"].(string)
	c.Email, _ = claims["email"].(string)
	c.EmailVerified, _ = claims["email_verified"].(bool)
	return c, nil
}

// IDTokenClockSkew is the clock skew Google's ID-token verifiers allow
// between the token's issuer and the verifier (300 s in the Java and
// Node.js google-auth-library verifiers) on exp, iat and nbf.
const IDTokenClockSkew = 5 * time.Minute

// MaxIDTokenExpiry is how far ahead exp may be (the Node.js
// google-auth-library verifier's maxExpiry, one day). Google mints ID
// tokens for one hour.
const MaxIDTokenExpiry = 24 * time.Hour

// checkIDTokenTimes checks exp, iat and nbf against now (see VerifyIDToken)
// and fills c.Expiry and c.IssuedAt.
func checkIDTokenTimes(claims jwt.MapClaims, now time.Time, c *idClaims) error {
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return idTokenErr(CheckExpiry, "no numeric expiry")
	}
	c.Expiry = exp.Time
	if now.After(c.Expiry.Add(IDTokenClockSkew)) {
		return idTokenErr(CheckExpiry, "expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	if c.Expiry.After(now.Add(MaxIDTokenExpiry)) {
		return idTokenErr(CheckExpiry, "expiry %s is more than %s ahead", c.Expiry.UTC().Format(time.RFC3339), MaxIDTokenExpiry)
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil {
		return idTokenErr(CheckIssuedAt, "no numeric issue time")
	}
	c.IssuedAt = iat.Time
	if c.IssuedAt.After(now.Add(IDTokenClockSkew)) {
		return idTokenErr(CheckIssuedAt, "issued in the future (%s)", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if _, present := claims["nbf"]; present {
		nbf, err := claims.GetNotBefore()
		if err != nil || nbf == nil {
			return idTokenErr(CheckNotBefore, "nbf is not a number")
		}
		if nbf.After(now.Add(IDTokenClockSkew)) {
			return idTokenErr(CheckNotBefore, "not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// jwtHeader is the part of a JWT header the checks read.
type jwtHeader struct{ Alg, Kid string }

// parseJWTHeader decodes the header of a compact JWS without verifying
// anything else: three dot-separated segments, the first base64url (no
// padding) JSON object. alg and kid are read by their exact names; a
// member of another type counts as absent.
func parseJWTHeader(raw string) (jwtHeader, error) {
	var h jwtHeader
	seg, _, ok := strings.Cut(raw, ".")
	if !ok || strings.Count(raw, ".") != 2 {
		return h, errors.New("not three dot-separated segments")
	}
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return h, errors.New("the header is not base64url")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return h, errors.New("the header is not a JSON object")
	}
	h.Alg, _ = m["alg"].(string)
	h.Kid, _ = m["kid"].(string)
	return h, nil
}
