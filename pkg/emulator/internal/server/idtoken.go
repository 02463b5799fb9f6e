package server

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// googleIssuer is the iss of every ID token the emulator mints; both
// spellings are accepted when verifying (contract §13.1).
const googleIssuer = "https://accounts.google.com"

// idTokenLifetime is exp-iat of minted ID tokens (contract §12.2).
const idTokenLifetime = time.Hour

// idTokenSkew is the clock skew tolerated when verifying ID tokens.
const idTokenSkew = 30 * time.Second

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
	e.mgmt.signers = map[string]*rsa.PrivateKey{}
	for _, k := range e.st.SigningKeys {
		priv, err := parsePrivateKeyPEM(k.PrivateKeyPEM)
		if err != nil {
			return fmt.Errorf("emulator state: signing key %q: %w", k.KID, err)
		}
		e.mgmt.signers[k.KID] = priv
		e.mgmt.signKID = k.KID
	}
	if len(e.st.SigningKeys) > 0 {
		return nil
	}
	kid := randomHex(20)
	kp, err := newKeyPair(2048, "emulator-google-signing-"+kid, e.opts.Now(), time.Time{})
	if err != nil {
		return fmt.Errorf("emulator: creating ID-token signing key: %w", err)
	}
	e.st.SigningKeys = append(e.st.SigningKeys, &model.SigningKey{KID: kid, PrivateKeyPEM: kp.privatePEM, CertPEM: kp.certPEM})
	e.mgmt.signers[kid] = kp.priv
	e.mgmt.signKID = kid
	return nil
}

// mintIDToken returns a Google-signed ID token for sa (claims as contract
// §12.2: iss https://accounts.google.com, aud, azp and sub = uniqueId, iat,
// exp = iat+1h; email and email_verified when includeEmail). extra claims
// are added (they never replace the standard ones). It reads only sa and
// the read-only signing keys, so it may be called with or without e.mu held
// (sa must not be mutated concurrently).
func (e *Server) mintIDToken(sa *model.ServiceAccount, audience string, includeEmail bool, extra map[string]any) (string, error) {
	if audience == "" {
		return "", errors.New("empty audience")
	}
	now := e.opts.Now().UTC().Truncate(time.Second)
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
	tok.Header["kid"] = e.mgmt.signKID
	return tok.SignedString(e.mgmt.signers[e.mgmt.signKID])
}

// verifyIDToken checks an ID token's signature (the emulator's Google
// signing keys, RS256, by kid), issuer (accounts.google.com with or without
// https://) and expiry (30 s skew), and returns its claims. The audience is
// NOT checked here: the caller compares it with what it accepts. It uses
// only read-only data, so it may be called with or without e.mu held.
func (e *Server) verifyIDToken(raw string) (*idClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k := e.mgmt.signers[kid]; k != nil {
			return &k.PublicKey, nil
		}
		return nil, fmt.Errorf("token signed by an unknown key (kid %q)", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return nil, fmt.Errorf("invalid ID token: %w", err)
	}
	c := &idClaims{}
	c.Issuer, _ = claims["iss"].(string)
	if c.Issuer != googleIssuer && c.Issuer != "accounts.google.com" {
		return nil, fmt.Errorf("invalid ID token: issuer %q is not Google", c.Issuer)
	}
	aud, err := claims.GetAudience()
	if err != nil || len(aud) == 0 {
		return nil, errors.New("invalid ID token: no audience")
	}
	c.Audience = aud[0]
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, errors.New("invalid ID token: no expiry")
	}
	c.Expiry = exp.Time
	now := e.opts.Now()
	if !now.Before(c.Expiry.Add(idTokenSkew)) {
		return nil, fmt.Errorf("invalid ID token: expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		c.IssuedAt = iat.Time
		if c.IssuedAt.After(now.Add(idTokenSkew)) {
			return nil, errors.New("invalid ID token: issued in the future")
		}
	}
	c.Subject, _ = claims["sub"].(string)
	c.AuthorizedParty, _ = claims["azp"].(string)
	c.Email, _ = claims["email"].(string)
	c.EmailVerified, _ = claims["email_verified"].(bool)
	return c, nil
}
