package idtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The impersonate library sends generateIdToken without a context; the
// context given to Token must still bound it (a cancelled run, the invoke
// request timeout), rather than the client's one-minute timeout.
func TestImpersonatedHonoursContext(t *testing.T) {
	var requests atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	src, err := NewImpersonated(ImpersonationOptions{Target: "target@p.iam.gserviceaccount.com",
		HTTPClient: &http.Client{Transport: rewrite{srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := src.Token(ctx, aud)
		done <- err
	}()
	select {
	case err := <-done:
		var me *MintError
		if !errors.As(err, &me) || requests.Load() != 1 {
			t.Fatalf("err = %v after %d requests", err, requests.Load())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("generateIdToken ignored the context")
	}
}

// Unusable tells a token the service would refuse (a refusal found before
// the call) from a token that could not be had at all.
func TestUnusable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&AudienceMismatchError{Source: "s", Requested: "a"}, true},
		{&ExpiredTokenError{Source: "s"}, true},
		{fmt.Errorf("wrapped: %w", &AccountMismatchError{Source: "s", TokenEmail: "a@p", Caller: "b@p"}), true},
		{&MintError{Source: "s", Err: errors.New("impersonate: status code 503")}, false},
		{&UserCredentialsError{Origin: "adc.json"}, false},
		{context.DeadlineExceeded, false},
	} {
		if got := Unusable(tt.err); got != tt.want {
			t.Errorf("Unusable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
