package server

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

// The knobs (Latency, ErrorRate/ErrorCode, QPS, FailNext) and the admin
// paths, driven over real HTTP as a test harness or a benchmark would.

// knobsListPath is a cheap management call (iam.v1.serviceAccounts.list).
const knobsListPath = "/v1/projects/demo-project/serviceAccounts"

// knobsResp is one answer: status, Retry-After and the decoded body.
type knobsResp struct {
	status     int
	retryAfter string
	body       map[string]any
	raw        string
}

// knobsDo sends method path (with body, when not empty) to e's listener,
// with token as the bearer token when not empty.
func knobsDo(t *testing.T, e *core.Server, token, method, path, body string) knobsResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := knobsResp{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("%s %s: %d with a body that is not a JSON object: %v\n%s", method, path, resp.StatusCode, err, b)
		}
	}
	return r
}

// knobsList lists the default project's accounts as the bootstrap owner.
func knobsList(t *testing.T, e *core.Server) knobsResp {
	t.Helper()
	return knobsDo(t, e, e.BootstrapToken(), http.MethodGet, knobsListPath, "")
}

// knobsWantError checks Google's error shape: error.code, error.status.
func knobsWantError(t *testing.T, what string, r knobsResp, code int, status string) map[string]any {
	t.Helper()
	if r.status != code {
		t.Fatalf("%s: HTTP %d, want %d\n%s", what, r.status, code, r.raw)
	}
	ae, _ := r.body["error"].(map[string]any)
	if ae == nil || ae["code"] != float64(code) || ae["status"] != status {
		t.Fatalf("%s: error body %s, want code %d status %s", what, r.raw, code, status)
	}
	return ae
}

// knobsWantRateLimited checks the 429 of a quota or an injected 429: a
// Retry-After header and RESOURCE_EXHAUSTED with an ErrorInfo whose reason
// is RATE_LIMIT_EXCEEDED (what clients key their back-off on).
func knobsWantRateLimited(t *testing.T, what string, r knobsResp) {
	t.Helper()
	ae := knobsWantError(t, what, r, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED")
	if r.retryAfter == "" {
		t.Errorf("%s: 429 without a Retry-After header", what)
	}
	details, _ := ae["details"].([]any)
	found := false
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" && m["reason"] == "RATE_LIMIT_EXCEEDED" {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: no ErrorInfo with reason RATE_LIMIT_EXCEEDED in %s", what, r.raw)
	}
}

func knobsWantOK(t *testing.T, what string, r knobsResp) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200\n%s", what, r.status, r.raw)
	}
}

// Latency delays every API request by at least the configured duration.
// The delay is a timer, not Options.Now, so it is measured on the wall
// clock: elapsed ≥ Latency is a lower bound, never a speed target.
func TestKnobLatency(t *testing.T) {
	t.Parallel()
	const latency = 150 * time.Millisecond
	e := newTestEmulator(t, core.Options{Latency: latency})
	for i := range 2 {
		start := time.Now()
		r := knobsList(t, e)
		elapsed := time.Since(start)
		knobsWantOK(t, "list", r)
		if elapsed < latency {
			t.Errorf("request %d took %v, want at least the latency %v", i+1, elapsed, latency)
		}
	}
}

// ErrorRate fails that fraction of API requests with ErrorCode: 1 fails
// every one, 0 none.
func TestKnobErrorRate(t *testing.T) {
	t.Parallel()
	const n = 20
	t.Run("429 at rate 1", func(t *testing.T) {
		t.Parallel()
		e := newTestEmulator(t, core.Options{ErrorRate: 1, ErrorCode: http.StatusTooManyRequests})
		for i := range n {
			knobsWantRateLimited(t, "request "+itoa(int64(i+1)), knobsList(t, e))
		}
		// Failed requests are still counted.
		if got := e.Calls()["iam.v1.serviceAccounts.list"]; got != n {
			t.Errorf("counter = %d, want %d", got, n)
		}
	})
	t.Run("503 at rate 1", func(t *testing.T) {
		t.Parallel()
		e := newTestEmulator(t, core.Options{ErrorRate: 1, ErrorCode: http.StatusServiceUnavailable})
		for i := range n {
			knobsWantError(t, "request "+itoa(int64(i+1)), knobsList(t, e), http.StatusServiceUnavailable, "UNAVAILABLE")
		}
	})
	t.Run("503 is the default code", func(t *testing.T) {
		t.Parallel()
		e := newTestEmulator(t, core.Options{ErrorRate: 1})
		knobsWantError(t, "request", knobsList(t, e), http.StatusServiceUnavailable, "UNAVAILABLE")
	})
	t.Run("rate 0", func(t *testing.T) {
		t.Parallel()
		e := newTestEmulator(t, core.Options{ErrorRate: 0, ErrorCode: http.StatusServiceUnavailable})
		for i := range n {
			knobsWantOK(t, "request "+itoa(int64(i+1)), knobsList(t, e))
		}
	})
	t.Run("rate one half", func(t *testing.T) {
		t.Parallel()
		// A fraction, not all or nothing: out of 200 requests at 0.5, fewer
		// than 40 or more than 160 failures has a probability below 1e-15.
		e := newTestEmulator(t, core.Options{ErrorRate: 0.5})
		failed := 0
		for range 200 {
			switch r := knobsList(t, e); r.status {
			case http.StatusOK:
			case http.StatusServiceUnavailable:
				failed++
			default:
				t.Fatalf("HTTP %d: %s", r.status, r.raw)
			}
		}
		if failed < 40 || failed > 160 {
			t.Errorf("%d of 200 requests failed at ErrorRate 0.5", failed)
		}
	})
}

