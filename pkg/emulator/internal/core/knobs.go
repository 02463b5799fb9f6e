package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// adminPrefix is where the emulator's own controls live (never a Google path).
const adminPrefix = "/_emulator/"

// Fault makes the next Count API requests that match Method and Path fail
// with Status: deterministic, targeted fault injection for tests of
// retries and conflict handling.
type Fault struct {
	// Method is the HTTP method to match ("" matches any).
	Method string `json:"method,omitempty"`
	// Path is a suffix the request path must end with ("" matches any),
	// e.g. ":setIamPolicy" or "/serviceAccounts".
	Path string `json:"path,omitempty"`
	// Count is how many matching requests fail.
	Count int `json:"count"`
	// Status is the HTTP status answered, in Google's error shape: 409 is
	// an ABORTED etag conflict, 429 RESOURCE_EXHAUSTED, 5xx UNAVAILABLE or
	// INTERNAL, 4xx the matching canonical status.
	Status int `json:"status"`
	// Message replaces the default error message when set.
	Message string `json:"message,omitempty"`
	// Header holds extra response headers, e.g. {"Retry-After": "3"}.
	Header map[string]string `json:"header,omitempty"`
}

func (f *Fault) matches(method, path string) bool {
	return f.Count > 0 && (f.Method == "" || strings.EqualFold(f.Method, method)) && strings.HasSuffix(path, f.Path)
}

// Request is one API request the emulator received, as recorded in its
// request log (admin paths and the data plane are not recorded).
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	Body   string `json:"body,omitempty"`
	// Time is when the request arrived, on the emulator's clock
	// (Options.Now), after Latency.
	Time time.Time `json:"time"`
	// Fault is the status a knob (a Fault rule, FailNext, QPS or
	// ErrorRate) answered the request with; 0 when it reached the API.
	Fault int `json:"fault,omitempty"`
	// RetryAfter is the Retry-After header that fault answer carried.
	RetryAfter string `json:"retryAfter,omitempty"`
}

// String is "METHOD path".
func (r Request) String() string { return r.Method + " " + r.Path }

// maxLoggedBody bounds the request body kept in the request log.
const maxLoggedBody = 64 << 10

type faultState struct {
	failNext    int
	windowStart time.Time
	windowCount int
	rules       []Fault
	// dropPolicyWrites makes setIamPolicy answer as if it succeeded
	// without storing the policy.
	dropPolicyWrites bool
	requests         []Request
}

// recordRequest appends r to the request log, with the fault a knob
// answered it with (nil: none), and gives r a body that can be read again.
// Called with e.mu held.
func (e *Server) recordRequest(r *http.Request, path string, fault *httpx.Error) {
	rec := Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Time: e.Opts.Now()}
	if fault != nil {
		rec.Fault = fault.Code
		if fault.RetryAfter > 0 {
			rec.RetryAfter = fmt.Sprint(fault.RetryAfter)
		}
		for k, v := range fault.Header {
			if strings.EqualFold(k, "Retry-After") {
				rec.RetryAfter = v
			}
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxLoggedBody+1))
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
		if err == nil && len(b) <= maxLoggedBody {
			rec.Body = string(b)
		}
	}
	e.fault.requests = append(e.fault.requests, rec)
}

// injectFault applies the Fault rules, FailNext, QPS and ErrorRate, in that
// order. Called with e.mu held.
func (e *Server) injectFault(method, path string) *httpx.Error {
	now := e.Opts.Now()
	for i := range e.fault.rules {
		if f := &e.fault.rules[i]; f.matches(method, path) {
			f.Count--
			ae := statusError(f.Status, f.Message)
			ae.Header = f.Header
			e.fault.rules = slices.DeleteFunc(e.fault.rules, func(f Fault) bool { return f.Count <= 0 })
			return ae
		}
	}
	if e.fault.failNext > 0 {
		e.fault.failNext--
		return e.faultError(e.Opts.ErrorCode)
	}
	if e.Opts.QPS > 0 {
		if now.Sub(e.fault.windowStart) >= time.Second {
			e.fault.windowStart = now
			e.fault.windowCount = 0
		}
		e.fault.windowCount++
		if float64(e.fault.windowCount) > e.Opts.QPS {
			return e.faultError(http.StatusTooManyRequests)
		}
	}
	if e.Opts.ErrorRate > 0 && rand.Float64() < e.Opts.ErrorRate {
		return e.faultError(e.Opts.ErrorCode)
	}
	return nil
}

