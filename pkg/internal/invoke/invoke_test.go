package invoke

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/clock"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
)

func newClock() *clock.Fake { return clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) }

func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(h) + "." + enc(p) + "." + enc([]byte("sig-"+strings.Repeat("z", 32)))
}

// source mints JWT-shaped tokens for email, valid for life on clk; it
// counts mints and can fail the first failN mints with failErr.
type source struct {
	t       testing.TB
	email   string
	clk     *clock.Fake
	life    time.Duration
	mints   atomic.Int32
	failN   int32
	failErr error
	minted  []string
	mu      sync.Mutex
}

func (s *source) Token(_ context.Context, aud string) (idtoken.Token, error) {
	n := s.mints.Add(1)
	if n <= s.failN {
		return idtoken.Token{}, s.failErr
	}
	life := s.life
	if life == 0 {
		life = time.Hour
	}
	raw := jwt(s.t, map[string]any{"aud": aud, "email": s.email, "sub": "1", "iss": "https://accounts.google.com",
		"iat": s.clk.Now().Unix(), "exp": s.clk.Now().Add(life).Unix(), "n": n})
	s.mu.Lock()
	s.minted = append(s.minted, raw)
	s.mu.Unlock()
	return idtoken.ParseToken(raw)
}

func (s *source) Describe() string { return "test source for " + s.email }

// service is a fake Cloud Run front end: it checks the token's audience
// (401 otherwise), then asks decide for the status.
type service struct {
	srv      *httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	last     *http.Request
	lastBody string
}

func newService(t *testing.T, decide func(caller string, r *http.Request) (int, string)) *service {
	s := &service{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.last, s.lastBody = r, string(b)
		s.mu.Unlock()
		caller := ""
		if h := r.Header.Get("Authorization"); h != "" {
			tok, err := idtoken.ParseToken(h)
			if err != nil || !(tok.Audience() == s.srv.URL || tok.Audience() == "custom-aud") {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token" error_description="The access token could not be verified"`)
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, "Your client does not have permission. Bearer "+strings.TrimPrefix(h, "Bearer "))
				return
			}
			caller = tok.Caller()
		}
		code, body := decide(caller, r)
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) target() Target {
	return Target{Name: "service/us-central1/api", Kind: "service", URL: s.srv.URL, CustomAudiences: []string{"custom-aud"}}
}

func newInvoker(clk *clock.Fake, progress *[]Progress) *Invoker {
	var mu sync.Mutex
	return New(Options{
		Now: clk.Now, Sleep: clk.Sleep, Jitter: func() float64 { return 0.5 },
		Progress: func(p Progress) {
			if progress != nil {
				mu.Lock()
				*progress = append(*progress, p)
				mu.Unlock()
			}
		},
	})
}

func TestInvokeWaitsForPropagation(t *testing.T) {
	clk := newClock()
	effective := clk.Now().Add(95 * time.Second)
	svc := newService(t, func(caller string, _ *http.Request) (int, string) {
		if caller == "sa@p.iam.gserviceaccount.com" && !clk.Now().Before(effective) {
			return 200, "hello"
		}
		return 403, "Your client does not have permission to get URL / from this server."
	})
	src := &source{t: t, email: "sa@p.iam.gserviceaccount.com", clk: clk}
	var progress []Progress
	iv := newInvoker(clk, &progress)

	r := iv.Invoke(context.Background(), svc.target(), Caller{Name: "serviceAccount:sa@p.iam.gserviceaccount.com", Source: src}, Request{})
	if r.Outcome != Pass || r.Err != nil {
		t.Fatalf("result = %+v", r)
	}
	if r.Attempts < 3 || int(svc.requests.Load()) != r.Attempts {
		t.Fatalf("attempts = %d, requests = %d", r.Attempts, svc.requests.Load())
	}
	if r.PropagationDelay < 95*time.Second || r.PropagationDelay > 95*time.Second+DefaultMaxBackoff {
		t.Fatalf("propagation delay = %s", r.PropagationDelay)
	}
	if r.Audience != svc.srv.URL || r.Got != 200 || r.Expected != "200" || !strings.Contains(r.Reason, "became effective") {
		t.Fatalf("result = %+v", r)
	}
	if len(progress) != r.Attempts-1 {
		t.Fatalf("%d progress reports for %d attempts", len(progress), r.Attempts)
	}
	for i, p := range progress {
		if !p.Propagation || p.Status != 403 || p.Attempt != i+1 || !strings.Contains(p.String(), "waiting for IAM propagation") {
			t.Fatalf("progress %d = %+v (%s)", i, p, p)
		}
	}
	// Backoff: exponential from InitialBackoff, equal jitter (0.5 → 3/4 of
	// the step), capped at MaxBackoff.
	want := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 12 * time.Second, 22500 * time.Millisecond}
	for i, d := range clk.Slept() {
		if i < len(want) && d != want[i] {
			t.Fatalf("sleep %d = %s, want %s (all: %v)", i, d, want[i], clk.Slept())
		}
		if d > DefaultMaxBackoff {
			t.Fatalf("sleep %s beyond the cap", d)
		}
	}
	if src.mints.Load() != 1 {
		t.Fatalf("a one-hour token was minted %d times", src.mints.Load())
	}
}

func TestInvokeOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		decide   func(caller string, r *http.Request) (int, string)
		target   func(Target) Target
		req      Request
		src      func(*source)
		outcome  Outcome
		attempts int
		check    func(t *testing.T, r Result)
	}{
		{
			name:    "first call succeeds",
			decide:  func(string, *http.Request) (int, string) { return 200, "ok" },
			outcome: Pass, attempts: 1,
			check: func(t *testing.T, r Result) {
				if r.PropagationDelay != 0 || r.Reason != "" {
					t.Fatalf("no propagation was observed: %+v", r)
				}
			},
		},
		{
			name: "401 fails at once",
			target: func(tg Target) Target {
				tg.URLs = []string{"https://svc-123.us-central1.run.app"}
				tg.Audience = "https://svc-123.us-central1.run.app"
				return tg
			},
			decide:  func(string, *http.Request) (int, string) { return 200, "" },
			outcome: Fail, attempts: 1,
			check: func(t *testing.T, r Result) {
				var ue *UnauthorizedError
				if !errors.As(r.Err, &ue) || ue.TokenAudience != "https://svc-123.us-central1.run.app" || !strings.Contains(r.Reason, "invalid_token") || !strings.Contains(r.Reason, "sa@p.iam.gserviceaccount.com") {
					t.Fatalf("err = %v", r.Err)
				}
			},
		},
		{
			name:    "propagation timeout",
			decide:  func(string, *http.Request) (int, string) { return 403, "denied" },
			outcome: Fail,
			check: func(t *testing.T, r Result) {
				if !errors.Is(r.Err, ErrPropagationTimeout) || !strings.Contains(r.Reason, "serviceAccount:sa@p.iam.gserviceaccount.com") || r.Elapsed != DefaultMaxWait {
					t.Fatalf("err = %v, elapsed %s", r.Err, r.Elapsed)
				}
				if r.Attempts < 10 || r.Attempts > 40 {
					t.Fatalf("attempts = %d", r.Attempts)
				}
			},
		},
		{
			name: "transient 503 then success",
			decide: func() func(string, *http.Request) (int, string) {
				var n atomic.Int32
				return func(string, *http.Request) (int, string) {
					if n.Add(1) <= 2 {
						return 503, "cold start"
					}
					return 200, ""
				}
			}(),
			outcome: Pass, attempts: 3,
			check: func(t *testing.T, r Result) {
				if r.PropagationDelay != 0 {
					t.Fatalf("503s are not propagation: %s", r.PropagationDelay)
				}
			},
		},
		{
			name:    "transient errors give up",
			decide:  func(string, *http.Request) (int, string) { return 429, "Rate exceeded." },
			outcome: Error, attempts: DefaultTransientTries,
			check: func(t *testing.T, r Result) {
				var se *StatusError
				if !errors.As(r.Err, &se) || se.Got != 429 || !strings.Contains(r.Reason, "Rate exceeded") {
					t.Fatalf("err = %v", r.Err)
				}
			},
		},
		{
			name: "request shape and expected status",
			decide: func(_ string, r *http.Request) (int, string) {
				if r.Method == "POST" && r.URL.Path == "/hook" && r.URL.RawQuery == "x=1" && r.Header.Get("X-Test") == "yes" && r.Header.Get("Content-Type") == "application/json" {
					return 201, "created"
				}
				return 400, fmt.Sprintf("bad request %s %s", r.Method, r.URL)
			},
			req:     Request{Method: "post", Path: "hook?x=1", Body: []byte(`{"a":1}`), Header: http.Header{"X-Test": {"yes"}, "Content-Type": {"application/json"}, "Authorization": {"Bearer caller-supplied"}}, ExpectStatus: 201},
			outcome: Pass, attempts: 1,
		},
		{
			name:    "unexpected status fails with the body",
			decide:  func(string, *http.Request) (int, string) { return 404, "page not found" },
			outcome: Fail, attempts: 1,
			check: func(t *testing.T, r Result) {
				var se *StatusError
				if !errors.As(r.Err, &se) || se.Got != 404 || r.Reason != "expected HTTP 200, got 404: page not found" {
					t.Fatalf("reason = %q", r.Reason)
				}
			},
		},
		{
			name: "redirects are not followed",
			decide: func(_ string, r *http.Request) (int, string) {
				if r.URL.Path == "/" {
					return http.StatusFound, ""
				}
				return 200, ""
			},
			outcome: Fail, attempts: 1,
			check: func(t *testing.T, r Result) {
				if r.Got != http.StatusFound {
					t.Fatalf("got %d", r.Got)
				}
			},
		},
		{
			name:    "audience outside the service is refused before any call",
			target:  func(tg Target) Target { tg.Audience = "https://other.a.run.app"; return tg },
			decide:  func(string, *http.Request) (int, string) { return 200, "" },
			outcome: Fail, attempts: 0,
			check: func(t *testing.T, r Result) {
				var am *idtoken.AudienceMismatchError
				if !errors.As(r.Err, &am) || !strings.Contains(r.Reason, "https://other.a.run.app") {
					t.Fatalf("err = %v", r.Err)
				}
			},
		},
		{
			name:    "custom audience",
			target:  func(tg Target) Target { tg.Audience = "custom-aud"; return tg },
			decide:  func(string, *http.Request) (int, string) { return 200, "" },
			outcome: Pass, attempts: 1,
			check: func(t *testing.T, r Result) {
				if r.Audience != "custom-aud" {
					t.Fatalf("audience = %q", r.Audience)
				}
			},
		},
		{
			name:    "user credentials fail before any call",
			decide:  func(string, *http.Request) (int, string) { return 200, "" },
			src:     func(s *source) { s.failN, s.failErr = 100, &idtoken.UserCredentialsError{Origin: "adc.json"} },
			outcome: Error, attempts: 0,
			check: func(t *testing.T, r Result) {
				var ue *idtoken.UserCredentialsError
				if !errors.As(r.Err, &ue) || !strings.Contains(r.Reason, "--credentials CALLER=impersonate") {
					t.Fatalf("err = %v", r.Err)
				}
			},
		},
		{
			name:   "token-creator grant propagating",
			decide: func(string, *http.Request) (int, string) { return 200, "" },
			src: func(s *source) {
				s.failN = 2
				s.failErr = errors.New(`impersonate: status code 403: {"error":{"code":403,"status":"PERMISSION_DENIED"}}`)
			},
			outcome: Pass, attempts: 1,
			check: func(t *testing.T, r Result) {
				if r.PropagationDelay == 0 {
					t.Fatal("waiting for the token-creator grant should count as propagation")
				}
			},
		},
		{
			name: "short-lived tokens are replaced between attempts",
			decide: func() func(string, *http.Request) (int, string) {
				var n atomic.Int32
				return func(string, *http.Request) (int, string) {
					if n.Add(1) < 4 {
						return 403, ""
					}
					return 200, ""
				}
			}(),
			src:     func(s *source) { s.life = 61 * time.Second },
			outcome: Pass, attempts: 4,
			check: func(t *testing.T, r Result) {},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			svc := newService(t, tc.decide)
			src := &source{t: t, email: "sa@p.iam.gserviceaccount.com", clk: clk}
			if tc.src != nil {
				tc.src(src)
			}
			tg := svc.target()
			if tc.target != nil {
				tg = tc.target(tg)
			}
			var results []Result
			iv := New(Options{Now: clk.Now, Sleep: clk.Sleep, Jitter: func() float64 { return 0.5 }, OnResult: func(r Result) { results = append(results, r) }})
			r := iv.Invoke(context.Background(), tg, Caller{Name: "serviceAccount:sa@p.iam.gserviceaccount.com", Source: src}, tc.req)
			if r.Outcome != tc.outcome {
				t.Fatalf("outcome = %s (%s), want %s", r.Outcome, r.Reason, tc.outcome)
			}
			if tc.attempts != 0 || tc.outcome == Fail && r.Attempts == 0 {
				if r.Attempts != tc.attempts {
					t.Fatalf("attempts = %d, want %d", r.Attempts, tc.attempts)
				}
			}
			if int(svc.requests.Load()) != r.Attempts {
				t.Fatalf("%d requests for %d attempts", svc.requests.Load(), r.Attempts)
			}
			if r.Outcome == Fail && (r.Err == nil || r.Reason == "") {
				t.Fatalf("a failure needs an error and a reason: %+v", r)
			}
			if len(results) != 1 || results[0].Outcome != r.Outcome {
				t.Fatalf("OnResult saw %v", results)
			}
			if svc.last != nil && svc.last.Header.Get("Authorization") == "Bearer caller-supplied" {
				t.Fatal("a caller-supplied Authorization header replaced the token")
			}
			if tc.name == "short-lived tokens are replaced between attempts" && int(src.mints.Load()) != r.Attempts {
				t.Fatalf("%d mints for %d attempts of 61s tokens", src.mints.Load(), r.Attempts)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestProbes(t *testing.T) {
	type probe func(iv *Invoker, tg Target, c Caller) Result
	unauth := func(iv *Invoker, tg Target, _ Caller) Result {
		return iv.ProbeUnauthenticated(context.Background(), tg, Request{})
	}
	refused := func(iv *Invoker, tg Target, c Caller) Result {
		return iv.ProbeRefused(context.Background(), tg, c, Request{})
	}
	invoke := func(iv *Invoker, tg Target, c Caller) Result {
		return iv.Invoke(context.Background(), tg, c, Request{})
	}
	tests := []struct {
		name     string
		probe    probe
		status   int
		target   func(Target) Target
		outcome  Outcome
		requests int
		errIs    error
		reason   string
	}{
		{"unauthenticated refused with 403", unauth, 403, nil, Pass, 1, nil, ""},
		{"unauthenticated refused with 401", unauth, 401, nil, Pass, 1, nil, ""},
		{"unauthenticated allowed", unauth, 200, nil, Fail, 1, ErrAllowed, "not public by declaration"},
		{"unauthenticated on a public service", unauth, 200, func(tg Target) Target { tg.Public = true; return tg }, Skip, 0, nil, "public by declaration"},
		{"unauthenticated odd status", unauth, 404, nil, Fail, 1, nil, "expected HTTP 401 or 403, got 404"},
		{"refused caller refused", refused, 403, nil, Pass, 1, nil, ""},
		{"refused caller allowed", refused, 200, nil, Fail, 1, ErrAllowed, "caller serviceAccount:nogrant@p.iam.gserviceaccount.com was allowed (200) but has no declared grant on service/us-central1/api"},
		{"refused caller, token rejected", refused, 401, nil, Fail, 1, nil, "rejected before IAM was consulted"},
		{"event-driven: invoke skipped", invoke, 200, func(tg Target) Target { tg.Kind, tg.EventDriven = "function", true; return tg }, Skip, 0, nil, "event-driven function"},
		{"event-driven: refused probe skipped", refused, 200, func(tg Target) Target { tg.EventDriven = true; return tg }, Skip, 0, nil, "event source"},
		{"event-driven: unauthenticated probe skipped", unauth, 200, func(tg Target) Target { tg.EventDriven = true; return tg }, Skip, 0, nil, "event source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			var sawToken atomic.Bool
			svc := newService(t, func(caller string, _ *http.Request) (int, string) {
				if caller != "" {
					sawToken.Store(true)
				}
				if tc.status == 401 {
					return 401, ""
				}
				return tc.status, ""
			})
			tg := svc.target()
			if tc.target != nil {
				tg = tc.target(tg)
			}
			c := Caller{Name: "serviceAccount:nogrant@p.iam.gserviceaccount.com", Source: &source{t: t, email: "nogrant@p.iam.gserviceaccount.com", clk: clk}}
			r := tc.probe(newInvoker(clk, nil), tg, c)
			if r.Outcome != tc.outcome || int(svc.requests.Load()) != tc.requests {
				t.Fatalf("outcome %s after %d requests (%s)", r.Outcome, svc.requests.Load(), r.Reason)
			}
			if tc.errIs != nil && !errors.Is(r.Err, tc.errIs) {
				t.Fatalf("err = %v, want %v", r.Err, tc.errIs)
			}
			if !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("reason = %q, want it to contain %q", r.Reason, tc.reason)
			}
			if r.Check == CheckUnauthenticated && sawToken.Load() {
				t.Fatal("the unauthenticated probe sent a token")
			}
			if len(clk.Slept()) != 0 {
				t.Fatalf("probes do not wait for propagation: slept %v", clk.Slept())
			}
		})
	}
}

func TestPublicCallWithoutToken(t *testing.T) {
	clk := newClock()
	svc := newService(t, func(caller string, _ *http.Request) (int, string) {
		if caller != "" {
			return 500, "a token was sent"
		}
		return 200, ""
	})
	tg := svc.target()
	tg.Public = true
	r := newInvoker(clk, nil).Invoke(context.Background(), tg, Caller{Name: "allUsers"}, Request{})
	if r.Outcome != Pass || r.TokenSource != "" || r.Audience != "" {
		t.Fatalf("result = %+v", r)
	}
}

func TestNetworkErrorAndCancel(t *testing.T) {
	clk := newClock()
	svc := newService(t, func(string, *http.Request) (int, string) { return 200, "" })
	tg := svc.target()
	svc.srv.Close()
	src := &source{t: t, email: "sa@p.iam.gserviceaccount.com", clk: clk}
	r := newInvoker(clk, nil).Invoke(context.Background(), tg, Caller{Name: "sa", Source: src}, Request{})
	if r.Outcome != Error || r.Attempts != DefaultTransientTries || !strings.Contains(r.Reason, "calling "+tg.URL) {
		t.Fatalf("result = %+v", r)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = newInvoker(newClock(), nil).Invoke(ctx, tg, Caller{Name: "sa", Source: src}, Request{})
	if r.Outcome != Interrupted || !errors.Is(r.Err, context.Canceled) || !errors.Is(r.Err, ErrInterrupted) {
		t.Fatalf("cancelled: %+v", r)
	}
}

func TestRunAll(t *testing.T) {
	clk := newClock()
	svc := newService(t, func(caller string, _ *http.Request) (int, string) {
		switch caller {
		case "a@p.iam.gserviceaccount.com":
			return 200, ""
		case "":
			return 403, ""
		}
		return 403, ""
	})
	a := Caller{Name: "a", Source: &source{t: t, email: "a@p.iam.gserviceaccount.com", clk: clk}}
	b := Caller{Name: "b", Source: &source{t: t, email: "b@p.iam.gserviceaccount.com", clk: clk}}
	tg := svc.target()
	ev := tg
	ev.Name, ev.EventDriven = "function/us-central1/on-upload", true
	var seen atomic.Int32
	iv := New(Options{Now: clk.Now, Sleep: clk.Sleep, OnResult: func(Result) { seen.Add(1) }})
	rs := iv.RunAll(context.Background(), []Case{
		{Target: tg, Callers: []Caller{a}, Refused: []Caller{b}, ProbeUnauthenticated: true},
		{Target: ev, Callers: []Caller{a}, ProbeUnauthenticated: true},
	})
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s %s %s %s", r.Target, r.Check, r.Caller, r.Outcome))
	}
	want := []string{
		"service/us-central1/api invoke a pass",
		"service/us-central1/api refused-caller b pass",
		"service/us-central1/api unauthenticated  pass",
		"function/us-central1/on-upload invoke a skip",
		"function/us-central1/on-upload unauthenticated  skip",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || int(seen.Load()) != len(want) {
		t.Fatalf("results:\n%s", strings.Join(got, "\n"))
	}
}

// TestNoTokenInAnyOutput runs failing and succeeding checks against a
// service that echoes the Authorization header everywhere it can, and
// looks for the token text in every string the package produces.
func TestNoTokenInAnyOutput(t *testing.T) {
	clk := newClock()
	var n atomic.Int32
	svc := newService(t, func(_ string, r *http.Request) (int, string) {
		echo := "you sent " + r.Header.Get("Authorization")
		switch n.Add(1) {
		case 1:
			return 403, echo
		case 2:
			return 503, echo
		case 3:
			return 200, echo
		}
		return 418, echo
	})
	src := &source{t: t, email: "sa@p.iam.gserviceaccount.com", clk: clk}
	var outputs []string
	var mu sync.Mutex
	add := func(s string) { mu.Lock(); outputs = append(outputs, s); mu.Unlock() }
	iv := New(Options{Now: clk.Now, Sleep: clk.Sleep,
		Progress: func(p Progress) { add(p.String()); add(fmt.Sprintf("%+v", p)) },
		OnResult: func(r Result) { b, _ := json.Marshal(r); add(string(b)) },
	})
	c := Caller{Name: "sa", Source: src}
	tg := svc.target()
	results := []Result{
		iv.Invoke(context.Background(), tg, c, Request{}),       // 403, 503, 200
		iv.Invoke(context.Background(), tg, c, Request{}),       // 418: fails with the echoed body
		iv.ProbeRefused(context.Background(), tg, c, Request{}), // 418
	}
	bad := tg
	bad.Audience = "wrong"
	bad.CustomAudiences = append(bad.CustomAudiences, "wrong") // allowed by us, refused by the service: 401 echoes the token
	results = append(results, iv.Invoke(context.Background(), bad, c, Request{}))
	for _, r := range results {
		add(fmt.Sprintf("%v|%+v|%#v", r, r, r))
		add(r.Reason)
		if r.Err != nil {
			add(r.Err.Error())
			add(fmt.Sprintf("%+v", r.Err))
		}
	}
	if results[0].Outcome != Pass || results[1].Outcome != Fail || results[3].Outcome != Fail {
		t.Fatalf("unexpected outcomes: %v %v %v", results[0].Outcome, results[1].Outcome, results[3].Outcome)
	}
	var ue *UnauthorizedError
	if !errors.As(results[3].Err, &ue) {
		t.Fatalf("the wrong-audience call should end in 401: %v", results[3].Err)
	}
	if !strings.Contains(results[1].Reason, "you sent Bearer "+idtoken.Redacted) {
		t.Fatalf("the echoed body should appear redacted: %q", results[1].Reason)
	}
	src.mu.Lock()
	minted := append([]string(nil), src.minted...)
	src.mu.Unlock()
	if len(minted) == 0 {
		t.Fatal("no token minted")
	}
	all := strings.Join(outputs, "\n")
	for _, tok := range minted {
		payload := strings.Split(tok, ".")[1]
		if strings.Contains(all, tok) || strings.Contains(all, payload) {
			t.Fatalf("token text found in output:\n%s", all)
		}
	}
}