// QPS answers 429 to the requests beyond QPS within one second, and lets
// requests through again once the second has passed (clock: Options.Now).
func TestKnobQPS(t *testing.T) {
	t.Parallel()
	clock := clock.NewFake(time.Now())
	e := newTestEmulator(t, core.Options{QPS: 3, Now: clock.Now})
	for i := range 3 {
		knobsWantOK(t, "request "+itoa(int64(i+1))+" of the first second", knobsList(t, e))
	}
	knobsWantRateLimited(t, "4th request within the second", knobsList(t, e))
	clock.Advance(999 * time.Millisecond)
	knobsWantRateLimited(t, "5th request 999ms later", knobsList(t, e))
	clock.Advance(time.Millisecond)
	for i := range 3 {
		knobsWantOK(t, "request "+itoa(int64(i+1))+" of the next second", knobsList(t, e))
	}
	knobsWantRateLimited(t, "4th request of the next second", knobsList(t, e))
}

// The admin paths, with a real HTTP client: the counters (bootstrap token
// required), their reset, and deterministic faults.
func TestKnobAdminPaths(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	tok := e.BootstrapToken()
	for range 2 {
		knobsWantOK(t, "list", knobsList(t, e))
	}
	knobsWantOK(t, "get project", knobsDo(t, e, tok, http.MethodGet, "/v1/projects/demo-project", ""))

	// Without the bootstrap token (none, or another), every admin path is
	// 401 and changes nothing.
	for _, bad := range []string{"", "not-the-bootstrap-token"} {
		knobsWantError(t, "GET calls with token "+bad, knobsDo(t, e, bad, http.MethodGet, "/_emulator/calls", ""),
			http.StatusUnauthorized, "UNAUTHENTICATED")
		knobsWantError(t, "reset with token "+bad, knobsDo(t, e, bad, http.MethodPost, "/_emulator/calls:reset", ""),
			http.StatusUnauthorized, "UNAUTHENTICATED")
		knobsWantError(t, "faults with token "+bad, knobsDo(t, e, bad, http.MethodPost, "/_emulator/faults", `{"failNext":2,"code":503}`),
			http.StatusUnauthorized, "UNAUTHENTICATED")
	}

	// GET /_emulator/calls: the per-method counters as JSON.
	r := knobsDo(t, e, tok, http.MethodGet, "/_emulator/calls", "")
	knobsWantOK(t, "GET calls", r)
	want := map[string]any{"iam.v1.serviceAccounts.list": float64(2), "crm.v1.projects.get": float64(1)}
	if !reflect.DeepEqual(r.body, want) {
		t.Fatalf("GET /_emulator/calls = %s, want %v", r.raw, want)
	}

	// POST /_emulator/calls:reset zeroes them.
	knobsWantOK(t, "reset", knobsDo(t, e, tok, http.MethodPost, "/_emulator/calls:reset", ""))
	r = knobsDo(t, e, tok, http.MethodGet, "/_emulator/calls", "")
	knobsWantOK(t, "GET calls after reset", r)
	if len(r.body) != 0 || len(e.Calls()) != 0 {
		t.Fatalf("after reset: %s (Calls %v), want {}", r.raw, e.Calls())
	}

	// POST /_emulator/faults: the next two requests fail with the code,
	// the third succeeds.
	knobsWantOK(t, "faults", knobsDo(t, e, tok, http.MethodPost, "/_emulator/faults", `{"failNext":2,"code":503}`))
	knobsWantError(t, "1st request after failNext 2", knobsList(t, e), http.StatusServiceUnavailable, "UNAVAILABLE")
	knobsWantError(t, "2nd request after failNext 2", knobsList(t, e), http.StatusServiceUnavailable, "UNAVAILABLE")
	knobsWantOK(t, "3rd request after failNext 2", knobsList(t, e))
	knobsWantOK(t, "4th request after failNext 2", knobsList(t, e))
	knobsWantOK(t, "faults 429", knobsDo(t, e, tok, http.MethodPost, "/_emulator/faults", `{"failNext":1,"code":429}`))
	knobsWantRateLimited(t, "request after failNext 1 code 429", knobsList(t, e))
	knobsWantOK(t, "request after the injected 429", knobsList(t, e))

	// A code other than 429 or 503, or a body that is not JSON, is refused
	// and injects nothing.
	for _, body := range []string{`{"failNext":1,"code":500}`, `{"failNext":`} {
		knobsWantError(t, "faults "+body, knobsDo(t, e, tok, http.MethodPost, "/_emulator/faults", body), http.StatusBadRequest, "INVALID_ARGUMENT")
		knobsWantOK(t, "request after refused faults "+body, knobsList(t, e))
	}
	// An unknown admin path is 404.
	knobsWantError(t, "unknown admin path", knobsDo(t, e, tok, http.MethodGet, "/_emulator/nothing", ""), http.StatusNotFound, "NOT_FOUND")
	// The admin paths are not counted as API requests.
	if got := e.Calls(); len(got) != 1 || got["iam.v1.serviceAccounts.list"] != 8 {
		t.Errorf("counters after the faults = %v, want only iam.v1.serviceAccounts.list: 8", got)
	}
}

