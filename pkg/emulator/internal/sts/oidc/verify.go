package oidc

import (
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Skew is the clock skew tolerated on iat and exp.
const Skew = 5 * time.Minute

// Rejection is why a subject token was refused; Error is the description
// STS answers with (it never holds the token).
type Rejection struct{ Reason string }

func (r *Rejection) Error() string { return r.Reason }

func reject(format string, args ...any) error {
	return &Rejection{Reason: fmt.Sprintf(format, args...)}
}

// Provider is what a token is checked against.
type Provider struct {
	IssuerURI        string
	AllowedAudiences []string
	Keys             KeySet
}

// Verify checks token's RS256 signature (the key named by kid, or any key
// of the set when there is no kid), issuer, audience (one of
// AllowedAudiences), exp (not passed, with Skew) and iat (not in the
// future, with Skew), and returns its claims. Every refusal is a
// *Rejection.
func (p Provider) Verify(token string, now time.Time) (jwt.MapClaims, error) {
	unverified, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		return nil, reject("The ID Token could not be parsed as a JWT.")
	}
	if unverified.Method.Alg() != "RS256" {
		return nil, reject("The ID Token is signed with %s; RS256 is required.", unverified.Method.Alg())
	}
	var candidates []any
	if kid, _ := unverified.Header["kid"].(string); kid != "" {
		if k := p.Keys[kid]; k != nil {
			candidates = append(candidates, k)
		}
	} else {
		for _, k := range p.Keys {
			candidates = append(candidates, k)
		}
	}
	var claims jwt.MapClaims
	for _, k := range candidates {
		c := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(token, c, func(*jwt.Token) (any, error) { return k, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation()); err == nil {
			claims = c
			break
		}
	}
	if claims == nil {
		return nil, reject("Invalid JWT signature: the ID Token is not signed by a key of the provider's JSON Web Key Set.")
	}
	if iss, _ := claims["iss"].(string); iss != p.IssuerURI {
		return nil, reject("The issuer in ID Token %s does not match the expected ones: %s.", iss, p.IssuerURI)
	}
	aud, err := claims.GetAudience()
	if err != nil || !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(p.AllowedAudiences, a) }) {
		return nil, reject("The audience in ID Token %v does not match the expected audience.", []string(aud))
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, reject("The ID Token has no exp claim.")
	}
	if !now.Before(exp.Add(Skew)) {
		return nil, reject("ID Token expired at %d.", exp.Unix())
	}
	iat, err := claims.GetIssuedAt()
	if err != nil || iat == nil {
		return nil, reject("The ID Token has no iat claim.")
	}
	if iat.After(now.Add(Skew)) {
		return nil, reject("ID Token issued at %d is in the future.", iat.Unix())
	}
	return claims, nil
}
