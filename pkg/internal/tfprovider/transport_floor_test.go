package tfprovider

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// A Retry-After is a floor: the transport waits at least that long, through
// the unscaled sleeper, however small the provider's own back-off is scaled.
func TestRetryAfterIsAFloor(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		initial    time.Duration
		wantFloor  []time.Duration // waits asked of floorSleep
		wantScaled []time.Duration // waits asked of sleep
	}{
		{"server wait longer than back-off", "3", 500 * time.Millisecond, []time.Duration{3 * time.Second}, nil},
		{"server wait beyond the old 4x cap", "70", 500 * time.Millisecond, []time.Duration{70 * time.Second}, nil},
		{"back-off longer than server wait", "1", 2 * time.Second, []time.Duration{2 * time.Second}, nil},
		{"no Retry-After: own back-off, scaled", "", 500 * time.Millisecond, nil, []time.Duration{500 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls == 1 {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
				io.WriteString(w, "{}")
			}))
			defer srv.Close()
			var mu sync.Mutex
			var floor, scaled []time.Duration
			record := func(into *[]time.Duration) sleeper {
				return func(ctx context.Context, d time.Duration) error {
					mu.Lock()
					*into = append(*into, d)
					mu.Unlock()
					return nil
				}
			}
			rt := &retryTransport{
				base:       http.DefaultTransport,
				policy:     retryPolicy{MaxAttempts: 3, Initial: tc.initial, Max: 16 * time.Second, MaxWait: 90 * time.Second},
				sleep:      record(&scaled),
				floorSleep: record(&floor),
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || calls != 2 {
				t.Fatalf("status %d after %d calls, want 200 after 2", resp.StatusCode, calls)
			}
			if !slices.Equal(floor, tc.wantFloor) || !slices.Equal(scaled, tc.wantScaled) {
				t.Fatalf("floor waits %v, scaled waits %v; want %v and %v", floor, scaled, tc.wantFloor, tc.wantScaled)
			}
		})
	}
}

// A Retry-After past the request's MaxWait hands the 429 back rather than
// retrying early.
func TestRetryAfterPastMaxWaitGivesUp(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	never := func(context.Context, time.Duration) error { t.Fatal("slept"); return nil }
	rt := &retryTransport{base: http.DefaultTransport, sleep: never, floorSleep: never,
		policy: retryPolicy{MaxAttempts: 5, Initial: time.Second, Max: 16 * time.Second, MaxWait: 90 * time.Second}}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || calls != 1 {
		t.Fatalf("status %d after %d calls, want the 429 after 1", resp.StatusCode, calls)
	}
}

// The provider as Terraform runs it (newProvider, then configured as
// ConfigureProvider does) keeps the floor unscaled too: with every wait
// scaled to a thousandth, a 429 with Retry-After 1 is still retried no
// sooner than a second later.
func TestServedProviderKeepsRetryAfterFloor(t *testing.T) {
	t.Setenv(SleepScaleEnv, "0.001")
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		times = append(times, time.Now())
		if len(times) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	p, err := newProvider(configOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConfig(context.Background(), map[string]any{"project": "p", "access_token": "test-token"}, p.opts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(times) != 2 {
		t.Fatalf("status %d after %d calls, want 200 after 2", resp.StatusCode, len(times))
	}
	if gap := times[1].Sub(times[0]); gap < time.Second {
		t.Errorf("retried %s after a 429 with Retry-After 1", gap)
	}
}
