package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

// DefaultAttemptTimeout bounds one attempt of a Google API call (until the
// response headers arrive) when RetryPolicy.AttemptTimeout is zero.
const DefaultAttemptTimeout = time.Minute

// RetryPolicy bounds retries of transient failures (429, 500, 502, 503, 504,
// network errors and attempts that time out): exponential backoff with full
// jitter, honouring Retry-After.
type RetryPolicy struct {
	MaxAttempts int           // including the first; default 6
	Initial     time.Duration // first backoff; default 500ms
	Max         time.Duration // cap of one backoff; default 30s
	// AttemptTimeout bounds each attempt until its response headers
	// arrive; an attempt that times out is retried like a network error.
	// Default DefaultAttemptTimeout; negative means none.
	AttemptTimeout time.Duration
	// Sleep waits d or until ctx is done; tests replace it. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, when set, is told about each retry (for progress output).
	OnRetry func(req *http.Request, status int, wait time.Duration)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 6
	}
	if p.Initial <= 0 {
		p.Initial = 500 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.AttemptTimeout == 0 {
		p.AttemptTimeout = DefaultAttemptTimeout
	}
	if p.Sleep == nil {
		p.Sleep = clock.Sleep
	}
	return p
}

// Backoff returns the wait before retry number attempt (1-based): a random
// duration in [0, min(Max, Initial*2^(attempt-1))], or Retry-After when the
// server named one (capped at Max).
func (p RetryPolicy) Backoff(attempt int, retryAfter string) time.Duration {
	p = p.withDefaults()
	if retryAfter != "" {
		if secs, err := strconv.Atoi(retryAfter); err == nil && secs >= 0 {
			return min(time.Duration(secs)*time.Second, p.Max)
		}
		if t, err := http.ParseTime(retryAfter); err == nil {
			return min(max(time.Until(t), 0), p.Max)
		}
	}
	ceil := ExpBackoff(p.Initial, p.Max, attempt)
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// ExpBackoff is the capped exponential ceiling of the n-th (1-based)
// backoff: initial·2^(n-1), at most limit. Callers add their own jitter.
func ExpBackoff(initial, limit time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Retryable reports whether an HTTP status is worth retrying.
func Retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// RetryTransport retries transient failures under Policy. Requests with a
// body are replayed through GetBody (set by http.NewRequest for in-memory
// bodies); without it they are not retried.
type RetryTransport struct {
	Base   http.RoundTripper
	Policy RetryPolicy
}

// RoundTrip implements http.RoundTripper.
func (t *RetryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.Policy.withDefaults()
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.Body != nil {
			if req.GetBody == nil {
				return nil, fmt.Errorf("cannot retry %s %s: body is not replayable", req.Method, req.URL.Redacted())
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := roundTripWithin(base, r, p.AttemptTimeout)
		status := 0
		if err == nil {
			status = resp.StatusCode
			if !Retryable(status) {
				return resp, nil
			}
		} else if req.Context().Err() != nil {
			return nil, err
		}
		if attempt >= p.MaxAttempts {
			return resp, err
		}
		retryAfter := ""
		if resp != nil {
			retryAfter = resp.Header.Get("Retry-After")
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		wait := p.Backoff(attempt, retryAfter)
		if p.OnRetry != nil {
			p.OnRetry(req, status, wait)
		}
		if serr := p.Sleep(req.Context(), wait); serr != nil {
			return nil, serr
		}
	}
}

// WithRetry returns a copy of c whose requests go through the retry policy
// p: for clients built elsewhere (an impersonation client whose Google host
// a library fixes) that must retry like every other Google API call. A nil
// c stands for http.DefaultClient.
func WithRetry(c *http.Client, p RetryPolicy) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	out := *c
	out.Transport = &RetryTransport{Base: c.Transport, Policy: p}
	return &out
}

// ErrAttemptTimeout: an attempt got no response headers within the
// policy's AttemptTimeout.
var ErrAttemptTimeout = errors.New("no response within the attempt timeout")

// roundTripWithin makes one attempt bounded by limit (none when limit < 0);
// the body of a response stays readable until it is closed.
func roundTripWithin(base http.RoundTripper, req *http.Request, limit time.Duration) (*http.Response, error) {
	if limit < 0 {
		return base.RoundTrip(req)
	}
	cause := fmt.Errorf("%w (%s) from %s %s", ErrAttemptTimeout, limit, req.Method, req.URL.Redacted())
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(limit, func() { cancel(cause) })
	resp, err := base.RoundTrip(req.WithContext(ctx))
	stopped := timer.Stop()
	if err != nil {
		cancel(nil)
		if !stopped && req.Context().Err() == nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// cancelOnClose releases an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