// Fault rules fail only the requests they match, Count times, with the
// status, message and headers asked for; the request log records every API
// request (method, path, query, body) and nothing else.
func TestKnobFaultRules(t *testing.T) {
	t.Parallel()
	const projPolicy = "/v1/projects/demo-project"
	tests := []struct {
		name   string
		rule   string // admin body; "" uses InjectFault
		fault  core.Fault
		method string
		path   string
		body   string
		code   int
		status string
		header string // Retry-After wanted
	}{
		{name: "503 on one verb", fault: core.Fault{Method: "POST", Path: ":getIamPolicy", Count: 2, Status: 503},
			method: "POST", path: projPolicy + ":getIamPolicy", body: "{}", code: 503, status: "UNAVAILABLE"},
		{name: "409 etag conflict", fault: core.Fault{Method: "POST", Path: ":setIamPolicy", Count: 2, Status: 409},
			method: "POST", path: projPolicy + ":setIamPolicy", body: `{"policy":{}}`, code: 409, status: "ABORTED"},
		{name: "429 with Retry-After", fault: core.Fault{Path: "/serviceAccounts", Count: 2, Status: 429, Header: map[string]string{"Retry-After": "3"}},
			method: "GET", path: knobsListPath, code: 429, status: "RESOURCE_EXHAUSTED", header: "3"},
		{name: "admin rule, 403 with a message", rule: `{"rules":[{"method":"GET","path":"/serviceAccounts","count":2,"status":403,"message":"injected 403"}]}`,
			method: "GET", path: knobsListPath, code: 403, status: "PERMISSION_DENIED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEmulator(t, core.Options{})
			tok := e.BootstrapToken()
			if tt.rule != "" {
				knobsWantOK(t, "add rule", knobsDo(t, e, tok, http.MethodPost, "/_emulator/faults", tt.rule))
			} else {
				e.InjectFault(tt.fault)
			}
			if got := e.PendingFaults(); len(got) != 1 || got[0].Count != 2 {
				t.Fatalf("pending faults = %+v", got)
			}
			// Another API is not affected.
			knobsWantOK(t, "unmatched request", knobsDo(t, e, tok, http.MethodGet, "/v1/projects/demo-project", ""))
			for i := range 2 {
				r := knobsDo(t, e, tok, tt.method, tt.path, tt.body)
				ae := knobsWantError(t, "matched request", r, tt.code, tt.status)
				if r.retryAfter != tt.header {
					t.Errorf("request %d: Retry-After = %q, want %q", i, r.retryAfter, tt.header)
				}
				if tt.rule != "" && ae["message"] != "injected 403" {
					t.Errorf("message = %v", ae["message"])
				}
			}
			knobsWantOK(t, "request after the rule is spent", knobsDo(t, e, tok, tt.method, tt.path, tt.body))
			if got := e.PendingFaults(); len(got) != 0 {
				t.Errorf("spent rule still pending: %+v", got)
			}

			log := e.Requests()
			if len(log) != 4 || log[0].String() != "GET /v1/projects/demo-project" || log[3].Method != tt.method || log[3].Path != tt.path || log[3].Body != tt.body {
				t.Errorf("request log = %+v", log)
			}
			r := knobsDo(t, e, tok, http.MethodGet, "/_emulator/requests", "")
			knobsWantOK(t, "GET requests", r)
			if rs, _ := r.body["requests"].([]any); len(rs) != 4 {
				t.Errorf("GET /_emulator/requests = %s", r.raw)
			}
			knobsWantOK(t, "reset requests", knobsDo(t, e, tok, http.MethodPost, "/_emulator/requests:reset", ""))
			if got := e.Requests(); len(got) != 0 {
				t.Errorf("after reset: %v", got)
			}
		})
	}
}

