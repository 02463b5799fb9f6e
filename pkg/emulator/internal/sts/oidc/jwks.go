// Package oidc verifies the OIDC ID tokens external identity providers
// issue (GitHub Actions, GitLab CI, ...) the way Google STS does for a
// workload identity pool's OIDC provider: RS256 signature against the
// provider's JSON Web Key Set, issuer, audience, exp and iat.
package oidc

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// KeySet is a parsed JWKS: RSA public keys by kid.
type KeySet map[string]*rsa.PublicKey

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// ParseJWKS parses a JSON Web Key Set ({"keys": [...]}, the form of
// oidc.jwksJson) keeping its RSA signing keys; a set with none is an error.
func ParseJWKS(s string) (KeySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return nil, fmt.Errorf("jwksJson is not a JSON Web Key Set: %w", err)
	}
	ks := KeySet{}
	for i, k := range doc.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("jwksJson: keys[%d]: n and e must be base64url big-endian integers of a 2048-bit or larger RSA key", i)
		}
		ks[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(ks) == 0 {
		return nil, errors.New("jwksJson holds no RSA signing key (kty RSA, alg RS256)")
	}
	return ks, nil
}

// JWKS renders public keys by kid as a JSON Web Key Set, for tests and
// seeds that make their own issuer.
func JWKS(keys map[string]*rsa.PublicKey) string {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	for kid, k := range keys {
		doc.Keys = append(doc.Keys, jwk{Kty: "RSA", Kid: kid, Alg: "RS256", Use: "sig",
			N: base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
	}
	b, _ := json.Marshal(doc)
	return string(b)
}
