package invoke

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// NoWait makes a 403 final at once; the zero MaxWait still means the
// default wait, which retries.
func TestNoWaitSingleAttempt(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	target := Target{Name: "svc", URL: srv.URL, Public: true}
	for _, tc := range []struct {
		name    string
		maxWait time.Duration
		many    bool
	}{{"no wait", NoWait, false}, {"default", 0, true}} {
		calls.Store(0)
		now := time.Unix(0, 0)
		iv := New(Options{MaxWait: tc.maxWait, Now: func() time.Time { return now },
			Sleep: func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }})
		r := iv.Invoke(context.Background(), target, Caller{Name: "anonymous"}, Request{})
		if r.Outcome != Fail {
			t.Fatalf("%s: outcome %s", tc.name, r.Outcome)
		}
		if got := calls.Load(); (got > 1) != tc.many {
			t.Errorf("%s: %d calls", tc.name, got)
		}
	}
}
