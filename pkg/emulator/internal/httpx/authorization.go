package httpx

// The one parser of Authorization-style headers (Authorization and Cloud
// Run's X-Serverless-Authorization) every part of the emulator uses: the
// management APIs, the admin paths and the Cloud Run data plane.
//
// RFC 7235 §2.1: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
// and the scheme is case-insensitive, so "Bearer", "bearer" and "BEARER"
// are one scheme. RFC 6750 §2.1 gives the Bearer credentials as one
// token68. A bare token with no scheme is refused (ErrNotBearer): Google's
// front ends require the "Bearer" scheme, and the emulator's admin paths
// follow the same rule rather than a looser one of their own.

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of ParseBearer. Callers branch on them: no credentials (or
// credentials of another scheme) are "no token", malformed Bearer
// credentials are an invalid token.
var (
	// ErrNoCredentials: the header is absent or blank.
	ErrNoCredentials = errors.New("no credentials")
	// ErrNotBearer: the credentials use another scheme, or are a bare
	// token without a scheme.
	ErrNotBearer = errors.New("credentials are not of the Bearer scheme")
	// ErrMalformedBearer: the scheme is Bearer but what follows is not one
	// token68 (missing, several words, or characters outside token68).
	ErrMalformedBearer = errors.New("malformed Bearer credentials")
)

// ParseBearer returns the token of a header value "Bearer <token68>" (scheme
// in any case, one or more spaces before the token, surrounding spaces and
// tabs ignored). The error wraps ErrNoCredentials, ErrNotBearer or
// ErrMalformedBearer; it never contains the token.
func ParseBearer(value string) (string, error) {
	v := strings.Trim(value, " \t")
	if v == "" {
		return "", ErrNoCredentials
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", ErrNotBearer
	}
	tok := strings.TrimLeft(rest, " ")
	if tok == "" {
		return "", fmt.Errorf("%w: no token after the scheme", ErrMalformedBearer)
	}
	if !IsToken68(tok) {
		return "", fmt.Errorf("%w: the token is not one token68 (RFC 7235)", ErrMalformedBearer)
	}
	return tok, nil
}

// IsToken68 reports whether s is an RFC 7235 token68, the only form of
// Bearer credentials ParseBearer accepts:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func IsToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