// statusError is the Google-shaped error an injected fault answers with.
func statusError(code int, message string) *httpx.Error {
	status, msg := "UNKNOWN", fmt.Sprintf("Injected error %d (emulator fault injection).", code)
	switch {
	case code == http.StatusConflict:
		status = "ABORTED"
		msg = "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
	case code == http.StatusTooManyRequests:
		return withMessage(faultErrorFor(code), message)
	case code == http.StatusServiceUnavailable || code == http.StatusBadGateway || code == http.StatusGatewayTimeout:
		status = "UNAVAILABLE"
	case code >= 500:
		status = "INTERNAL"
	case code == http.StatusBadRequest:
		status = "INVALID_ARGUMENT"
	case code == http.StatusUnauthorized:
		status = "UNAUTHENTICATED"
	case code == http.StatusForbidden:
		status = "PERMISSION_DENIED"
	case code == http.StatusNotFound:
		status = "NOT_FOUND"
	}
	return withMessage(httpx.Errf(code, status, "%s", msg), message)
}

func withMessage(ae *httpx.Error, message string) *httpx.Error {
	if message != "" {
		ae.Message = message
	}
	return ae
}

func (e *Server) faultError(code int) *httpx.Error { return faultErrorFor(code) }

func faultErrorFor(code int) *httpx.Error {
	if code == http.StatusTooManyRequests {
		ae := httpx.Errf(code, "RESOURCE_EXHAUSTED", "Quota exceeded (emulator fault injection).")
		ae.RetryAfter = 1
		ae.Details = []map[string]any{{
			"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": "RATE_LIMIT_EXCEEDED",
			"domain": "googleapis.com",
		}}
		return ae
	}
	return httpx.Errf(code, "UNAVAILABLE", "The service is currently unavailable (emulator fault injection).")
}

// Calls returns a copy of the per-method request counters (e.g.
// "run.v2.services.getIamPolicy" → 3).
func (e *Server) Calls() map[string]int {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	out := make(map[string]int, len(e.CallCounts))
	for k, v := range e.CallCounts {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the request counters.
func (e *Server) ResetCalls() {
	e.Mu.Lock()
	e.CallCounts = map[string]int{}
	e.Mu.Unlock()
}

// FailNext makes the next n API requests fail with code (429 or 503).
func (e *Server) FailNext(n, code int) {
	e.Mu.Lock()
	e.fault.failNext = n
	if code != 0 {
		e.Opts.ErrorCode = code
	}
	e.Mu.Unlock()
}

// InjectFault adds a fault rule: the next f.Count API requests matching
// f.Method and f.Path fail with f.Status. Rules are tried in the order
// they were added, before FailNext, QPS and ErrorRate.
func (e *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		return
	}
	e.Mu.Lock()
	e.fault.rules = append(e.fault.rules, f)
	e.Mu.Unlock()
}

// ConflictNext makes the next n setIamPolicy calls (any API) answer 409
// ABORTED, as production does when the policy changed since it was read.
func (e *Server) ConflictNext(n int) {
	e.InjectFault(Fault{Method: http.MethodPost, Path: ":setIamPolicy", Count: n, Status: http.StatusConflict})
}

// ClearFaults drops every pending fault rule and FailNext.
func (e *Server) ClearFaults() {
	e.Mu.Lock()
	e.fault.rules = nil
	e.fault.failNext = 0
	e.Mu.Unlock()
}

// PendingFaults returns the fault rules not yet spent, with the count of
// requests each still fails.
func (e *Server) PendingFaults() []Fault {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	return slices.Clone(e.fault.rules)
}

// DropPolicyWrites, when on, makes every setIamPolicy answer 200 with the
// would-be policy (and a new etag) without storing it: a write that never
// takes effect, for tests of propagation checks.
func (e *Server) DropPolicyWrites(on bool) {
	e.Mu.Lock()
	e.fault.dropPolicyWrites = on
	e.Mu.Unlock()
}

// Requests returns the request log: every API request since the start or
// the last ResetRequests, in arrival order (admin paths and the data plane
// are not recorded).
func (e *Server) Requests() []Request {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	return slices.Clone(e.fault.requests)
}

// ResetRequests empties the request log.
func (e *Server) ResetRequests() {
	e.Mu.Lock()
	e.fault.requests = nil
	e.Mu.Unlock()
}

// IAMPolicy returns the IAM policy stored on resource ("projects/p",
// "organizations/N", "folders/N", "projects/p/serviceAccounts/email" or
// "projects/p/locations/l/services/s"), rendered as getIamPolicy at
// version 3 answers it, without going through the API (nothing is counted
// or logged). A resource without a policy has an empty one.
func (e *Server) IAMPolicy(resource string) ([]byte, error) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	var p *model.Policy
	switch {
	case e.St.Services[resource] != nil:
		p = e.St.Services[resource].Policy
	case isNodeName(resource):
		if !e.NodeExistsLocked(resource) {
			return nil, httpx.ErrNotFound("Resource %s not found.", resource)
		}
		p = e.NodePolicyLocked(resource)
	case strings.Contains(resource, "/serviceAccounts/"):
		_, email, _ := strings.Cut(resource, "/serviceAccounts/")
		sa := e.St.ServiceAccounts[email]
		if sa == nil || sa.Deleted {
			return nil, httpx.ErrNotFound("Service account %s does not exist.", email)
		}
		p = sa.Policy
	default:
		id, ok := strings.CutPrefix(resource, "projects/")
		if !ok || e.St.Projects[id] == nil {
			return nil, httpx.ErrNotFound("Resource %s not found.", resource)
		}
		p = e.St.Projects[id].Policy
	}
	return json.Marshal(e.getPolicyResponse(p, 3))
}

