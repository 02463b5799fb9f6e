package core

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

// VerifyIDToken checks an ID token's signature (the emulator's Google
// signing keys, RS256, by kid), issuer (accounts.google.com with or without
// https://) and expiry (30 s skew), and returns its claims. The audience is
// NOT checked here: the caller compares it with what it accepts. It uses
// only read-only data, so it may be called with or without e.mu held.
func (e *Server) VerifyIDToken(raw string) (*idClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k := e.Mgmt.Signers[kid]; k != nil {
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
	now := e.Opts.Now()
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
