package gcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryTransport(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int // answers in order; the last repeats
		retryAfter string
		wantCalls  int
		wantStatus int
		wantSleeps []time.Duration // checked when non-nil
	}{
		{"success first", []int{200}, "", 1, 200, nil},
		{"503 then ok", []int{503, 503, 200}, "", 3, 200, nil},
		{"429 honours Retry-After", []int{429, 200}, "2", 2, 200, []time.Duration{2 * time.Second}},
		{"403 not retried", []int{403}, "", 1, 403, nil},
		{"gives up", []int{500}, "", 4, 500, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				body, _ := io.ReadAll(r.Body)
				if string(body) != "payload" {
					t.Errorf("attempt %d: body %q, want replayed payload", n, body)
				}
				st := tt.statuses[min(n, len(tt.statuses))-1]
				if tt.retryAfter != "" && st == 429 {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(st)
			}))
			defer srv.Close()
			var sleeps []time.Duration
			rt := &RetryTransport{Policy: RetryPolicy{MaxAttempts: 4, Sleep: func(_ context.Context, d time.Duration) error {
				sleeps = append(sleeps, d)
				return nil
			}}}
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewBufferString("payload"))
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || int(calls.Load()) != tt.wantCalls {
				t.Fatalf("status %d after %d calls, want %d after %d", resp.StatusCode, calls.Load(), tt.wantStatus, tt.wantCalls)
			}
			if len(sleeps) != tt.wantCalls-1 {
				t.Fatalf("%d sleeps, want %d", len(sleeps), tt.wantCalls-1)
			}
			if tt.wantSleeps != nil {
				for i, d := range tt.wantSleeps {
					if sleeps[i] != d {
						t.Errorf("sleep %d = %v, want %v", i, sleeps[i], d)
					}
				}
			}
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	p := RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second}
	for attempt := 1; attempt <= 10; attempt++ {
		ceil := min(100*time.Millisecond<<(attempt-1), time.Second)
		for i := 0; i < 50; i++ {
			if d := p.Backoff(attempt, ""); d < 0 || d > ceil {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", attempt, d, ceil)
			}
		}
	}
	if d := p.Backoff(1, "120"); d != time.Second {
		t.Errorf("Retry-After beyond Max should be capped: %v", d)
	}
}

func TestRetryStopsOnContextCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	rt := &RetryTransport{Policy: RetryPolicy{MaxAttempts: 100, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("want context error")
	}
}

func TestExpBackoff(t *testing.T) {
	s := time.Second
	for _, tt := range []struct {
		initial, limit time.Duration
		n              int
		want           time.Duration
	}{
		{s, 30 * s, 1, s},
		{s, 30 * s, 2, 2 * s},
		{s, 30 * s, 5, 16 * s},
		{s, 30 * s, 6, 30 * s},
		{s, 30 * s, 200, 30 * s}, // no overflow far past the cap
		{2 * s, s, 1, s},         // the cap wins even on the first
	} {
		if got := ExpBackoff(tt.initial, tt.limit, tt.n); got != tt.want {
			t.Errorf("ExpBackoff(%v, %v, %d) = %v, want %v", tt.initial, tt.limit, tt.n, got, tt.want)
		}
	}
}

// An API that accepts the connection and never answers: each attempt ends
// at AttemptTimeout and is retried; the last one's timeout is the error.
func TestRetryTransportAttemptTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	var retries int
	rt := &RetryTransport{Policy: RetryPolicy{MaxAttempts: 3, AttemptTimeout: 50 * time.Millisecond,
		Sleep:   func(context.Context, time.Duration) error { return nil },
		OnRetry: func(*http.Request, int, time.Duration) { retries++ }}}
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/v2/x", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrAttemptTimeout) {
			t.Fatalf("err = %v, want ErrAttemptTimeout", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still waiting for an API that never answers")
	}
	if n := accepted.Load(); n != 3 || retries != 2 {
		t.Fatalf("%d connections and %d retries, want 3 and 2", n, retries)
	}
}

// A response that arrives in time stays readable after RoundTrip returns:
// the attempt's context ends only when the body is closed.
func TestRetryTransportBodyOutlivesAttempt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(100 * time.Millisecond)
		io.WriteString(w, "late body")
	}))
	defer srv.Close()
	rt := &RetryTransport{Policy: RetryPolicy{AttemptTimeout: 10 * time.Second}}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "late body" {
		t.Fatalf("body %q, %v", b, err)
	}
}
