package cli

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gidtoken "google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// invoke through its run function against an in-process emulator (refused
// callers, --credentials, bad tokens, --max-wait), and the four token
// sources through the binary against `emulator serve`.

// A caller without a grant is refused (refusedCaller passes); once it has
// a grant added out of band, invoke fails with exit 4 and says so.
func TestInvokeRefusedCaller(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: orders-caller
  - accountId: audit-bot
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: orders-caller
  - name: audit-bot
grants:
  - service: orders-api
    members: [orders-caller]
    invoke:
      refusedCaller: audit-bot
`)
	r := p.mustRun(t, 0, nil, "invoke", "-f", file)
	rows, _ := proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "service orders-api", "refuses "+sa("audit-bot"), "PASS", "GET / → 403 (expected 403)")
	if n := p.Calls()["run.dataplane.invoke.denied"]; n != 1 {
		t.Errorf("%d calls denied by IAM, want 1 (audit-bot's)", n)
	}

	addInvokerVia(t, p.opts(), "orders-api", sa("audit-bot"))
	r = p.mustRun(t, cmdutil.ExitInvokeFailed, nil, "invoke", "-f", file)
	rows, _ = proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "service orders-api", "refuses "+sa("audit-bot"), "FAIL",
		"caller "+sa("audit-bot")+" was allowed (200) but has no declared grant on service orders-api")
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "PASS", "→ 200")
	if !strings.Contains(r.Stderr, "invocation failed") {
		t.Errorf("stderr: %s", r.Stderr)
	}
}

// A --credentials caller the declaration does not know is a usage error
// before anything runs: run provisions nothing, invoke reads nothing.
func TestCredentialsCheckedFirst(t *testing.T) {
	t.Parallel()
	p := startProofEmu(t, proofQuickstartSeed(t), nil)
	dir, file := quickstartCopy(t)
	for _, args := range [][]string{
		{"run", "-f", file, "--auto-approve", "--credentials", "orders-caller=metadata", "--credentials", "ghost=metadata"},
		{"invoke", "-f", file, "--credentials", "ghost=metadata"},
	} {
		r := p.run(t, nil, args...)
		if r.Code != cmdutil.ExitUsage || !strings.Contains(r.Stderr, `credentials for "ghost": no service account with that short name in `+file) {
			t.Errorf("%s: exit %d, want %d naming ghost\n%s", args[0], r.Code, cmdutil.ExitUsage, r.Stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".invokerctl")); !os.IsNotExist(err) {
		t.Errorf("run made a working directory before refusing its flags")
	}
	for k, n := range p.Calls() {
		t.Errorf("the emulator was called (%s ×%d)", k, n)
	}
}

// Explicit tokens that the service would refuse are refused before any
// call, with a message that says why: another audience (both named), an
// expired token, a token of another account. Not parallel: a token-env
// source reads the process environment, which the test sets.
func TestInvokeBadTokensRefused(t *testing.T) {
	p := startProofEmu(t, seedHead+`serviceAccounts:
  - accountId: orders-caller
  - accountId: billing-caller
services:
  - name: orders-api
    customAudiences: [https://orders.example.com]
    policy:
      - role: roles/run.invoker
        members:
          - serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com
          - serviceAccount:billing-caller@demo-project.iam.gserviceaccount.com
`, nil)
	file := writeDecl(t, `serviceAccounts:
  - name: orders-caller
  - name: billing-caller
grants:
  - service: orders-api
    members: [orders-caller, billing-caller]
`)
	uri := proofServiceURI(t, p.opts(), "orders-api")
	dir := t.TempDir()
	ctx := context.Background()

	// The control: a good token handed over in a file, for one of the
	// service's custom audiences, gets through.
	good := proofWrite(t, dir, "good.jwt", proofMint(t, p.opts(), proofEmail("orders-caller"), "https://orders.example.com"))
	r := p.run(t, nil, "invoke", "-f", file, "--format", "json", "--credentials", "orders-caller=token-file:"+good)
	if d := reportJSON(t, r); r.Code != 0 || d.Invoke[0].Outcome != "pass" || d.Invoke[0].Audience != "https://orders.example.com" {
		t.Fatalf("a good token for the custom audience: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	// A token for another audience, minted with a key through Google's
	// own idtoken library.
	_, key := proofKey(t, p.opts(), dir, proofEmail("orders-caller"))
	ts, err := gidtoken.NewTokenSource(ctx, "https://elsewhere.example.com", option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if got := proofCall(t, uri, wrong.AccessToken); got != http.StatusUnauthorized {
		t.Fatalf("the service answered %d to the wrong-audience token, want 401", got)
	}
	wrongFile := proofWrite(t, dir, "wrong-audience.jwt", wrong.AccessToken+"\n")
	dataPlane := p.Calls()["run.dataplane.invoke"]
	r = p.mustRun(t, cmdutil.ExitInvokeFailed, nil, "invoke", "-f", file, "--credentials", "orders-caller=token-file:"+wrongFile)
	rows, _ := proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "FAIL",
		`the token from token file `+wrongFile+` has audience "https://elsewhere.example.com", but the service accepts only "`+uri+`"`)
	// Refused before the call: only the unauthenticated probe reached the service.
	if n := p.Calls()["run.dataplane.invoke"] - dataPlane; n != 1 {
		t.Errorf("%d data-plane calls, want 1 (the unauthenticated probe)", n)
	}

	// An expired token: minted while the emulator's clock is two hours
	// behind, so it expired an hour ago.
	p.offset.Store(int64(-2 * time.Hour))
	expired := proofMint(t, p.opts(), proofEmail("orders-caller"), uri)
	p.offset.Store(0)
	if got := proofCall(t, uri, expired); got != http.StatusUnauthorized {
		t.Fatalf("the service answered %d to the expired token, want 401", got)
	}
	for _, how := range []struct {
		spec   string
		env    []string
		origin string
	}{
		{"orders-caller=token-env:ORDERS_ID_TOKEN", []string{"ORDERS_ID_TOKEN=" + expired}, "environment variable ORDERS_ID_TOKEN"},
		{"orders-caller=token-file:" + proofWrite(t, dir, "expired.jwt", expired), nil, "token file " + filepath.Join(dir, "expired.jwt")},
	} {
		for _, kv := range how.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		r = p.mustRun(t, cmdutil.ExitInvokeFailed, nil, "invoke", "-f", file, "--credentials", how.spec)
		rows, _ = proofTable(t, r.Stdout)
		row := proofFind(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"))
		if row.result != "FAIL" || !strings.Contains(row.detail, "the token from "+how.origin+" expired at ") ||
			!strings.Contains(row.detail, "ago); obtain a fresh one") {
			t.Errorf("expired token (%s): %s %q", how.spec, row.result, row.detail)
		}
		proofNoTokenText(t, "output with the expired token", r.Stdout+r.Stderr, expired)
	}

	// A valid token of billing-caller, who may call orders-api too, handed
	// over as orders-caller's: it would prove billing-caller's grant.
	billing := proofMint(t, p.opts(), proofEmail("billing-caller"), uri)
	t.Setenv("ORDERS_ID_TOKEN", billing)
	r = p.mustRun(t, cmdutil.ExitInvokeFailed, nil, "invoke", "-f", file, "--credentials", "orders-caller=token-env:ORDERS_ID_TOKEN")
	rows, _ = proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "FAIL",
		"is for "+proofEmail("billing-caller")+", not for the caller "+proofEmail("orders-caller"))
}

// A --max-wait too short for the propagation fails clearly, after waits
// that add up to no more than it; --max-wait 0 is a single attempt. The
// command waits on a fake clock: the emulator's data plane takes a real
// minute, so every attempt is refused.
func TestInvokeMaxWait(t *testing.T) {
	t.Parallel()
	p := startProofEmu(t, seedHead+`serviceAccounts:
  - accountId: orders-caller
services:
  - name: orders-api
`, func(o *emulator.Options) { o.PropagationDelay = time.Minute })
	file := writeDecl(t, `serviceAccounts:
  - name: orders-caller
grants:
  - service: orders-api
    members: [orders-caller]
`)
	addInvokerVia(t, p.opts(), "orders-api", sa("orders-caller"))
	// The control plane has it at once...
	p.mustRun(t, 0, nil, "verify", "-f", file)
	// ...the data plane only after a minute: invoke gives up after 2s.
	fake := clock.NewFake(time.Now())
	start := time.Now()
	r := p.runWith(t, inProcess{Env: p.env(), Clock: fake}, "invoke", "-f", file, "--max-wait", "2s", "--format", "json")
	wantExit(t, r, cmdutil.ExitInvokeFailed, "invoke --max-wait 2s")
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("invoke took %s with --max-wait 2s on a fake clock", el)
	}
	if waited := fake.TotalSlept(); waited == 0 || waited > 2*time.Second {
		t.Errorf("invoke waited %s in all (%v), want more than nothing and at most --max-wait 2s", waited, fake.Slept())
	}
	d := reportJSON(t, r)
	inv := d.Invoke[0]
	if inv.Outcome != "fail" || inv.Got != 403 || inv.Attempts < 2 || !strings.Contains(inv.Reason, "still refused with 403 after 2s") ||
		!strings.Contains(inv.Reason, sa("orders-caller")) {
		t.Errorf("the call as orders-caller: %+v", inv)
	}
	if !strings.Contains(r.Stderr, "waiting up to 2s per check for IAM propagation") {
		t.Errorf("stderr does not give the bound:\n%s", r.Stderr)
	}

	// --max-wait 0 is one attempt, not the 7-minute default: no wait at all.
	fake = clock.NewFake(time.Now())
	r = p.runWith(t, inProcess{Env: p.env(), Clock: fake}, "invoke", "-f", file, "--max-wait", "0", "--format", "json")
	wantExit(t, r, cmdutil.ExitInvokeFailed, "invoke --max-wait 0")
	if inv := reportJSON(t, r).Invoke[0]; inv.Outcome != "fail" || inv.Attempts != 1 || !strings.Contains(inv.Reason, "still refused with 403") {
		t.Errorf("--max-wait 0: %+v", inv)
	}
	if slept := fake.Slept(); len(slept) != 0 {
		t.Errorf("--max-wait 0 waited %v", slept)
	}
}

// Each of the four token sources makes a real call through the binary,
// against `emulator serve` as a user runs it: impersonation (the default),
// a service-account key, the metadata server, and a token from a file or
// an environment variable. Each caller holds a grant on its own service
// only, so each pass proves the token was its caller's.
func TestInvokeTokenSources(t *testing.T) {
	needE2E(t)
	t.Parallel()
	dir := t.TempDir()
	names := []string{"imp", "key", "meta", "file", "env"}
	var seed, decl strings.Builder
	seed.WriteString(seedHead + "serviceAccounts:\n")
	decl.WriteString("serviceAccounts:\n")
	for _, n := range names {
		seed.WriteString("  - accountId: " + n + "-caller\n")
		decl.WriteString("  - name: " + n + "-caller\n")
	}
	seed.WriteString("services:\n")
	decl.WriteString("grants:\n")
	for _, n := range names {
		seed.WriteString("  - name: " + n + "-api\n    policy:\n      - role: roles/run.invoker\n        members: [" + sa(n+"-caller") + "]\n")
		decl.WriteString("  - service: " + n + "-api\n    members: [" + n + "-caller]\n")
	}
	seedFile := proofWrite(t, dir, "seed.yaml", seed.String())
	file := writeDecl(t, decl.String())
	exports := proofServe(t, "--seed", seedFile, "--metadata-account", proofEmail("meta-caller"))
	opts := testutil.ClientOptions(exports["INVOKERCTL_EMULATOR_URL"], exports["INVOKERCTL_EMULATOR_TOKEN"])

	keyFile, _ := proofKey(t, opts, t.TempDir(), proofEmail("key-caller"))
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	fileTok := proofMint(t, opts, proofEmail("file-caller"), proofServiceURI(t, opts, "file-api"))
	tokFile := proofWrite(t, t.TempDir(), "id-token", fileTok)
	envTok := proofMint(t, opts, proofEmail("env-caller"), proofServiceURI(t, opts, "env-api"))
	args := []string{"invoke", "-f", file, "--format", "json",
		"--credentials", "key-caller=key:" + keyFile,
		"--credentials", "meta-caller=metadata",
		"--credentials", "file-caller=token-file:" + tokFile,
		"--credentials", "env-caller=token-env:ENV_CALLER_TOKEN"}
	want := map[string]string{
		"imp":  "impersonation of " + proofEmail("imp-caller"),
		"key":  "service-account key " + keyFile + " (" + proofEmail("key-caller") + ")",
		"meta": "metadata server " + exports["GCE_METADATA_HOST"] + " (attached service account)",
		"file": "token file " + tokFile,
		"env":  "environment variable ENV_CALLER_TOKEN",
	}
	check := func(t *testing.T, r cliResult) {
		t.Helper()
		wantExit(t, r, 0, "invoke")
		d := reportJSON(t, r)
		seen := map[string]bool{}
		for _, inv := range d.Invoke {
			if inv.Check != "invoke" {
				continue
			}
			n := strings.TrimSuffix(strings.TrimPrefix(inv.Caller, "serviceAccount:"), "-caller@demo-project.iam.gserviceaccount.com")
			seen[n] = true
			if inv.Outcome != "pass" || inv.Got != 200 || inv.TokenSource != want[n] || !strings.HasPrefix(inv.Target, "service "+n+"-api ") {
				t.Errorf("%s: %+v; want a pass with token source %q", n, inv, want[n])
			}
		}
		if len(seen) != len(names) {
			t.Errorf("callers invoked: %v", seen)
		}
		proofNoTokenText(t, "invoke output", r.Stdout+r.Stderr, fileTok, envTok)
	}
	// The calls reached the services: each caller let in once, each
	// service refused one call without a token.
	dataPlane := func(t *testing.T, want int) {
		t.Helper()
		c := testutil.Calls(t, exports["INVOKERCTL_EMULATOR_URL"], exports["INVOKERCTL_EMULATOR_TOKEN"])
		if c["run.dataplane.invoke.ok"] != want || c["run.dataplane.invoke.no_token"] != want {
			t.Errorf("data-plane calls: ok %d, no_token %d; want %d each", c["run.dataplane.invoke.ok"], c["run.dataplane.invoke.no_token"], want)
		}
	}
	r := proofRunServed(t, exports, []string{"ENV_CALLER_TOKEN=" + envTok}, args...)
	check(t, r)
	dataPlane(t, len(names))

	// The exports point the metadata source at the emulator; without
	// GCE_METADATA_HOST, the emulator targeted still serves it.
	r = proofRunServed(t, exports, []string{"ENV_CALLER_TOKEN=" + envTok, "GCE_METADATA_HOST="}, args...)
	check(t, r)
	dataPlane(t, 2*len(names))
}
