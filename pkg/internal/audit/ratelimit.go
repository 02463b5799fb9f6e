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