// DropPolicyWrites answers setIamPolicy with a new etag and stores nothing;
// a bad rule status is refused.
func TestKnobDropPolicyWrites(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	tok := e.BootstrapToken()
	before, err := e.IAMPolicy("projects/demo-project")
	if err != nil {
		t.Fatal(err)
	}
	knobsWantOK(t, "drop on", knobsDo(t, e, tok, http.MethodPost, "/_emulator/faults", `{"dropPolicyWrites":true}`))
	set := `{"policy":{"bindings":[{"role":"roles/run.invoker","members":["user:a@example.com"]}]}}`
	r := knobsDo(t, e, tok, http.MethodPost, "/v1/projects/demo-project:setIamPolicy", set)
	knobsWantOK(t, "dropped set", r)
	after, _ := e.IAMPolicy("projects/demo-project")
	if string(after) != string(before) || strings.Contains(string(after), "user:a@example.com") {
		t.Errorf("policy changed by a dropped write:\n%s\n%s", before, after)
	}
	if !strings.Contains(r.raw, "user:a@example.com") {
		t.Errorf("dropped write should still answer the would-be policy: %s", r.raw)
	}
	knobsWantOK(t, "faults reset", knobsDo(t, e, tok, http.MethodPost, "/_emulator/faults:reset", ""))
	knobsWantOK(t, "kept set", knobsDo(t, e, tok, http.MethodPost, "/v1/projects/demo-project:setIamPolicy", set))
	if after, _ := e.IAMPolicy("projects/demo-project"); !strings.Contains(string(after), "user:a@example.com") {
		t.Errorf("policy after a kept write: %s", after)
	}
	knobsWantError(t, "rule status 200", knobsDo(t, e, tok, http.MethodPost, "/_emulator/faults", `{"rules":[{"count":1,"status":200}]}`), http.StatusBadRequest, "INVALID_ARGUMENT")
	if _, err := e.IAMPolicy("projects/nope"); err == nil {
		t.Error("IAMPolicy of a missing project: no error")
	}
}

// The request log says when each request came (on Options.Now) and which
// ones a knob answered, with the Retry-After it sent: what a test needs to
// prove a client waited out each Retry-After.
func TestKnobRequestLogTimesAndFaults(t *testing.T) {
	t.Parallel()
	clock := clock.NewFake(time.Now())
	e := newTestEmulator(t, core.Options{QPS: 1, Now: clock.Now})
	e.InjectFault(core.Fault{Path: "/serviceAccounts", Count: 1, Status: 503, Header: map[string]string{"retry-after": "7"}})
	start := clock.Now()
	knobsList(t, e)                                                // the rule: 503, Retry-After 7
	knobsWantOK(t, "first request of the second", knobsList(t, e)) // QPS 1: passes
	clock.Advance(300 * time.Millisecond)
	knobsWantRateLimited(t, "second request of the second", knobsList(t, e)) // QPS: 429, Retry-After 1
	want := []struct {
		at         time.Duration
		fault      int
		retryAfter string
	}{{0, 503, "7"}, {0, 0, ""}, {300 * time.Millisecond, 429, "1"}}
	log := e.Requests()
	if len(log) != len(want) {
		t.Fatalf("request log = %+v", log)
	}
	for i, w := range want {
		if got := log[i]; !got.Time.Equal(start.Add(w.at)) || got.Fault != w.fault || got.RetryAfter != w.retryAfter {
			t.Errorf("request %d: time +%s, fault %d, Retry-After %q; want +%s, %d, %q",
				i, got.Time.Sub(start), got.Fault, got.RetryAfter, w.at, w.fault, w.retryAfter)
		}
	}
}
