package audit

import (
	"net/http"

	"golang.org/x/time/rate"
)

// DefaultRate is the client-side request rate of an audit (requests per
// second, 900 a minute): a conservative default meant to stay below the
// Admin APIs' default per-minute read quotas; raise it (the command's
// --rate) where a project's quotas allow.
const DefaultRate = 15

// NewLimiter is the audit's client-side limit of rps requests per second,
// spread evenly: a burst of one, so no second ever sees more than rps
// requests (a burst of a whole second's worth at the start would meet a
// per-second quota with as many 429s as answers).
func NewLimiter(rps float64) *rate.Limiter { return rate.NewLimiter(rate.Limit(rps), 1) }

// RateLimited returns a transport that waits for l before each request
// (retries included, when it sits below the retry transport). A nil base
// means http.DefaultTransport.
func RateLimited(base http.RoundTripper, l *rate.Limiter) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if err := l.Wait(req.Context()); err != nil {
			return nil, err
		}
		return base.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
