package idtoken

import (
	"context"
	"errors"
	"strings"
)

// ErrNoAudience reports a target with neither a URL nor a custom audience:
// there is nothing to mint a token for.
var ErrNoAudience = errors.New("the target has no URL and no custom audience to use as the token audience")

// Source mints (or hands over) Google-signed ID tokens.
type Source interface {
	// Token returns a token whose aud claim is audience. Errors never
	// contain token text.
	Token(ctx context.Context, audience string) (Token, error)
	// Describe says where tokens come from, for messages and reports
	// ("service-account key /path (sa@p.iam.gserviceaccount.com)"). It
	// never contains a secret.
	Describe() string
}

// AudienceBound is implemented by sources whose token has a fixed audience
// (an explicit token): the audience is read from the token, not chosen.
type AudienceBound interface {
	Audiences() []string
}

// Wrapper is implemented by sources that wrap another (Cache).
type Wrapper interface {
	Unwrap() Source
}

// Allowed is what a Cloud Run service accepts as a token's aud claim: its
// URLs (Run v2 `uri` and `urls`) and its custom audiences.
type Allowed struct {
	// URLs are compared ignoring one trailing slash ("https://x.run.app/"
	// is the audience Google's own samples use).
	URLs []string
	// Custom audiences are compared exactly.
	Custom []string
}

// Contains reports whether a token for aud would be accepted.
func (a Allowed) Contains(aud string) bool {
	if aud == "" {
		return false
	}
	for _, u := range a.URLs {
		if u != "" && strings.TrimSuffix(aud, "/") == strings.TrimSuffix(u, "/") {
			return true
		}
	}
	for _, c := range a.Custom {
		if aud == c {
			return true
		}
	}
	return false
}

// List returns every allowed audience, URLs first.
func (a Allowed) List() []string {
	out := make([]string, 0, len(a.URLs)+len(a.Custom))
	seen := map[string]bool{}
	for _, s := range append(append([]string{}, a.URLs...), a.Custom...) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Default is the audience used when none is asked for: the first URL, else
// the first custom audience.
func (a Allowed) Default() string {
	if l := a.List(); len(l) > 0 {
		return l[0]
	}
	return ""
}

// SelectAudience picks the audience to ask src for, before any token is
// minted or any call made:
//
//   - for a source with a fixed audience (an explicit token), the token's
//     audience if the target accepts it, else an *AudienceMismatchError
//     naming the token's audience and the accepted ones;
//   - otherwise want (or allowed.Default() when want is empty), if the
//     target accepts it, else an *AudienceMismatchError.
func SelectAudience(src Source, want string, allowed Allowed) (string, error) {
	if ab, ok := unwrap(src).(AudienceBound); ok {
		auds := ab.Audiences()
		if want != "" {
			for _, a := range auds {
				if a == want && allowed.Contains(a) {
					return a, nil
				}
			}
		}
		for _, a := range auds {
			if allowed.Contains(a) {
				return a, nil
			}
		}
		return "", &AudienceMismatchError{Source: src.Describe(), TokenAudiences: auds, Allowed: allowed.List()}
	}
	if want == "" {
		want = allowed.Default()
		if want == "" {
			return "", ErrNoAudience
		}
	}
	if !allowed.Contains(want) {
		return "", &AudienceMismatchError{Source: src.Describe(), Requested: want, Allowed: allowed.List()}
	}
	return want, nil
}

func unwrap(src Source) Source {
	for {
		w, ok := src.(Wrapper)
		if !ok {
			return src
		}
		src = w.Unwrap()
	}
}
