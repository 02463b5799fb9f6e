package invoke_test

// These tests drive the real Google client libraries (idtoken, impersonate,
// compute/metadata, iam/v1, run/v2, cloudfunctions/v2) through pkg/idtoken
// and pkg/invoke against the in-process emulator, whose services are real
// loopback origins that check ID tokens and run.routes.invoke.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	functions "google.golang.org/api/cloudfunctions/v2"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

const (
	project  = "demo-project"
	location = "us-central1"
	parent   = "projects/" + project + "/locations/" + location
)

func email(id string) string { return id + "@" + project + ".iam.gserviceaccount.com" }

const seed = `
defaults: {project: demo-project, location: us-central1}
serviceAccounts:
  - accountId: key-caller
  - accountId: imp-caller
  - accountId: hop-account
  - accountId: vm-account
  - accountId: ci-caller
  - accountId: late-caller
  - accountId: stranger
  - accountId: trigger-sa
services:
  - name: orders-api
    customAudiences: [https://orders.example.com]
    policy:
      - role: roles/run.invoker
        members:
          - serviceAccount:key-caller@demo-project.iam.gserviceaccount.com
          - serviceAccount:imp-caller@demo-project.iam.gserviceaccount.com
          - serviceAccount:vm-account@demo-project.iam.gserviceaccount.com
          - serviceAccount:ci-caller@demo-project.iam.gserviceaccount.com
  - name: billing-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:key-caller@demo-project.iam.gserviceaccount.com]
  - name: public-api
    policy: [{role: roles/run.invoker, members: [allUsers]}]
functions:
  - name: on-upload
    eventTrigger:
      eventType: google.cloud.storage.object.v1.finalized
      serviceAccountEmail: trigger-sa@demo-project.iam.gserviceaccount.com
`

type env struct {
	t     *testing.T
	e     *emulator.Emulator
	clock *clock.Fake
	logs  *testutil.SyncBuffer
}

func start(t *testing.T, opts emulator.Options) *env {
	t.Helper()
	clk := clock.NewFake(time.Now())
	logs := &testutil.SyncBuffer{}
	opts.Now, opts.Project = clk.Now, project
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := testutil.StartSeededWith(t, seed, opts)
	return &env{t: t, e: e, clock: clk, logs: logs}
}

func (v *env) opts() []option.ClientOption { return testutil.EmulatorClientOptions(v.e) }

// target reads a service through the Run Admin API v2, as the CLI does.
func (v *env) target(name string) invoke.Target {
	v.t.Helper()
	rs, err := run.NewService(context.Background(), v.opts()...)
	if err != nil {
		v.t.Fatal(err)
	}
	svc, err := rs.Projects.Locations.Services.Get(parent + "/services/" + name).Do()
	if err != nil {
		v.t.Fatal(err)
	}
	return invoke.Target{Name: "service/" + location + "/" + name, Kind: "service", URL: svc.Uri, URLs: svc.Urls,
		CustomAudiences: svc.CustomAudiences}
}

// functionTarget reads a function through Cloud Functions v2.
func (v *env) functionTarget(name string) invoke.Target {
	v.t.Helper()
	fs, err := functions.NewService(context.Background(), v.opts()...)
	if err != nil {
		v.t.Fatal(err)
	}
	fn, err := fs.Projects.Locations.Functions.Get(parent + "/functions/" + name).Do()
	if err != nil {
		v.t.Fatal(err)
	}
	if fn.ServiceConfig == nil || fn.ServiceConfig.Uri == "" {
		v.t.Fatalf("function %s has no service uri: %+v", name, fn.ServiceConfig)
	}
	return invoke.Target{Name: "function/" + location + "/" + name, Kind: "function", URL: fn.ServiceConfig.Uri,
		EventDriven: fn.EventTrigger != nil}
}

