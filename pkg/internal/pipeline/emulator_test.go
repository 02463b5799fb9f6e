package pipeline

// Tests against the in-process emulator with the real Google client
// libraries (run/v2, cloudfunctions/v2, impersonate) and real HTTP.

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// emulatorSeed is the world of these tests: the operator (the bootstrap
// owner) may mint every account's ID tokens; orders-caller may invoke
// orders-api.
const emulatorSeed = `
defaults: {project: demo-project, location: us-central1}
projects:
  - id: demo-project
    policy:
      - role: roles/iam.serviceAccountTokenCreator
        members: [user:owner@example.com]
serviceAccounts:
  - accountId: orders-caller
  - accountId: audit-bot
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
  - name: reports-api
    location: europe-west1
functions:
  - name: resize-image
    location: us-east1
`

const emulatorDecl = `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
serviceAccounts:
  - name: orders-caller
  - name: audit-bot
grants:
  - service: orders-api
    members: [orders-caller]
    invoke:
      refusedCaller: audit-bot
`

type emuEnv struct {
	e       *emulator.Emulator
	target  target.Target
	clients *gcp.Clients
}

func startEmulator(t *testing.T) *emuEnv {
	t.Helper()
	s, err := emulator.ParseSeed([]byte(emulatorSeed), "seed")
	if err != nil {
		t.Fatal(err)
	}
	e, err := emulator.New(emulator.Options{Seed: s, Project: "demo-project"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	tg, err := target.Emulator(e.URL(), e.BootstrapToken())
	if err != nil {
		t.Fatal(err)
	}
	noSleep := gcp.RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }}
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: tg.APIEndpoint(), TokenSource: tg.TokenSource(), Retry: noSleep})
	if err != nil {
		t.Fatal(err)
	}
	return &emuEnv{e: e, target: tg, clients: c}
}

// Minting an ID token by impersonation goes through the Google API retry
// policy: 429 (with Retry-After) and 503 are retried, and a mint that still
// fails is an error of the run (exit 1), never a refusal (exit 4).
func TestImpersonationRetriesAndErrors(t *testing.T) {
	tests := []struct {
		name     string
		failNext int
		code     int
		// want is the outcome of the call that must succeed; mints the
		// generateIdToken requests the emulator saw; retries the waits.
		want    invoke.Outcome
		verdict invoke.Verdict
		mints   int
		retries int
	}{
		{"429 twice, then a token", 2, http.StatusTooManyRequests, invoke.Pass, invoke.VerdictPass, 3, 2},
		{"503 once, then a token", 1, http.StatusServiceUnavailable, invoke.Pass, invoke.VerdictPass, 2, 1},
		{"503 on every attempt", 1000, http.StatusServiceUnavailable, invoke.Error, invoke.VerdictError, 6, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			v := startEmulator(t)
			d := loadDecl(t, emulatorDecl)
			rep, err := (&verify.Verifier{Clients: v.clients}).Verify(ctx, Expectations(d))
			if err != nil {
				t.Fatal(err)
			}
			var retries atomic.Int32
			srcs := &Sources{Target: v.target, Decl: d, Retry: gcp.RetryPolicy{
				Sleep:   func(context.Context, time.Duration) error { return nil },
				OnRetry: func(*http.Request, int, time.Duration) { retries.Add(1) },
			}}
			cases, pre, err := InvokeCases(ctx, d, rep, srcs)
			if err != nil || len(pre) != 0 || len(cases) != 1 {
				t.Fatalf("cases: %v, %+v, %v", len(cases), pre, err)
			}
			c := cases[0]
			c.Refused, c.ProbeUnauthenticated = nil, false
			v.e.ResetCalls()
			v.e.FailNext(tt.failNext, tt.code)
			rs := invoke.New(invoke.Options{MaxWait: invoke.NoWait}).RunCase(ctx, c)
			if len(rs) != 1 || rs[0].Outcome != tt.want {
				t.Fatalf("results: %+v", rs)
			}
			if got := invoke.Summarize(rs); got != tt.verdict {
				t.Errorf("Summarize = %v, want %v", got, tt.verdict)
			}
			if Incomplete(rs) != (tt.verdict == invoke.VerdictError) || Failed(rs) != (tt.verdict != invoke.VerdictPass) {
				t.Errorf("Incomplete = %v, Failed = %v for %v", Incomplete(rs), Failed(rs), tt.verdict)
			}
			if n := v.e.Calls()["iamcredentials.v1.generateIdToken"]; n != tt.mints {
				t.Errorf("%d generateIdToken requests, want %d", n, tt.mints)
			}
			if n := int(retries.Load()); n != tt.retries {
				t.Errorf("%d retries, want %d", n, tt.retries)
			}
			if tt.want == invoke.Error {
				var me *idtoken.MintError
				if rs[0].Attempts != 0 || !errors.As(rs[0].Err, &me) || rs[0].Got != 0 {
					t.Errorf("a call was made without a token: %+v", rs[0])
				}
				if rc := InvokeReportCases(rs); rc[0].Outcome != "error" {
					t.Errorf("report outcome %q, want error", rc[0].Outcome)
				}
			}
		})
	}
}
