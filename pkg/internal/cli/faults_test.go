package cli

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// Fault tests: the real commands against an emulator with one of its
// knobs set (quota, 429 bursts with Retry-After, 503 runs, latency near
// the request timeout, a propagation delay past --max-wait, a restart from
// the state file), each asserting the outcome: exit code, report, the
// emulator's final state and its request log.

// faultQuickstartInvokers is what the quickstart declares on each
// service, the on-upload trigger's own grant (from the seed) aside.
var faultQuickstartInvokers = map[string][]string{
	"orders-api":   {sa("orders-caller")},
	"billing-api":  {sa("billing-caller"), sa("orders-caller")},
	"resize-image": {sa("orders-caller")},
	"on-upload":    {sa("billing-caller"), sa("upload-trigger")},
}

// faultServiceResource is the resource name of a service of demo-project.
func faultServiceResource(service string) string {
	return "projects/demo-project/locations/us-central1/services/" + service
}

// faultInvokers reads the roles/run.invoker members stored on service,
// past the API (nothing counted or logged), sorted; a member bound twice
// fails the test.
func faultInvokers(t *testing.T, emu *emulator.Emulator, service string) []string {
	t.Helper()
	b, err := emu.IAMPolicy(faultServiceResource(service))
	if err != nil {
		t.Fatalf("policy of %s: %v", service, err)
	}
	var p struct {
		Bindings []struct {
			Role      string         `json:"role"`
			Members   []string       `json:"members"`
			Condition map[string]any `json:"condition"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("policy of %s: %v\n%s", service, err, b)
	}
	var out []string
	for _, bd := range p.Bindings {
		if bd.Role == "roles/run.invoker" && bd.Condition == nil {
			out = append(out, bd.Members...)
		}
	}
	slices.Sort(out)
	if c := slices.Compact(slices.Clone(out)); len(c) != len(out) {
		t.Errorf("%s binds a member twice: %v", service, out)
	}
	return out
}

// faultWantInvokers fails unless every service holds exactly want's
// members (nil: no invoker at all).
func faultWantInvokers(t *testing.T, emu *emulator.Emulator, want map[string][]string) {
	t.Helper()
	for svc, members := range want {
		if got := faultInvokers(t, emu, svc); !eq(got, members) {
			t.Errorf("%s invokers = %v, want %v", svc, got, members)
		}
	}
}

// faultWantQuickstartVerified fails unless the --format json report of
// verify r shows each of the quickstart's 5 grants bound on its service.
func faultWantQuickstartVerified(t *testing.T, what string, r cliResult) {
	t.Helper()
	present := 0
	for _, v := range reportJSON(t, r).Verify {
		for _, m := range v.Members {
			if m.Status != "present-direct" {
				t.Errorf("%s: %s on %s is %s", what, m.Member, v.Target, m.Status)
			}
			present++
		}
	}
	if present != 5 {
		t.Errorf("%s reported %d grants, want the quickstart's 5:\n%s", what, present, r.Stdout)
	}
}

// faultRetryKey identifies a request and its retries: the same method,
// path, query and body.
func faultRetryKey(r emulator.Request) string {
	return r.Method + " " + r.Path + "?" + r.Query + "\n" + r.Body
}

// faultThrottled counts the requests of log a knob answered 429, and fails
// the test for each one whose retry (the next identical request) came
// sooner than its Retry-After, by the emulator's clock.
func faultThrottled(t *testing.T, log []emulator.Request) int {
	t.Helper()
	n := 0
	for i, r := range log {
		if r.Fault != http.StatusTooManyRequests {
			continue
		}
		n++
		secs, err := strconv.Atoi(r.RetryAfter)
		if err != nil {
			t.Errorf("429 to %s without a Retry-After in seconds: %q", r, r.RetryAfter)
			continue
		}
		floor := time.Duration(secs) * time.Second
		for _, next := range log[i+1:] {
			if faultRetryKey(next) == faultRetryKey(r) {
				if gap := next.Time.Sub(r.Time); gap < floor {
					t.Errorf("%s answered 429 with Retry-After %s was retried %s later", r, r.RetryAfter, gap.Round(time.Millisecond))
				}
				break
			}
		}
	}
	return n
}

// Provisioning and verify through throttling: plan, apply, verify and
// destroy of the quickstart with real terraform, against an emulator with
// a quota or with bursts of 429s on the Run v2 policy paths. Every command
// succeeds, the policies hold exactly the declared members once, the
// emulator did throttle, and each 429 was retried no sooner than its
// Retry-After (a floor: the provider's own back-off is scaled down in
// tests, Retry-After never).
func TestFaultThrottledProvisioning(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	burst := func(path string, n int) emulator.Fault {
		return emulator.Fault{Path: path, Count: n, Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "1"}}
	}
	tests := []struct {
		name string
		opts emulator.Options
		// The faults added before each step; every one must be met.
		// (The first plan reads no policy: there is no state yet.)
		apply, replan, verify, destroy []emulator.Fault
		// quota: every step but the first plan must have met the quota
		// at least once; otherwise each step is answered exactly its
		// faults' 429s.
		quota bool
	}{
		{name: "quota 5 per second", opts: emulator.Options{QPS: 5}, quota: true},
		{name: "429 bursts with Retry-After on Run v2 policies",
			apply: []emulator.Fault{
				burst("services/orders-api:getIamPolicy", 2),
				burst("services/billing-api:setIamPolicy", 2),
				burst("services/resize-image:setIamPolicy", 1),
			},
			replan: []emulator.Fault{burst("services/orders-api:getIamPolicy", 2)},
			verify: []emulator.Fault{
				burst("services/orders-api:getIamPolicy", 2),
				burst("services/billing-api:getIamPolicy", 3),
			},
			destroy: []emulator.Fault{burst("services/billing-api:setIamPolicy", 2)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := tc.opts
			o.SeedFile = quickstartSeed()
			emu := testutil.StartEmulator(t, o)
			_, file := quickstartCopy(t)
			c := inProcess{Env: emuEnv(emu), Terraform: true}
			step := func(code int, faults []emulator.Fault, quota bool, args ...string) cliResult {
				t.Helper()
				emu.ResetRequests()
				want := 0
				for _, f := range faults {
					emu.InjectFault(f)
					want += f.Count
				}
				r := runInProcess(t, c, append(args, "-f", file, "--emulator="+emu.URL())...)
				wantExit(t, r, code, strings.Join(args, " "))
				if left := emu.PendingFaults(); len(left) != 0 {
					t.Errorf("%s: faults never met: %+v", args[0], left)
				}
				n := faultThrottled(t, emu.Requests())
				if quota && n == 0 || !tc.quota && n != want {
					t.Errorf("%s: the emulator answered %d 429s, want %s", args[0], n, map[bool]string{true: "some", false: strconv.Itoa(want)}[tc.quota])
				}
				t.Logf("%s: %d 429s, each waited out", args[0], n)
				return r
			}
			step(2, nil, false, "plan")
			step(0, tc.apply, tc.quota, "apply", "--auto-approve")
			faultWantInvokers(t, emu, faultQuickstartInvokers)
			if r := step(0, tc.replan, tc.quota, "plan"); !strings.Contains(r.Stdout, "No changes") {
				t.Errorf("the plan after apply has changes:\n%s", r.Stdout)
			}

			r := step(0, tc.verify, tc.quota, "verify", "--format", "json")
			faultWantQuickstartVerified(t, "verify", r)

			step(0, tc.destroy, tc.quota, "destroy", "--auto-approve")
			faultWantInvokers(t, emu, map[string][]string{
				"orders-api": nil, "billing-api": nil, "resize-image": nil, "on-upload": {sa("upload-trigger")},
			})
			t.Logf("took %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

// faultCountPath counts the requests of log to method path.
func faultCountPath(log []emulator.Request, method, path string) int {
	n := 0
	for _, r := range log {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// verify and invoke through 503 runs, latency near the request timeout and
// a propagation delay past --max-wait, in-process against an emulator with
// the knob set: the exit code, the report naming what failed, and how
// often the faulted path was tried.
func TestFaultProof(t *testing.T) {
	t.Parallel()
	const (
		accounts = seedHead + `serviceAccounts:
  - accountId: orders-caller
services:
  - name: orders-api
`
		seed = accounts + `    policy:
      - role: roles/run.invoker
        members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
`
		policyPath  = "/v2/projects/demo-project/locations/us-central1/services/orders-api:getIamPolicy"
		servicePath = "/v2/projects/demo-project/locations/us-central1/services/orders-api"
	)
	decl := writeDecl(t, "serviceAccounts:\n  - name: orders-caller\ngrants:\n  - service: orders-api\n    members: [orders-caller]\n")
	run503 := func(path string, n int) []emulator.Fault {
		return []emulator.Fault{{Method: http.MethodGet, Path: path, Count: n, Status: http.StatusServiceUnavailable}}
	}
	tests := []struct {
		name   string
		opts   emulator.Options
		faults []emulator.Fault
		args   []string
		// fake paces invoke's waits on a fake clock.
		fake bool
		code int
		// want are texts the output (stdout, then stderr) must hold.
		want []string
		// path was tried tries times (0: not checked).
		path  string
		tries int
	}{
		{name: "verify: 503s within the retry budget", faults: run503(policyPath, 3),
			args: []string{"verify"}, code: cmdutil.ExitOK, want: []string{"grant " + sa("orders-caller") + "  PASS    present-direct", "2 passed"},
			path: policyPath, tries: 4},
		{name: "verify: 503s past the retry budget", faults: run503(policyPath, 100),
			args: []string{"verify"}, code: cmdutil.ExitError, want: []string{
				"read policies  FAIL    reading IAM policy of projects/demo-project/locations/us-central1/services/orders-api: googleapi: Error 503",
				"verification incomplete"},
			path: policyPath, tries: 6},
		{name: "invoke: 503s within the retry budget", faults: run503(servicePath, 3),
			args: []string{"invoke"}, code: cmdutil.ExitOK, want: []string{"invoke as " + sa("orders-caller") + "  PASS    GET / → 200", "2 passed"},
			path: servicePath, tries: 4},
		{name: "invoke: 503s past the retry budget", faults: run503(servicePath, 100),
			args: []string{"invoke"}, code: cmdutil.ExitError, want: []string{
				"ERROR   GET / → no response; cannot invoke: reading service projects/demo-project/locations/us-central1/services/orders-api: googleapi: Error 503",
				"invocation incomplete"},
			path: servicePath, tries: 6},
		// Latency delays every API request and every call to the
		// service alike: the token request and the call are each bounded
		// by --request-timeout; --max-wait 0 makes one attempt of each.
		{name: "invoke: latency just under --request-timeout", opts: emulator.Options{Latency: 250 * time.Millisecond},
			args: []string{"invoke", "--request-timeout", "400ms", "--max-wait", "0"}, code: cmdutil.ExitOK,
			want: []string{"invoke as " + sa("orders-caller") + "  PASS    GET / → 200", "refuses unauthenticated", "2 passed"}},
		{name: "invoke: latency just over --request-timeout", opts: emulator.Options{Latency: 550 * time.Millisecond},
			args: []string{"invoke", "--request-timeout", "400ms", "--max-wait", "0"}, code: cmdutil.ExitError,
			want: []string{
				"service orders-api (demo-project/us-central1)  invoke as " + sa("orders-caller") +
					"  ERROR   GET / → no response (expected 200); request timed out: the token source gave no token within 400ms",
				"service orders-api (demo-project/us-central1)  refuses unauthenticated" +
					"                                                      ERROR   GET / → no response (expected 401 or 403)",
				"request timed out: no answer within 400ms",
				"0 passed (0 with warnings), 0 failed, 0 skipped, 2 could not be completed",
				"invocation incomplete"}},
		{name: "invoke: propagation delay past --max-wait", opts: emulator.Options{PropagationDelay: time.Hour}, fake: true,
			args: []string{"invoke", "--max-wait", "2s"}, code: cmdutil.ExitInvokeFailed,
			want: []string{
				"service orders-api (demo-project/us-central1)  invoke as " + sa("orders-caller") +
					"  FAIL    GET / → 403 (expected 200), ",
				"attempts; IAM propagation wait exceeded: still refused with 403 after 2s",
				"1 passed (0 with warnings), 1 failed", "invocation failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			opts := tc.opts
			tweak := func(o *emulator.Options) { o.Latency, o.PropagationDelay = opts.Latency, opts.PropagationDelay }
			var p *proofEmu
			c := inProcess{}
			if opts.PropagationDelay > 0 {
				// A seeded grant is in force at once; one made through
				// the API waits out the propagation delay.
				p = startProofEmu(t, accounts, tweak)
				addInvokerVia(t, p.opts(), "orders-api", sa("orders-caller"))
			} else {
				p = startProofEmu(t, seed, tweak)
			}
			c.Env = p.env()
			if tc.fake {
				c.Clock = clock.NewFake(time.Now())
			}
			for _, f := range tc.faults {
				p.InjectFault(f)
			}
			r := p.runWith(t, c, append(tc.args, "-f", decl)...)
			wantExit(t, r, tc.code, strings.Join(tc.args, " "))
			out := r.Stdout + r.Stderr
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s\n%s", w, r.Stdout, r.Stderr)
				}
			}
			if tc.path != "" {
				if n := faultCountPath(p.Requests(), http.MethodGet, tc.path); n != tc.tries {
					t.Errorf("%s tried %d times, want %d", tc.path, n, tc.tries)
				}
			}
			t.Logf("took %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

// The emulator restarted from its state file mid-run: the quickstart is
// applied against `emulator serve --state F`, that emulator is stopped,
// and a new one on the same file (another port, its own token: the
// exports change) has every account and grant. verify and invoke pass
// against it and a second plan has nothing to do.
func TestFaultEmulatorRestartedFromState(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	start := time.Now()
	state := filepath.Join(t.TempDir(), "emulator-state.json")
	_, file := quickstartCopy(t)

	first := startServe(t, "--seed", quickstartSeed(), "--state", state)
	r := proofRunServed(t, first.exports, nil, "apply", "-f", file, "--auto-approve")
	wantExit(t, r, 0, "apply")
	if exited, err := first.stop(30 * time.Second); !exited || err != nil {
		t.Fatalf("the first emulator did not stop cleanly: exited %v, %v; stderr: %s", exited, err, first.stderr)
	}

	second := startServe(t, "--state", state)
	if second.exports["INVOKERCTL_EMULATOR_URL"] == first.exports["INVOKERCTL_EMULATOR_URL"] {
		t.Fatalf("the second emulator listens where the first did: %s", first.exports["INVOKERCTL_EMULATOR_URL"])
	}
	r = proofRunServed(t, second.exports, nil, "verify", "-f", file, "--format", "json")
	wantExit(t, r, 0, "verify after the restart")
	faultWantQuickstartVerified(t, "verify after the restart", r)

	r = proofRunServed(t, second.exports, nil, "invoke", "-f", file, "--format", "json")
	wantExit(t, r, 0, "invoke after the restart")
	passed := 0
	for _, inv := range reportJSON(t, r).Invoke {
		if inv.Outcome == "pass" {
			passed++
		} else if inv.Outcome != "skip" {
			t.Errorf("invoke after the restart: %+v", inv)
		}
	}
	if passed == 0 {
		t.Errorf("invoke after the restart passed no check:\n%s", r.Stdout)
	}
	calls := testutil.Calls(t, second.exports["INVOKERCTL_EMULATOR_URL"], second.exports["INVOKERCTL_EMULATOR_TOKEN"])
	if calls["run.dataplane.invoke.ok"] == 0 {
		t.Errorf("no call reached a service of the restarted emulator: %v", calls)
	}

	r = proofRunServed(t, second.exports, nil, "plan", "-f", file)
	wantExit(t, r, 0, "plan after the restart")
	if !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("the plan after the restart has changes:\n%s", r.Stdout)
	}
	t.Logf("took %s", time.Since(start).Round(time.Millisecond))
}