// keyFile creates a key for the account through IAM v1 and returns the file.
func (v *env) keyFile(accountID string) []byte {
	v.t.Helper()
	is, err := iam.NewService(context.Background(), v.opts()...)
	if err != nil {
		v.t.Fatal(err)
	}
	k, err := is.Projects.ServiceAccounts.Keys.Create("projects/-/serviceAccounts/"+email(accountID), &iam.CreateServiceAccountKeyRequest{}).Do()
	if err != nil {
		v.t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(k.PrivateKeyData)
	if err != nil {
		v.t.Fatal(err)
	}
	return b
}

// grantTokenCreator gives member roles/iam.serviceAccountTokenCreator on
// the account, through IAM v1 setIamPolicy.
func (v *env) grantTokenCreator(accountID, member string) {
	v.t.Helper()
	is, err := iam.NewService(context.Background(), v.opts()...)
	if err != nil {
		v.t.Fatal(err)
	}
	res := "projects/" + project + "/serviceAccounts/" + email(accountID)
	p, err := is.Projects.ServiceAccounts.GetIamPolicy(res).Do()
	if err != nil {
		v.t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &iam.Binding{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{member}})
	if _, err := is.Projects.ServiceAccounts.SetIamPolicy(res, &iam.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		v.t.Fatal(err)
	}
}

// grantInvoker adds member to roles/run.invoker on the service through Run
// v2 setIamPolicy (read-modify-write with the etag).
func (v *env) grantInvoker(service, member string) {
	v.t.Helper()
	rs, err := run.NewService(context.Background(), v.opts()...)
	if err != nil {
		v.t.Fatal(err)
	}
	res := parent + "/services/" + service
	p, err := rs.Projects.Locations.Services.GetIamPolicy(res).Do()
	if err != nil {
		v.t.Fatal(err)
	}
	p.Bindings = append(p.Bindings, &run.GoogleIamV1Binding{Role: "roles/run.invoker", Members: []string{member}})
	if _, err := rs.Projects.Locations.Services.SetIamPolicy(res, &run.GoogleIamV1SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		v.t.Fatal(err)
	}
}

// impersonationClient is what a caller builds to reach IAM Credentials
// (whose host the library fixes) on the emulator: host rewriting plus the
// caller's access token (here the bootstrap owner's).
func (v *env) impersonationClient() *http.Client {
	return &http.Client{Transport: &oauth2.Transport{
		Source: testutil.TokenSource(v.e),
		Base:   v.e.HTTPClient().Transport,
	}}
}

// mintFor mints an ID token for the account and audience from a key file,
// standing in for a CI system's auth step.
func (v *env) mintFor(accountID, aud string) string {
	v.t.Helper()
	src, err := idtoken.NewKeyJSON(v.keyFile(accountID), "ci key", idtoken.KeyOptions{})
	if err != nil {
		v.t.Fatal(err)
	}
	tok, err := src.Token(context.Background(), aud)
	if err != nil {
		v.t.Fatal(err)
	}
	h := http.Header{}
	tok.SetAuthHeader(h)
	return strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
}

// spy records every Authorization header the invoker sends, so tests can
// look for the token text in outputs.
type spy struct {
	mu     sync.Mutex
	tokens []string
}

func (s *spy) RoundTrip(r *http.Request) (*http.Response, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		s.mu.Lock()
		s.tokens = append(s.tokens, strings.TrimPrefix(h, "Bearer "))
		s.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (s *spy) sent() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

func (v *env) invoker(o invoke.Options) *invoke.Invoker {
	if o.Now == nil {
		o.Now, o.Sleep = v.clock.Now, v.clock.Sleep
	}
	return invoke.New(o)
}

func TestEmulatorFourTokenSources(t *testing.T) {
	v := start(t, emulator.Options{MetadataServiceAccount: email("vm-account")})
	orders := v.target("orders-api")
	if !strings.HasPrefix(orders.URL, "http://127.0.0.1:") {
		t.Fatalf("service uri = %q", orders.URL)
	}

	key, err := idtoken.NewKeyJSON(v.keyFile("key-caller"), "key-caller.json", idtoken.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}

	v.grantTokenCreator("imp-caller", "user:owner@example.com")
	imp, err := idtoken.NewImpersonated(idtoken.ImpersonationOptions{Target: email("imp-caller"), HTTPClient: v.impersonationClient()})
	if err != nil {
		t.Fatal(err)
	}
	// A delegation chain: owner → hop-account → imp-caller.
	v.grantTokenCreator("hop-account", "user:owner@example.com")
	v.grantTokenCreator("imp-caller", "serviceAccount:"+email("hop-account"))
	chain, err := idtoken.NewImpersonated(idtoken.ImpersonationOptions{Target: email("imp-caller"),
		Delegates: []string{email("hop-account")}, HTTPClient: v.impersonationClient()})
	if err != nil {
		t.Fatal(err)
	}

	t.Setenv("GCE_METADATA_HOST", v.e.Addr())
	md := idtoken.NewMetadata(idtoken.MetadataOptions{})

	ciToken := v.mintFor("ci-caller", orders.URL)
	tokenPath := filepath.Join(t.TempDir(), "id-token")
	if err := os.WriteFile(tokenPath, []byte(ciToken), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := idtoken.NewTokenFile(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("INVOKER_ID_TOKEN", ciToken)
	fromEnv, err := idtoken.NewTokenEnv("INVOKER_ID_TOKEN")
	if err != nil {
		t.Fatal(err)
	}

	// Application Default Credentials: a key file named by
	// GOOGLE_APPLICATION_CREDENTIALS...
	adcPath := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(adcPath, v.keyFile("key-caller"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", adcPath)
	adc, err := idtoken.NewADC(context.Background(), idtoken.ADCOptions{OnGCE: func(context.Context) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	// ...and an impersonated_service_account file (gcloud auth
	// application-default login --impersonate-service-account) whose source
	// credentials are hop-account's key.
	var hopKey map[string]any
	if err := json.Unmarshal(v.keyFile("hop-account"), &hopKey); err != nil {
		t.Fatal(err)
	}
	impFile, _ := json.Marshal(map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + email("imp-caller") + ":generateAccessToken",
		"source_credentials":                hopKey,
	})
	impADC, err := idtoken.NewKeyJSON(impFile, "impersonated ADC", idtoken.KeyOptions{HTTPClient: v.e.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		src     idtoken.Source
		account string
		counter string
		target  invoke.Target
	}{
		{"key file", key, "key-caller", "oauth2.token", orders},
		{"ADC key file", adc, "key-caller", "oauth2.token", orders},
		{"ADC impersonated_service_account file", impADC, "imp-caller", "iamcredentials.v1.generateIdToken", orders},
		{"impersonation", imp, "imp-caller", "iamcredentials.v1.generateIdToken", orders},
		{"impersonation with delegates", chain, "imp-caller", "iamcredentials.v1.generateIdToken", orders},
		{"impersonation for a custom audience", imp, "imp-caller", "iamcredentials.v1.generateIdToken", func() invoke.Target {
			tg := orders
			tg.Audience = "https://orders.example.com"
			return tg
		}()},
		{"metadata server", md, "vm-account", "metadata.identity", orders},
		{"token file", fromFile.WithClock(v.clock.Now), "ci-caller", "", orders},
		{"token environment variable", fromEnv.WithClock(v.clock.Now), "ci-caller", "", orders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := v.e.Calls()
			iv := v.invoker(invoke.Options{})
			r := iv.Invoke(context.Background(), tc.target, invoke.Caller{Name: "serviceAccount:" + email(tc.account), Source: tc.src}, invoke.Request{})
			if r.Outcome != invoke.Pass || r.Attempts != 1 || r.Got != 200 {
				t.Fatalf("result = %+v", r)
			}
			after := v.e.Calls()
			if tc.counter != "" && after[tc.counter]-before[tc.counter] != 1 {
				t.Fatalf("%s: %d calls, want 1", tc.counter, after[tc.counter]-before[tc.counter])
			}
			if n := after["run.dataplane.invoke.ok"] - before["run.dataplane.invoke.ok"]; n != 1 {
				t.Fatalf("data plane allowed %d calls, want 1", n)
			}
			// The service saw the expected caller (it echoes it).
			tok, err := tc.src.Token(context.Background(), r.Audience)
			if err != nil || tok.Caller() != email(tc.account) {
				t.Fatalf("caller = %q, %v", tok.Caller(), err)
			}
		})
	}
}

func TestEmulatorImpersonationWithoutTokenCreator(t *testing.T) {
	v := start(t, emulator.Options{})
	orders := v.target("orders-api")
	// The bootstrap owner holds roles/owner but not Token Creator on
	// imp-caller: IAM Credentials refuses, and invoke treats that 403 like a
	// grant still propagating, up to MaxWait.
	imp, err := idtoken.NewImpersonated(idtoken.ImpersonationOptions{Target: email("imp-caller"), HTTPClient: v.impersonationClient()})
	if err != nil {
		t.Fatal(err)
	}
	var progress []invoke.Progress
	iv := v.invoker(invoke.Options{MaxWait: time.Minute, Progress: func(p invoke.Progress) { progress = append(progress, p) }})
	r := iv.Invoke(context.Background(), orders, invoke.Caller{Name: "imp", Source: imp}, invoke.Request{})
	var me *idtoken.MintError
	// No token was minted, so the service gave no verdict: an error, not a
	// refusal.
	if r.Outcome != invoke.Error || r.Attempts != 0 || !errors.Is(r.Err, invoke.ErrPropagationTimeout) || !errors.As(r.Err, &me) {
		t.Fatalf("result = %+v", r)
	}
	if !strings.Contains(r.Reason, "iam.serviceAccounts.getOpenIdToken") || len(progress) == 0 || progress[0].Reason != "token minting refused (403)" {
		t.Fatalf("reason = %q, progress = %+v", r.Reason, progress)
	}
	if n := v.e.Calls()["iamcredentials.v1.generateIdToken"]; n != len(progress)+1 {
		t.Fatalf("%d generateIdToken calls for %d waits", n, len(progress))
	}
}

func TestEmulatorServiceRefusesBadTokens(t *testing.T) {
	v := start(t, emulator.Options{})
	orders := v.target("orders-api")
	billing := v.target("billing-api")
	key, err := idtoken.NewKeyJSON(v.keyFile("key-caller"), "key-caller.json", idtoken.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	iv := v.invoker(invoke.Options{})
	caller := invoke.Caller{Name: "serviceAccount:" + email("key-caller"), Source: key}

	t.Run("wrong audience caught before the call", func(t *testing.T) {
		tok := v.mintFor("key-caller", billing.URL)
		src, err := idtoken.NewStatic(tok, "env BILLING_TOKEN")
		if err != nil {
			t.Fatal(err)
		}
		before := v.e.Calls()["run.dataplane.invoke"]
		r := iv.Invoke(context.Background(), orders, invoke.Caller{Name: "ci", Source: src}, invoke.Request{})
		var am *idtoken.AudienceMismatchError
		if r.Outcome != invoke.Fail || !errors.As(r.Err, &am) || !strings.Contains(r.Reason, billing.URL) || !strings.Contains(r.Reason, orders.URL) {
			t.Fatalf("result = %+v", r)
		}
		if v.e.Calls()["run.dataplane.invoke"] != before {
			t.Fatal("a call was made with a token for another audience")
		}
	})

	t.Run("wrong audience refused by the service (401)", func(t *testing.T) {
		// We believe the service accepts an audience it does not have: the
		// service has the last word, and a 401 is not retried.
		tg := orders
		tg.CustomAudiences = append(tg.CustomAudiences, "https://not-configured.example.com")
		tg.Audience = "https://not-configured.example.com"
		before := v.e.Calls()["run.dataplane.invoke.wrong_audience"]
		r := iv.Invoke(context.Background(), tg, caller, invoke.Request{})
		var ue *invoke.UnauthorizedError
		if r.Outcome != invoke.Fail || r.Attempts != 1 || r.Got != 401 || !errors.As(r.Err, &ue) || ue.TokenAudience != tg.Audience {
			t.Fatalf("result = %+v", r)
		}
		if v.e.Calls()["run.dataplane.invoke.wrong_audience"] != before+1 {
			t.Fatal("the emulator did not refuse the audience")
		}
	})

	t.Run("expired token", func(t *testing.T) {
		raw := v.mintFor("key-caller", orders.URL)
		st, err := idtoken.NewStatic(raw, "env OLD_TOKEN")
		if err != nil {
			t.Fatal(err)
		}
		v.clock.Advance(2 * time.Hour)
		defer v.clock.Advance(-2 * time.Hour)
		// Our own check reports it before any call...
		r := iv.Invoke(context.Background(), orders, invoke.Caller{Name: "ci", Source: st.WithClock(v.clock.Now)}, invoke.Request{})
		var ee *idtoken.ExpiredTokenError
		if r.Outcome != invoke.Fail || r.Attempts != 0 || !errors.As(r.Err, &ee) {
			t.Fatalf("result = %+v", r)
		}
		// ...and the service refuses it with 401 when sent anyway.
		r = iv.Invoke(context.Background(), orders, invoke.Caller{Name: "ci", Source: uncheckedSource(raw)}, invoke.Request{})
		var ue *invoke.UnauthorizedError
		if r.Outcome != invoke.Fail || r.Attempts != 1 || r.Got != 401 || !errors.As(r.Err, &ue) {
			t.Fatalf("result = %+v", r)
		}
		if v.e.Calls()["run.dataplane.invoke.invalid_token"] != 1 {
			t.Fatalf("counters: %v", v.e.Calls())
		}
	})
}

// uncheckedSource hands over a token without the explicit-token checks.
type uncheckedSource string

func (u uncheckedSource) Token(context.Context, string) (idtoken.Token, error) {
	return idtoken.ParseToken(string(u))
}
func (u uncheckedSource) Describe() string { return "unchecked test token" }

func TestEmulatorPropagation(t *testing.T) {
	const delay = 100 * time.Second
	v := start(t, emulator.Options{PropagationDelay: delay})
	orders := v.target("orders-api")
	key, err := idtoken.NewKeyJSON(v.keyFile("late-caller"), "late-caller.json", idtoken.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v.grantInvoker("orders-api", "serviceAccount:"+email("late-caller"))

	var progress []string
	iv := v.invoker(invoke.Options{Progress: func(p invoke.Progress) { progress = append(progress, p.String()) }})
	r := iv.Invoke(context.Background(), orders, invoke.Caller{Name: "serviceAccount:" + email("late-caller"), Source: idtoken.NewCache(key, idtoken.CacheOptions{Now: v.clock.Now})}, invoke.Request{})
	if r.Outcome != invoke.Pass || r.Attempts < 2 {
		t.Fatalf("result = %+v", r)
	}
	if r.PropagationDelay < delay || r.PropagationDelay > delay+invoke.DefaultMaxBackoff {
		t.Fatalf("reported delay %s for a %s propagation", r.PropagationDelay, delay)
	}
	calls := v.e.Calls()
	if calls["run.dataplane.invoke.denied"] != r.Attempts-1 || calls["run.dataplane.invoke.ok"] != 1 {
		t.Fatalf("%d attempts, data plane counters %v", r.Attempts, calls)
	}
	if calls["oauth2.token"] != 1 {
		t.Fatalf("the token was minted %d times across the retries", calls["oauth2.token"])
	}
	if len(progress) != r.Attempts-1 || !strings.Contains(progress[0], "waiting for IAM propagation on service/us-central1/orders-api as serviceAccount:late-caller@") {
		t.Fatalf("progress = %q", progress)
	}

	t.Run("a grant that never arrives times out", func(t *testing.T) {
		stranger, err := idtoken.NewKeyJSON(v.keyFile("stranger"), "stranger.json", idtoken.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		iv := v.invoker(invoke.Options{MaxWait: 3 * time.Minute})
		r := iv.Invoke(context.Background(), orders, invoke.Caller{Name: "serviceAccount:" + email("stranger"), Source: stranger}, invoke.Request{})
		if r.Outcome != invoke.Fail || !errors.Is(r.Err, invoke.ErrPropagationTimeout) || r.Elapsed != 3*time.Minute {
			t.Fatalf("result = %+v", r)
		}
	})
}

func TestEmulatorTokenCache(t *testing.T) {
	v := start(t, emulator.Options{MetadataServiceAccount: email("vm-account")})
	orders := v.target("orders-api")
	v.grantTokenCreator("imp-caller", "user:owner@example.com")
	key, err := idtoken.NewKeyJSON(v.keyFile("key-caller"), "key-caller.json", idtoken.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	imp, err := idtoken.NewImpersonated(idtoken.ImpersonationOptions{Target: email("imp-caller"), HTTPClient: v.impersonationClient()})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GCE_METADATA_HOST", v.e.Addr())
	md := idtoken.NewMetadata(idtoken.MetadataOptions{})

	const n = 5
	for _, tc := range []struct {
		name    string
		src     idtoken.Source
		account string
		counter string
	}{
		{"key file", key, "key-caller", "oauth2.token"},
		{"impersonation", imp, "imp-caller", "iamcredentials.v1.generateIdToken"},
		{"metadata", md, "vm-account", "metadata.identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := idtoken.NewCache(tc.src, idtoken.CacheOptions{Now: v.clock.Now})
			before := v.e.Calls()[tc.counter]
			iv := v.invoker(invoke.Options{})
			caller := invoke.Caller{Name: tc.account, Source: cache}
			for range n {
				if r := iv.Invoke(context.Background(), orders, caller, invoke.Request{}); r.Outcome != invoke.Pass {
					t.Fatalf("result = %+v", r)
				}
			}
			if got := v.e.Calls()[tc.counter] - before; got != 1 || cache.Mints() != 1 {
				t.Fatalf("%d invocations minted %d tokens (%s), cache says %d", n, got, tc.counter, cache.Mints())
			}
			// Shortly before expiry (the emulator's tokens live an hour),
			// a new token is minted.
			v.clock.Advance(56 * time.Minute)
			defer v.clock.Advance(-56 * time.Minute)
			if r := iv.Invoke(context.Background(), orders, caller, invoke.Request{}); r.Outcome != invoke.Pass {
				t.Fatalf("result = %+v", r)
			}
			if got := v.e.Calls()[tc.counter] - before; got != 2 {
				t.Fatalf("after 56 minutes: %d mints, want 2", got)
			}
		})
	}
}

func TestEmulatorProbesAndSkips(t *testing.T) {
	v := start(t, emulator.Options{})
	orders := v.target("orders-api")
	public := v.target("public-api")
	public.Public = true
	upload := v.functionTarget("on-upload")
	if !upload.EventDriven {
		t.Fatal("on-upload should read as event-driven")
	}
	mk := func(id string) invoke.Caller {
		src, err := idtoken.NewKeyJSON(v.keyFile(id), id+".json", idtoken.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return invoke.Caller{Name: "serviceAccount:" + email(id), Source: idtoken.NewCache(src, idtoken.CacheOptions{Now: v.clock.Now})}
	}
	granted, stranger := mk("key-caller"), mk("stranger")

	before := v.e.Calls()
	rs := v.invoker(invoke.Options{}).RunAll(context.Background(), []invoke.Case{
		{Target: orders, Callers: []invoke.Caller{granted}, Refused: []invoke.Caller{stranger}, ProbeUnauthenticated: true},
		// A "refused" caller that in fact holds a grant must fail the run.
		{Target: orders, Refused: []invoke.Caller{granted}},
		{Target: public, Callers: []invoke.Caller{{Name: "allUsers"}}, ProbeUnauthenticated: true},
		{Target: upload, Callers: []invoke.Caller{granted}, ProbeUnauthenticated: true},
	})
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%d", r.Target, r.Check, r.Caller, r.Outcome, r.Got))
	}
	want := []string{
		"service/us-central1/orders-api|invoke|serviceAccount:key-caller@demo-project.iam.gserviceaccount.com|pass|200",
		"service/us-central1/orders-api|refused-caller|serviceAccount:stranger@demo-project.iam.gserviceaccount.com|pass|403",
		"service/us-central1/orders-api|unauthenticated||pass|403",
		"service/us-central1/orders-api|refused-caller|serviceAccount:key-caller@demo-project.iam.gserviceaccount.com|fail|200",
		"service/us-central1/public-api|invoke|allUsers|pass|200",
		"service/us-central1/public-api|unauthenticated||skip|0",
		"function/us-central1/on-upload|invoke|serviceAccount:key-caller@demo-project.iam.gserviceaccount.com|skip|0",
		"function/us-central1/on-upload|unauthenticated||skip|0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !errors.Is(rs[3].Err, invoke.ErrAllowed) || !strings.Contains(rs[3].Reason, "caller serviceAccount:key-caller@demo-project.iam.gserviceaccount.com was allowed (200) but has no declared grant") {
		t.Fatalf("refused-caller failure: %v", rs[3].Reason)
	}
	if !strings.Contains(rs[6].Reason, "event source") {
		t.Fatalf("skip reason = %q", rs[6].Reason)
	}
	after := v.e.Calls()
	if d := after["run.dataplane.invoke"] - before["run.dataplane.invoke"]; d != 5 {
		t.Fatalf("%d data-plane calls, want 5 (none to the event-driven function)", d)
	}
	if d := after["run.dataplane.invoke.no_token"] - before["run.dataplane.invoke.no_token"]; d != 1 {
		t.Fatalf("the unauthenticated probe reached the data plane %d times", d)
	}
}

// TestEmulatorNoTokenInOutput runs a whole flow — the four sources,
// propagation waits, refusals, failures with 401 — and greps every string
// it produced (results, JSON, progress, errors, logs) for the token text.
func TestEmulatorNoTokenInOutput(t *testing.T) {
	v := start(t, emulator.Options{PropagationDelay: 30 * time.Second, MetadataServiceAccount: email("vm-account")})
	orders := v.target("orders-api")
	billing := v.target("billing-api")
	spyT := &spy{}
	var outputs []string
	var mu sync.Mutex
	add := func(s string) { mu.Lock(); outputs = append(outputs, s); mu.Unlock() }

	appLog := &testutil.SyncBuffer{}
	logger := slog.New(idtoken.RedactingHandler(slog.NewJSONHandler(appLog, &slog.HandlerOptions{Level: slog.LevelDebug})))

	v.grantTokenCreator("imp-caller", "user:owner@example.com")
	key, err := idtoken.NewKeyJSON(v.keyFile("key-caller"), "key-caller.json", idtoken.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	imp, _ := idtoken.NewImpersonated(idtoken.ImpersonationOptions{Target: email("imp-caller"), HTTPClient: v.impersonationClient()})
	t.Setenv("GCE_METADATA_HOST", v.e.Addr())
	md := idtoken.NewMetadata(idtoken.MetadataOptions{})
	ciRaw := v.mintFor("ci-caller", orders.URL)
	t.Setenv("CI_ID_TOKEN", ciRaw)
	ci, err := idtoken.NewTokenEnv("CI_ID_TOKEN")
	if err != nil {
		t.Fatal(err)
	}
	late, _ := idtoken.NewKeyJSON(v.keyFile("late-caller"), "late-caller.json", idtoken.KeyOptions{})
	v.grantInvoker("orders-api", "serviceAccount:"+email("late-caller"))

	iv := v.invoker(invoke.Options{
		HTTPClient: &http.Client{Transport: spyT},
		Progress: func(p invoke.Progress) {
			add(p.String())
			logger.Info("progress", "p", p.String(), "status", p.Status)
		},
		OnResult: func(r invoke.Result) {
			b, _ := json.Marshal(r)
			add(string(b))
			logger.Info("result", "target", r.Target, "outcome", string(r.Outcome), "err", r.Err)
		},
	})
	cached := func(s idtoken.Source) idtoken.Source {
		return idtoken.NewCache(s, idtoken.CacheOptions{Now: v.clock.Now})
	}
	badAud := orders
	badAud.CustomAudiences = []string{"https://not-configured.example.com"}
	badAud.Audience = "https://not-configured.example.com"
	rs := iv.RunAll(context.Background(), []invoke.Case{
		{Target: orders, ProbeUnauthenticated: true, Callers: []invoke.Caller{
			{Name: "key", Source: cached(key)}, {Name: "imp", Source: cached(imp)}, {Name: "md", Source: cached(md)},
			{Name: "ci", Source: ci.WithClock(v.clock.Now)}, {Name: "late", Source: cached(late)},
		}},
		{Target: billing, Callers: []invoke.Caller{{Name: "ci", Source: ci}}, Refused: []invoke.Caller{{Name: "key-as-refused", Source: key}, {Name: "imp", Source: imp}}},
		{Target: badAud, Callers: []invoke.Caller{{Name: "key", Source: key}}},
		{Target: orders, Callers: []invoke.Caller{{Name: "expired", Source: uncheckedSource(ciRaw)}}, Request: invoke.Request{Path: "/x"}},
	})
	// The "expired" case above runs with a valid token; run one with the
	// clock moved past its expiry.
	v.clock.Advance(2 * time.Hour)
	rs = append(rs, iv.Invoke(context.Background(), orders, invoke.Caller{Name: "expired", Source: uncheckedSource(ciRaw)}, invoke.Request{}))
	v.clock.Advance(-2 * time.Hour)

	var outcomes []string
	for _, r := range rs {
		outcomes = append(outcomes, string(r.Outcome))
		add(fmt.Sprintf("%v %+v %#v", r, r, r))
		if r.Err != nil {
			add(r.Err.Error())
			add(fmt.Sprintf("%+v", r.Err))
		}
		logger.Error("check", "result", r)
	}
	wantOutcomes := "pass pass pass pass pass pass fail fail pass fail pass fail"
	if strings.Join(outcomes, " ") != wantOutcomes {
		for _, r := range rs {
			t.Logf("%s %s %s %s %s", r.Target, r.Check, r.Caller, r.Outcome, r.Reason)
		}
		t.Fatalf("outcomes = %s, want %s", strings.Join(outcomes, " "), wantOutcomes)
	}
	add(appLog.String())
	add(v.logs.String())

	sent := spyT.sent()
	if len(sent) < 8 {
		t.Fatalf("only %d authenticated calls were made", len(sent))
	}
	all := strings.Join(outputs, "\n")
	for _, tok := range append(sent, ciRaw) {
		payload := strings.Split(tok, ".")[1]
		if strings.Contains(all, tok) || strings.Contains(all, payload) {
			t.Fatalf("token text found in the output")
		}
	}
	if !strings.Contains(all, "waiting for IAM propagation") {
		t.Fatal("the flow did not wait for propagation; the test lost its point")
	}
}
