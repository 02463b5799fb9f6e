package pipeline

// Tests against the in-process emulator with the real Google client
// libraries (run/v2, cloudfunctions/v2, impersonate) and real HTTP.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
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

// noSleep is the retry policy of these tests: Retry-After and backoff are
// counted, not waited for; attempts enough that a 30% fault rate cannot
// exhaust them in practice (0.3^12 per call).
var noSleep = gcp.RetryPolicy{MaxAttempts: 12, Sleep: func(context.Context, time.Duration) error { return nil }}

func startEmulator(t *testing.T) *emuEnv { return startEmulatorWith(t, emulator.Options{}) }

func startEmulatorWith(t *testing.T, o emulator.Options) *emuEnv {
	t.Helper()
	o.Project = "demo-project"
	e := testutil.StartSeededWith(t, emulatorSeed, o)
	tg, err := target.Emulator(e.URL(), e.BootstrapToken())
	if err != nil {
		t.Fatal(err)
	}
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

// declWith is a declaration with the given grants block.
func declWith(t *testing.T, grants string) *config.Declaration {
	t.Helper()
	return loadDecl(t, `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
serviceAccounts:
  - name: orders-caller
grants:
`+grants)
}

// A location typo passes the declaration's shape check; the targets are
// read before Terraform changes anything, and the error names where the
// target really is.
func TestCheckTargetsExist(t *testing.T) {
	type miss struct {
		field, name, location, closest string
		foundIn                        []string
		line                           int
	}
	tests := []struct {
		name   string
		grants string
		want   []miss
		// reads: services.get, functions.get, services.list, functions.list
		reads [4]int
	}{
		{
			name: "every target exists",
			grants: `  - service: orders-api
    members: [orders-caller]
  - service: reports-api
    location: europe-west1
    members: [orders-caller]
  - function: resize-image
    location: us-east1
    members: [orders-caller]
`,
			reads: [4]int{2, 1, 0, 0},
		},
		{
			name: "location typo",
			grants: `  - service: orders-api
    location: us-cental1
    members: [orders-caller]
`,
			want:  []miss{{"grants[0].location", "orders-api", "us-cental1", "us-central1", []string{"us-central1"}, 7}},
			reads: [4]int{1, 0, 1, 0},
		},
		{
			name: "typos in the default location and a grant's, one list for both",
			grants: `  - service: reports-api
    members: [orders-caller]
  - service: orders-api
    location: europe-west1
    members: [orders-caller]
  - function: resize-image
    location: us-east4
    members: [orders-caller]
`,
			want: []miss{
				{"grants[0].location (the declaration's default location)", "reports-api", "us-central1", "europe-west1", []string{"europe-west1"}, 7},
				{"grants[1].location", "orders-api", "europe-west1", "us-central1", []string{"us-central1"}, 9},
				{"grants[2].location", "resize-image", "us-east4", "us-east1", []string{"us-east1"}, 12},
			},
			reads: [4]int{2, 1, 1, 1},
		},
		{
			name: "name typo in a real region",
			grants: `  - service: ordres-api
    members: [orders-caller]
`,
			want:  []miss{{"grants[0].service", "ordres-api", "us-central1", "", nil, 7}},
			reads: [4]int{1, 0, 1, 0},
		},
		{
			name: "nothing of the name, and not a Cloud Run region",
			grants: `  - service: billing-api
    location: us-cental1
    members: [orders-caller]
`,
			want:  []miss{{"grants[0].service", "billing-api", "us-cental1", "us-central1", nil, 7}},
			reads: [4]int{1, 0, 1, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := startEmulator(t)
			d := declWith(t, tt.grants)
			v.e.ResetCalls()
			err := CheckTargetsExist(context.Background(), d, v.clients, 2)
			var me *MissingTargetsError
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.As(err, &me) {
				t.Fatalf("err = %v, want *MissingTargetsError", err)
			}
			var got []miss
			if me != nil {
				for _, m := range me.Missing {
					got = append(got, miss{m.Field, m.Name, m.Location, m.Closest, m.FoundIn, m.Pos.Line})
					if m.File != "invokers.yaml" || !strings.Contains(err.Error(), fmt.Sprintf("invokers.yaml:%d:", m.Pos.Line)) {
						t.Errorf("no file:line in %q", err)
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("missing = %+v\nwant      %+v", got, tt.want)
			}
			calls := v.e.Calls()
			reads := [4]int{calls["run.v2.services.get"], calls["cloudfunctions.v2.functions.get"], calls["run.v2.services.list"], calls["cloudfunctions.v2.functions.list"]}
			if reads != tt.reads {
				t.Errorf("reads (service get, function get, service list, function list) = %v, want %v", reads, tt.reads)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

// An API that keeps failing makes the check incomplete: an error, not a
// missing target.
func TestCheckTargetsExistAPIFailure(t *testing.T) {
	v := startEmulator(t)
	d := declWith(t, "  - service: orders-api\n    members: [orders-caller]\n")
	v.e.FailNext(1000, http.StatusServiceUnavailable)
	t.Logf("the retry policy makes %d attempts", noSleep.MaxAttempts)
	err := CheckTargetsExist(context.Background(), d, v.clients, 0)
	var me *MissingTargetsError
	if err == nil || errors.As(err, &me) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v", err)
	}
	if n := v.e.Calls()["run.v2.services.get"]; n != noSleep.MaxAttempts {
		t.Errorf("%d reads, want %d (the retry policy's attempts)", n, noSleep.MaxAttempts)
	}
}

func TestClosest(t *testing.T) {
	for _, tt := range []struct {
		s    string
		in   []string
		want string
	}{
		{"us-cental1", CloudRunRegions, "us-central1"},
		{"europe-wst1", CloudRunRegions, "europe-west1"},
		{"asia-northeast", CloudRunRegions, "asia-northeast1"},
		{"us-east4", []string{"us-east1", "europe-west4"}, "us-east1"},
		{"x", nil, ""},
	} {
		if got := Closest(tt.s, tt.in); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

// The run of the report: with 30% of API calls answered 429 (with
// Retry-After) or 503, ten invoke runs each mint their caller's token and
// pass; every failed generateIdToken was retried.
func TestInvokeUnderAPIFaults(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			ctx := context.Background()
			v := startEmulatorWith(t, emulator.Options{ErrorRate: 0.3, ErrorCode: code})
			d := loadDecl(t, emulatorDecl)
			rep, err := (&verify.Verifier{Clients: v.clients}).Verify(ctx, Expectations(d))
			if err != nil || rep.Results[0].Err != nil {
				t.Fatalf("verify: %v, %v", err, rep.Results[0].Err)
			}
			v.e.ResetCalls()
			var retries atomic.Int32
			policy := noSleep
			policy.OnRetry = func(_ *http.Request, status int, _ time.Duration) {
				if status != code {
					t.Errorf("retried a %d", status)
				}
				retries.Add(1)
			}
			const runs = 10
			for i := range runs {
				srcs := &Sources{Target: v.target, Decl: d, Retry: policy}
				cases, _, err := InvokeCases(ctx, d, rep, srcs)
				if err != nil {
					t.Fatal(err)
				}
				c := cases[0]
				c.Refused, c.ProbeUnauthenticated = nil, false
				rs := invoke.New(invoke.Options{MaxWait: invoke.NoWait}).RunCase(ctx, c)
				if v := invoke.Summarize(rs); v != invoke.VerdictPass {
					t.Fatalf("run %d: %v: %+v", i, v, rs)
				}
			}
			mints := v.e.Calls()["iamcredentials.v1.generateIdToken"]
			if mints != runs+int(retries.Load()) {
				t.Errorf("%d generateIdToken requests for %d runs and %d retries", mints, runs, retries.Load())
			}
			t.Logf("%d runs passed; %d of %d generateIdToken requests were answered %d and retried", runs, retries.Load(), mints, code)
		})
	}
}
