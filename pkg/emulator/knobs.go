package emulator

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// adminPrefix is where the emulator's own controls live (never a Google path).
const adminPrefix = "/_emulator/"

type faultState struct {
	failNext    int
	windowStart time.Time
	windowCount int
}

// injectFault applies FailNext, QPS and ErrorRate. Called with e.mu held.
func (e *Emulator) injectFault() *apiError {
	now := e.opts.Now()
	if e.fault.failNext > 0 {
		e.fault.failNext--
		return e.faultError(e.opts.ErrorCode)
	}
	if e.opts.QPS > 0 {
		if now.Sub(e.fault.windowStart) >= time.Second {
			e.fault.windowStart = now
			e.fault.windowCount = 0
		}
		e.fault.windowCount++
		if float64(e.fault.windowCount) > e.opts.QPS {
			return e.faultError(http.StatusTooManyRequests)
		}
	}
	if e.opts.ErrorRate > 0 && rand.Float64() < e.opts.ErrorRate {
		return e.faultError(e.opts.ErrorCode)
	}
	return nil
}

func (e *Emulator) faultError(code int) *apiError {
	if code == http.StatusTooManyRequests {
		ae := errf(code, "RESOURCE_EXHAUSTED", "Quota exceeded (emulator fault injection).")
		ae.retryAfter = 1
		ae.Details = []map[string]any{{
			"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": "RATE_LIMIT_EXCEEDED",
			"domain": "googleapis.com",
		}}
		return ae
	}
	return errf(code, "UNAVAILABLE", "The service is currently unavailable (emulator fault injection).")
}

// Calls returns a copy of the per-method request counters (e.g.
// "run.v2.services.getIamPolicy" → 3).
func (e *Emulator) Calls() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.calls))
	for k, v := range e.calls {
		out[k] = v
	}
	return out
}

// ResetCalls zeroes the request counters.
func (e *Emulator) ResetCalls() {
	e.mu.Lock()
	e.calls = map[string]int{}
	e.mu.Unlock()
}

// FailNext makes the next n API requests fail with code (429 or 503).
func (e *Emulator) FailNext(n, code int) {
	e.mu.Lock()
	e.fault.failNext = n
	if code != 0 {
		e.opts.ErrorCode = code
	}
	e.mu.Unlock()
}

// serveAdmin serves the emulator's own controls:
//
//	GET  /_emulator/calls        per-method counters as JSON {"method": n}
//	POST /_emulator/calls:reset  zero the counters
//	POST /_emulator/faults       {"failNext": n, "code": 503}
//
// The admin paths need the bootstrap token, like any management call.
func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request, path string) {
	if tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); tok != e.opts.BootstrapToken {
		writeError(w, errUnauthenticated())
		return
	}
	switch {
	case path == adminPrefix+"calls" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, e.Calls())
	case path == adminPrefix+"calls:reset" && r.Method == http.MethodPost:
		e.ResetCalls()
		writeJSON(w, http.StatusOK, map[string]any{})
	case path == adminPrefix+"faults" && r.Method == http.MethodPost:
		var req struct {
			FailNext int `json:"failNext"`
			Code     int `json:"code"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeError(w, errInvalid("bad faults body: %v", err))
			return
		}
		if req.Code != 0 && req.Code != http.StatusTooManyRequests && req.Code != http.StatusServiceUnavailable {
			writeError(w, errInvalid("code must be 429 or 503"))
			return
		}
		e.FailNext(req.FailNext, req.Code)
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		writeError(w, errNotFound("no such emulator admin path: %s %s", r.Method, path))
	}
}
