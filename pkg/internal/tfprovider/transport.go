package tfprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

// SleepScaleEnv names the environment variable that scales every
// provider-side wait (polls, IAM propagation checks, conflict and retry
// back-off). "0" removes the waits; tests running the provider as a plugin
// process set it. Unset means real time.
const SleepScaleEnv = "INVOKERCTL_TFPROVIDER_SLEEP_SCALE"

// sleeper waits for d or until ctx is done. The provider holds one so tests
// can record the waits instead of spending them.
type sleeper func(ctx context.Context, d time.Duration) error

// realSleep waits for d scaled by SleepScaleEnv.
func realSleep(ctx context.Context, d time.Duration) error {
	if s := os.Getenv(SleepScaleEnv); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
			d = time.Duration(float64(d) * f)
		}
	}
	return clock.Sleep(ctx, d)
}

// retryPolicy bounds the HTTP-level retries of transient failures.
type retryPolicy struct {
	// MaxAttempts is the number of tries per request, including the first.
	MaxAttempts int
	// Initial is the first back-off; it doubles up to Max.
	Initial, Max time.Duration
	// MaxWait bounds the total time slept for one request.
	MaxWait time.Duration
}

var defaultRetryPolicy = retryPolicy{MaxAttempts: 10, Initial: 500 * time.Millisecond, Max: 16 * time.Second, MaxWait: 90 * time.Second}

// isRetryableStatus reports the statuses the real provider retries at the
// HTTP level: 429 and 500/502/503. 409 with "operationInProgress" in the
// body is retried too, as SendRequest does.
func isRetryableStatus(code int, body []byte) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable:
		return true
	case http.StatusConflict:
		return bytes.Contains(body, []byte("operationInProgress"))
	}
	return false
}

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// retryTransport retries transient HTTP failures with bounded exponential
// back-off, honouring Retry-After. Other statuses pass through untouched.
//
// A Retry-After is the server's floor, never shortened: its wait goes through
// floorSleep, which SleepScaleEnv does not scale (sleep, the provider's own
// back-off, is scaled). When floorSleep is nil, sleep serves both.
type retryTransport struct {
	base       http.RoundTripper
	policy     retryPolicy
	sleep      sleeper
	floorSleep sleeper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	backoff := t.policy.Initial
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		log.Printf("[DEBUG] %s %s -> %d", req.Method, redactURL(req), resp.StatusCode)
		if !isRetryableStatus(resp.StatusCode, peekBody(resp)) || attempt >= t.policy.MaxAttempts {
			return resp, nil
		}
		wait, sleep := backoff, t.sleep
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			// The server said when to come back: wait at least that long,
			// or give the response back if that is past MaxWait.
			wait = max(wait, d)
			if t.floorSleep != nil {
				sleep = t.floorSleep
			}
		}
		if waited+wait > t.policy.MaxWait {
			return resp, nil
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		waited += wait
		if backoff *= 2; backoff > t.policy.Max {
			backoff = t.policy.Max
		}
	}
}

// peekBody reads the body of a response and puts it back.
func peekBody(resp *http.Response) []byte {
	if resp.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// redactURL is the request URL without its query string (which never
// carries secrets here, but keeps logs short).
func redactURL(r *http.Request) string {
	u := *r.URL
	u.RawQuery = ""
	u.User = nil
	return u.String()
}

// headerTransport adds authorization and the fixed headers to every request.
type headerTransport struct {
	base      http.RoundTripper
	tokens    oauth2.TokenSource
	userAgent string
	// userProject, when set, is sent as X-Goog-User-Project.
	userProject   string
	requestReason string
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if t.tokens != nil {
		tok, err := t.tokens.Token()
		if err != nil {
			return nil, fmt.Errorf("obtaining an access token: %w", err)
		}
		tok.SetAuthHeader(r)
	}
	if t.userAgent != "" {
		r.Header.Set("User-Agent", t.userAgent)
	}
	if r.Header.Get("Content-Type") == "" {
		// The provider sends a JSON content type even on bodiless GETs.
		r.Header.Set("Content-Type", "application/json")
	}
	if t.userProject != "" {
		r.Header.Set("X-Goog-User-Project", t.userProject)
	}
	if t.requestReason != "" {
		r.Header.Set("X-Goog-Request-Reason", t.requestReason)
	}
	return t.base.RoundTrip(r)
}

// sendRequest is the provider's raw JSON call, used for the products whose
// real implementation is generated REST code (Run v2, Cloud Functions v2):
// it adds alt=json, sends body as JSON, and returns the decoded object or a
// *googleapi.Error.
func sendRequest(ctx context.Context, c *http.Client, method, rawURL string, body any) (map[string]any, error) {
	sep := "?"
	if strings.Contains(rawURL, "?") {
		sep = "&"
	}
	u := rawURL + sep + "alt=json"
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := googleapi.CheckResponse(resp); err != nil {
		return nil, err
	}
	out := map[string]any{}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil && err != io.EOF {
		return nil, fmt.Errorf("decoding response from %s: %w", rawURL, err)
	}
	return out, nil
}

// isGoogleAPIErrorWithCode reports whether err wraps a googleapi.Error with
// the given HTTP status.
func isGoogleAPIErrorWithCode(err error, code int) bool {
	var gerr *googleapi.Error
	if !asGoogleAPIError(err, &gerr) {
		return false
	}
	return gerr.Code == code
}

func asGoogleAPIError(err error, target **googleapi.Error) bool {
	for err != nil {
		if g, ok := err.(*googleapi.Error); ok {
			*target = g
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// isConflictError matches the real provider: 409 or 412.
func isConflictError(err error) bool {
	return isGoogleAPIErrorWithCode(err, http.StatusConflict) || isGoogleAPIErrorWithCode(err, http.StatusPreconditionFailed)
}

// isNotFound reports a 404.
func isNotFound(err error) bool {
	return isGoogleAPIErrorWithCode(err, http.StatusNotFound)
}