// serveAdmin serves the emulator's own controls:
//
//	GET  /_emulator/calls        per-method counters as JSON {"method": n}
//	POST /_emulator/calls:reset  zero the counters
//	POST /_emulator/faults       {"failNext": n, "code": 503,
//	                              "rules": [Fault...], "dropPolicyWrites": bool}
//	POST /_emulator/faults:reset drop pending faults
//	GET  /_emulator/requests     {"requests": [Request...]}, the request log
//	POST /_emulator/requests:reset empty the request log
//
// The admin paths need the bootstrap token as "Authorization: Bearer x",
// read by the same parser as every management call (httpx.ParseBearer: the
// scheme in any case; a bare token without a scheme is refused).
func (e *Server) serveAdmin(w http.ResponseWriter, r *http.Request, path string) {
	if tok, err := httpx.ParseBearer(r.Header.Get("Authorization")); err != nil || tok != e.Opts.BootstrapToken {
		httpx.WriteError(w, httpx.ErrUnauthenticated())
		return
	}
	switch {
	case path == adminPrefix+"calls" && r.Method == http.MethodGet:
		httpx.WriteJSON(w, http.StatusOK, e.Calls())
	case path == adminPrefix+"calls:reset" && r.Method == http.MethodPost:
		e.ResetCalls()
		httpx.WriteJSON(w, http.StatusOK, map[string]any{})
	case path == adminPrefix+"faults" && r.Method == http.MethodPost:
		var req struct {
			FailNext         int     `json:"failNext"`
			Code             int     `json:"code"`
			Rules            []Fault `json:"rules"`
			DropPolicyWrites *bool   `json:"dropPolicyWrites"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			httpx.WriteError(w, httpx.ErrInvalid("bad faults body: %v", err))
			return
		}
		if req.Code != 0 && req.Code != http.StatusTooManyRequests && req.Code != http.StatusServiceUnavailable {
			httpx.WriteError(w, httpx.ErrInvalid("code must be 429 or 503"))
			return
		}
		for _, f := range req.Rules {
			if f.Status < 400 || f.Status > 599 {
				httpx.WriteError(w, httpx.ErrInvalid("rule status must be an HTTP error status, got %d", f.Status))
				return
			}
		}
		if req.FailNext > 0 || req.Code != 0 {
			e.FailNext(req.FailNext, req.Code)
		}
		for _, f := range req.Rules {
			e.InjectFault(f)
		}
		if req.DropPolicyWrites != nil {
			e.DropPolicyWrites(*req.DropPolicyWrites)
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{})
	case path == adminPrefix+"faults:reset" && r.Method == http.MethodPost:
		e.ClearFaults()
		e.DropPolicyWrites(false)
		httpx.WriteJSON(w, http.StatusOK, map[string]any{})
	case path == adminPrefix+"requests" && r.Method == http.MethodGet:
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"requests": e.Requests()})
	case path == adminPrefix+"requests:reset" && r.Method == http.MethodPost:
		e.ResetRequests()
		httpx.WriteJSON(w, http.StatusOK, map[string]any{})
	default:
		httpx.WriteError(w, httpx.ErrNotFound("no such emulator admin path: %s %s", r.Method, path))
	}
}
