package idtoken

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// Static hands over one token obtained elsewhere: read once from a file or
// an environment variable (what CI systems such as GitHub's auth action
// produce). Its claims are read (not verified) at construction so that a
// wrong audience or an expired token is reported before any call.
type Static struct {
	tok    Token
	origin string
	now    func() time.Time
}

// NewTokenFile reads a token from path, once. Surrounding whitespace is
// ignored. The file must hold a JWT.
func NewTokenFile(path string) (*Static, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading ID token file: %w", err)
	}
	return NewStatic(string(b), "token file "+path)
}

// NewTokenEnv reads a token from the environment variable name, once.
func NewTokenEnv(name string) (*Static, error) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("environment variable %s is not set or empty; it should hold an ID token", name)
	}
	return NewStatic(v, "environment variable "+name)
}

// NewStatic wraps the token raw; origin describes where it came from.
func NewStatic(raw, origin string) (*Static, error) {
	t, err := ParseToken(raw)
	if err != nil {
		return nil, fmt.Errorf("the value of %s: %w", origin, err)
	}
	if len(t.Audiences) == 0 {
		return nil, fmt.Errorf("the token from %s has no aud claim; it is not an ID token", origin)
	}
	t.Source = origin
	return &Static{tok: t, origin: origin, now: time.Now}, nil
}

// WithClock returns a copy of s that reads the time from now.
func (s *Static) WithClock(now func() time.Time) *Static {
	c := *s
	c.now = now
	return &c
}

// Describe names where the token came from.
func (s *Static) Describe() string { return s.origin }

// Audiences is the token's aud claim (Static is AudienceBound).
func (s *Static) Audiences() []string { return append([]string(nil), s.tok.Audiences...) }

// Expiry is the token's exp claim.
func (s *Static) Expiry() time.Time { return s.tok.Expiry }

// Token returns the token if its aud claim includes audience and it has not
// expired; otherwise an *AudienceMismatchError or *ExpiredTokenError.
func (s *Static) Token(ctx context.Context, audience string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	found := false
	for _, a := range s.tok.Audiences {
		if a == audience {
			found = true
		}
	}
	if !found {
		return Token{}, &AudienceMismatchError{Source: s.origin, TokenAudiences: s.Audiences(), Allowed: []string{audience}}
	}
	if now := s.now(); !s.tok.Expiry.IsZero() && !now.Before(s.tok.Expiry) {
		return Token{}, &ExpiredTokenError{Source: s.origin, Expiry: s.tok.Expiry, Now: now}
	}
	return s.tok, nil
}
