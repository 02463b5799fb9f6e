package invoke

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
)

// hungService accepts connections and never answers: the service behind a
// load balancer that has lost its backend.
type hungService struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
}

func newHungService(t *testing.T) *hungService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hungService{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.accepted.Add(1)
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			c.Close()
		}
	})
	return h
}

func (h *hungService) target(name string) Target {
	return Target{Name: name, Kind: "service", URL: "http://" + h.ln.Addr().String()}
}

// within runs f and fails the test when it has not returned after limit (a
// generous bound: before timeouts existed, these calls never returned).
func within[T any](t *testing.T, limit time.Duration, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit):
		t.Fatalf("still running after %s: a service that never answers held the check", limit)
		panic("unreachable")
	}
}

func TestHungServiceTimesOut(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		// attempts is the number of calls made before giving up.
		attempts int
	}{
		{
			// Each attempt ends at RequestTimeout and counts as transient;
			// after TransientTries the check is an error, not a refusal.
			name:     "per-request timeout, then transient tries",
			opts:     Options{MaxWait: time.Hour, RequestTimeout: 100 * time.Millisecond, TransientTries: 3},
			attempts: 3,
		},
		{
			// The default request timeout (30 s) is longer than MaxWait:
			// the request in flight ends with the wait.
			name:     "max-wait bounds the request in flight",
			opts:     Options{MaxWait: 400 * time.Millisecond},
			attempts: 1,
		},
		{
			name:     "single attempt",
			opts:     Options{MaxWait: NoWait, RequestTimeout: 100 * time.Millisecond},
			attempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHungService(t)
			clk := newClock()
			o := tt.opts
			// Waits between attempts are on the fake clock; the attempts
			// themselves run in real time, so MaxWait is counted on the
			// real clock when the test wants it to bound an attempt.
			if o.MaxWait == time.Hour || o.MaxWait == NoWait {
				o.Now, o.Sleep = clk.Now, clk.Sleep
			}
			src := &source{t: t, email: "sa@p.iam.gserviceaccount.com", clk: clk}
			tg := h.target("service/us-central1/hung")
			r := within(t, 20*time.Second, func() Result {
				return New(o).Invoke(context.Background(), tg, Caller{Name: "sa", Source: src}, Request{})
			})
			if r.Outcome != Error || !errors.Is(r.Err, ErrTimeout) || r.Attempts != tt.attempts {
				t.Fatalf("result = %+v", r)
			}
			if got := Summarize([]Result{r}); got != VerdictError {
				t.Fatalf("Summarize = %v, want error (exit 1, not 4)", got)
			}
			if n := int(h.accepted.Load()); n != tt.attempts {
				t.Fatalf("%d connections for %d attempts", n, tt.attempts)
			}
		})
	}
}

// A service that sends its headers and then never finishes the body is cut
// off too.
func TestStalledBodyTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	svc := newService(t, func(string, *http.Request) (int, string) { return 200, "" })
	svc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release
	})
	clk := newClock()
	src := &source{t: t, email: "sa@p.iam.gserviceaccount.com", clk: clk}
	iv := New(Options{Now: clk.Now, Sleep: clk.Sleep, MaxWait: NoWait, RequestTimeout: 100 * time.Millisecond})
	r := within(t, 20*time.Second, func() Result {
		return iv.Invoke(context.Background(), svc.target(), Caller{Name: "sa", Source: src}, Request{})
	})
	if r.Outcome != Error || !errors.Is(r.Err, ErrTimeout) {
		t.Fatalf("result = %+v", r)
	}
}

// A token source that never answers is bounded by the same timeout.
type hungSource struct{ calls atomic.Int32 }

func (h *hungSource) Token(ctx context.Context, _ string) (idtoken.Token, error) {
	h.calls.Add(1)
	<-ctx.Done()
	return idtoken.Token{}, ctx.Err()
}

func (h *hungSource) Describe() string { return "a token source that never answers" }

func TestHungTokenSourceTimesOut(t *testing.T) {
	svc := newService(t, func(string, *http.Request) (int, string) { return 200, "" })
	src := &hungSource{}
	iv := New(Options{MaxWait: NoWait, RequestTimeout: 100 * time.Millisecond})
	r := within(t, 20*time.Second, func() Result {
		return iv.Invoke(context.Background(), svc.target(), Caller{Name: "sa", Source: src}, Request{})
	})
	if r.Outcome != Error || !errors.Is(r.Err, ErrTimeout) || r.Attempts != 0 || src.calls.Load() != 1 || svc.requests.Load() != 0 {
		t.Fatalf("result = %+v, %d token requests, %d calls", r, src.calls.Load(), svc.requests.Load())
	}
}

// An interrupted run returns what it finished, and marks the rest.
func TestInterruptedRunKeepsFinishedResults(t *testing.T) {
	h := newHungService(t)
	fast := newService(t, func(string, *http.Request) (int, string) { return 200, "" })
	clk := newClock()
	src := &source{t: t, email: "sa@p.iam.gserviceaccount.com", clk: clk}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hung := h.target("service/us-central1/hung")
	quick := fast.target()
	iv := New(Options{Parallelism: 2, MaxWait: time.Hour, OnResult: func(r Result) {
		if r.Target == quick.Name && r.Outcome == Pass {
			cancel() // SIGINT once the quick service has answered
		}
	}})
	cases := []Case{
		{Target: hung, Callers: []Caller{{Name: "sa", Source: src}}, ProbeUnauthenticated: true},
		{Target: quick, Callers: []Caller{{Name: "sa", Source: src}}},
	}
	rs := within(t, 20*time.Second, func() []Result { return iv.RunAll(ctx, cases) })
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3: %+v", len(rs), rs)
	}
	for i, want := range []Outcome{Interrupted, Interrupted, Pass} {
		if rs[i].Outcome != want {
			t.Errorf("result %d (%s %s) = %s, want %s: %v", i, rs[i].Target, rs[i].Check, rs[i].Outcome, want, rs[i].Err)
		}
	}
	if !errors.Is(rs[0].Err, ErrInterrupted) || !errors.Is(rs[0].Err, context.Canceled) || rs[0].Attempts != 1 {
		t.Errorf("the call in flight: %+v", rs[0])
	}
	if rs[1].Attempts != 0 {
		t.Errorf("the probe after the interruption made %d attempts", rs[1].Attempts)
	}
	if got := Summarize(rs); got != VerdictInterrupted {
		t.Errorf("Summarize = %v, want interrupted", got)
	}
}
