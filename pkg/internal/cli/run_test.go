package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// `invokerctl run`: plan → apply → verify → invoke, stopping at the first
// failing stage with that stage's exit code. The quickstart, a verify
// failure and the propagation wait go through the built binary; the other
// stops through the run function.

// The quickstart through `run`, as a user runs the binary, against an
// emulator behind a front that records every token crossing its API.
//
// The success path: run provisions the quickstart with terraform, verify
// finds every grant, and every caller gets through; the unauthenticated
// and refused-caller probes are refused; the event-driven function is
// skipped. Then the reports: --format junit is one well-formed XML
// document with one test case per declared grant member, exposure and
// invocation check; --format json parses. And no token text anywhere: not
// in what any command prints (in any format, passing or failing, with
// every token source), not in the files of the declaration's directory
// (the working directory, the Terraform state, the plan). Last, a failing
// grant is a JUnit <failure>.
func TestRunQuickstart(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	p := startProofEmu(t, proofQuickstartSeed(t), func(o *emulator.Options) {
		o.MetadataServiceAccount = proofEmail("billing-caller")
	})
	dir, file := quickstartCopy(t)
	var outputs []string
	do := func(env []string, code int, args ...string) cliResult {
		t.Helper()
		r := p.mustRunBin(t, code, env, args...)
		outputs = append(outputs, r.Stdout, r.Stderr)
		return r
	}

	r := do(nil, 0, "run", "-f", file, "--auto-approve")
	rows, summary := proofTable(t, r.Stdout)
	for _, g := range []struct{ target, member string }{
		{"service orders-api", "orders-caller"}, {"service billing-api", "orders-caller"}, {"service billing-api", "billing-caller"},
		{"function resize-image", "orders-caller"}, {"function on-upload", "billing-caller"},
	} {
		proofWant(t, rows, "verify", g.target, "grant "+sa(g.member), "PASS", "present-direct via roles/run.invoker on the service")
	}
	for _, target := range []string{"service orders-api", "service billing-api", "function resize-image", "function on-upload"} {
		proofWant(t, rows, "verify", target, "exposure", "PASS", "private")
	}
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "PASS", "GET /healthz → 200 (expected 200)")
	proofWant(t, rows, "invoke", "service orders-api", "refuses "+sa("audit-bot"), "PASS", "GET /healthz → 403 (expected 403)")
	proofWant(t, rows, "invoke", "service orders-api", "refuses unauthenticated", "PASS", "→ 403 (expected 401 or 403)")
	proofWant(t, rows, "invoke", "service billing-api", "invoke as "+sa("billing-caller"), "PASS", "GET / → 200")
	proofWant(t, rows, "invoke", "function resize-image", "invoke as "+sa("orders-caller"), "PASS", "POST / → 200")
	proofWant(t, rows, "invoke", "function on-upload", "invoke as "+sa("billing-caller"), "SKIP", "event-driven")
	if got := proofTally(rows); got != "16 PASS, 2 SKIP" || !strings.Contains(summary, "16 passed") {
		t.Errorf("results: %s; summary %q", got, summary)
	}
	// The stages ran in order, each announced.
	last := -1
	for _, s := range []string{"Stage 1/3: provision", "Apply complete!", "Stage 2/3: verify", "Stage 3/3: invoke"} {
		i := strings.Index(r.Stderr, s)
		if i < last {
			t.Errorf("stderr lacks %q after the previous stage:\n%s", s, r.Stderr)
		}
		last = i
	}
	// The calls really reached the services: three callers let through,
	// the refused caller and three calls without a token refused.
	c := p.Calls()
	if c["run.dataplane.invoke.ok"] != 3 || c["run.dataplane.invoke.denied"] != 1 || c["run.dataplane.invoke.no_token"] != 3 {
		t.Errorf("data-plane calls: ok %d, denied %d, no_token %d; want 3, 1, 3", c["run.dataplane.invoke.ok"],
			c["run.dataplane.invoke.denied"], c["run.dataplane.invoke.no_token"])
	}

	// The reports.
	r = do(nil, 0, "run", "-f", file, "--auto-approve", "--format", "junit")
	j := proofParseJUnit(t, r)
	got := map[string][]string{}
	for _, s := range j.Suites {
		if s.Tests != len(s.Cases) {
			t.Errorf("suite %s: tests=%d for %d cases", s.Name, s.Tests, len(s.Cases))
		}
		for _, c := range s.Cases {
			got[s.Name] = append(got[s.Name], c.Classname+": "+c.Name)
			if c.Failure != nil {
				t.Errorf("failure in %s %s: %s", c.Classname, c.Name, c.Failure.Message)
			}
		}
	}
	orders, billing := "service orders-api (demo-project/us-central1)", "service billing-api (demo-project/us-central1)"
	resize, upload := "function resize-image (demo-project/us-central1)", "function on-upload (demo-project/us-central1)"
	want := map[string][]string{
		"verify": {
			orders + ": grant " + sa("orders-caller"), orders + ": exposure",
			billing + ": grant " + sa("orders-caller"), billing + ": grant " + sa("billing-caller"), billing + ": exposure",
			resize + ": grant " + sa("orders-caller"), resize + ": exposure",
			upload + ": grant " + sa("billing-caller"), upload + ": exposure",
		},
		"invoke": {
			orders + ": invoke as " + sa("orders-caller"), orders + ": refuses " + sa("audit-bot"), orders + ": refuses unauthenticated",
			billing + ": invoke as " + sa("billing-caller"), billing + ": refuses unauthenticated",
			resize + ": invoke as " + sa("orders-caller"), resize + ": refuses unauthenticated",
			upload + ": invoke as " + sa("billing-caller"), upload + ": refuses unauthenticated",
		},
	}
	for suite, cases := range want {
		if !eq(got[suite], cases) {
			t.Errorf("suite %s cases:\n%s\nwant:\n%s", suite, strings.Join(got[suite], "\n"), strings.Join(cases, "\n"))
		}
	}
	if len(got) != 2 || j.Tests != 18 || j.Failures != 0 || j.Skipped != 2 {
		t.Errorf("testsuites: tests=%d failures=%d skipped=%d suites=%v", j.Tests, j.Failures, j.Skipped, len(got))
	}

	// JSON of verify and invoke on the provisioned state.
	d := reportJSON(t, p.run(t, nil, "verify", "-f", file, "--format", "json"))
	if !d.OK || d.Target != "emulator" || len(d.Verify) != 4 || len(d.Invoke) != 0 || len(d.Cases) != 9 {
		t.Errorf("verify --format json: ok=%v target=%q verify=%d invoke=%d cases=%d", d.OK, d.Target, len(d.Verify), len(d.Invoke), len(d.Cases))
	}
	d = reportJSON(t, p.run(t, nil, "invoke", "-f", file, "--format", "json"))
	if !d.OK || len(d.Verify) != 0 || len(d.Invoke) != 9 || len(d.Cases) != 9 {
		t.Errorf("invoke --format json: ok=%v verify=%d invoke=%d cases=%d", d.OK, len(d.Verify), len(d.Invoke), len(d.Cases))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(p.run(t, nil, "verify", "-f", file, "--format", "json").Stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"file", "project", "target", "ok", "verify", "cases", "counts"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("verify --format json lacks %q", k)
		}
	}
	var counts report.Counts
	if err := json.Unmarshal(raw["counts"], &counts); err != nil || counts != (report.Counts{Pass: 9}) {
		t.Errorf("counts: %s %v", raw["counts"], err)
	}

	// No token text, with every token source.
	do(nil, 0, "run", "-f", file, "--auto-approve", "--format", "json")
	uri := proofServiceURI(t, p.opts(), "orders-api")
	secrets := t.TempDir() // outside the declaration's directory
	keyFile, _ := proofKey(t, p.opts(), secrets, proofEmail("orders-caller"))
	wrong := proofWrite(t, secrets, "wrong", proofMint(t, p.opts(), proofEmail("orders-caller"), "https://elsewhere.example.com"))
	audit := proofMint(t, p.opts(), proofEmail("audit-bot"), uri)
	// Passing, with a key, the metadata server and an environment variable.
	do([]string{"AUDIT_TOKEN=" + audit, "GCE_METADATA_HOST=" + p.Host}, 0, "invoke", "-f", file,
		"--credentials", "orders-caller=key:"+keyFile, "--credentials", "billing-caller=metadata", "--credentials", "audit-bot=token-env:AUDIT_TOKEN")
	// Failing, in every format, with a token for another audience.
	for _, format := range []string{"table", "json", "junit"} {
		do(nil, cmdutil.ExitInvokeFailed, "invoke", "-f", file, "--format", format, "--credentials", "orders-caller=token-file:"+wrong)
	}
	do(nil, 0, "verify", "-f", file, "--format", "junit")

	tokens := p.Tokens()
	if n := p.jwtsSeen(); n < 8 {
		t.Fatalf("only %d JWTs crossed the emulator's API: the recorder is not seeing the minting", n)
	}
	for _, o := range outputs {
		proofNoTokenText(t, "command output", o, tokens...)
	}
	if files := proofNoTokenFiles(t, dir, tokens...); files < 5 {
		t.Errorf("looked at only %d files", files)
	}
	states, _ := filepath.Glob(filepath.Join(dir, ".invokerctl", "*", "terraform.tfstate"))
	if len(states) != 1 {
		t.Errorf("states %v", states)
	}

	// A failing grant is a <failure> naming the member and the service.
	editFile(t, file, "members: [orders-caller]\n    invoke:\n      path: /healthz", "members: [orders-caller, billing-caller]\n    invoke:\n      path: /healthz")
	r = do(nil, cmdutil.ExitVerifyFailed, "verify", "-f", file, "--format", "junit")
	j = proofParseJUnit(t, r)
	if j.Failures != 1 || j.Tests != 10 {
		t.Errorf("failing verify: tests=%d failures=%d", j.Tests, j.Failures)
	}
	for _, c := range j.Suites[0].Cases {
		if c.Failure != nil && (c.Classname != orders || c.Name != "grant "+sa("billing-caller") ||
			!strings.Contains(c.Failure.Message, sa("billing-caller")+" cannot invoke projects/demo-project/locations/us-central1/services/orders-api")) {
			t.Errorf("failure: %s %s %q", c.Classname, c.Name, c.Failure.Message)
		}
	}
}

// run stops at the first failing stage, through the binary: a grant is
// applied on a service that its seed made public by accident (allUsers):
// verify fails (exit 3, failedStage verify) after the apply, and nothing
// is invoked — not the private service either, whose grant is in force.
func TestRunStopsAtVerify(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	p := startProofEmu(t, seedHead+`services:
  - name: orders-api
  - name: www
    policy:
      - role: roles/run.invoker
        members: [allUsers]
`, nil)
	emu := p.Emulator
	file := writeDecl(t, `serviceAccounts:
  - name: web-caller
grants:
  - service: orders-api
    members: [web-caller]
  - service: www
    members: [web-caller]
`)
	r := p.mustRunBin(t, cmdutil.ExitVerifyFailed, nil, "run", "-f", file, "--auto-approve", "--format", "json")
	d := reportJSON(t, r)
	if d.OK || d.Stage != "verify" || d.Apply == nil || !d.Apply.Applied {
		t.Errorf("want ok false, failedStage verify, applied; got:\n%s", r.Stdout)
	}
	// The grants were applied (the provision stage passed)...
	for _, svc := range []string{"orders-api", "www"} {
		if got := invokers(t, emu, svc); !strings.Contains(strings.Join(got, " "), sa("web-caller")) {
			t.Errorf("%s invokers %v: the grant was not applied", svc, got)
		}
	}
	// ...verify failed on the public service only...
	okByTarget := map[string]bool{}
	for _, v := range d.Verify {
		okByTarget[strings.Fields(v.Target)[1]] = v.OK
		if strings.HasPrefix(v.Target, "service www") && !strings.Contains(strings.Join(v.Problems, "\n"), "allUsers") {
			t.Errorf("www: problems %q do not name allUsers", v.Problems)
		}
	}
	if len(d.Verify) != 2 || len(okByTarget) != 2 || !okByTarget["orders-api"] || okByTarget["www"] {
		t.Errorf("verify results by target: %v, want orders-api ok, www failed", okByTarget)
	}
	// ...and the invoke stage never ran.
	if len(d.Invoke) != 0 {
		t.Errorf("invoke results after a failed verify: %+v", d.Invoke)
	}
	if !strings.Contains(r.Stderr, "Stage 2/3: verify") || strings.Contains(r.Stderr, "Stage 3/3") || !strings.Contains(r.Stderr, "stage verify failed") {
		t.Errorf("stderr should show the verify stage failing and no invoke stage:\n%s", r.Stderr)
	}
	if n := dataPlaneCalls(emu); n != 0 {
		t.Errorf("%d calls reached a service after verify failed", n)
	}
}

// The refused caller holds a grant made outside the declaration: provision
// and verify pass (the declared grant is in force), the invoke stage finds
// the refused caller let in: exit 4, failedStage invoke.
func TestRunStopsAtInvokeWhenTheRefusedCallerGetsIn(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	auditBot := "serviceAccount:audit-bot@demo-project.iam.gserviceaccount.com"
	emu := testutil.StartSeeded(t, seedHead+`serviceAccounts:
  - accountId: audit-bot
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [`+auditBot+`]
`)
	file := writeDecl(t, `serviceAccounts:
  - name: orders-caller
grants:
  - service: orders-api
    members: [orders-caller]
    invoke:
      refusedCaller: `+auditBot+`
`)
	r := runInProcess(t, inProcess{Env: emuEnv(emu), Terraform: true}, "run", "-f", file, "--emulator="+emu.URL(), "--auto-approve", "--format", "json")
	wantExit(t, r, cmdutil.ExitInvokeFailed, "run")
	d := reportJSON(t, r)
	if d.OK || d.Stage != "invoke" || d.Apply == nil || !d.Apply.Applied {
		t.Errorf("want ok false, failedStage invoke, applied; got:\n%s", r.Stdout)
	}
	if len(d.Verify) != 1 || !d.Verify[0].OK {
		t.Errorf("verify should pass: %+v", d.Verify)
	}
	outcomes := map[string]string{}
	for _, inv := range d.Invoke {
		outcomes[inv.Check+" "+inv.Caller] = inv.Outcome
	}
	if outcomes["invoke "+sa("orders-caller")] != "pass" || outcomes["refused-caller "+auditBot] != "fail" {
		t.Errorf("invoke outcomes %v: want the declared caller pass and the refused caller fail", outcomes)
	}
	if !strings.Contains(r.Stderr, "Stage 3/3") || !strings.Contains(r.Stderr, "stage invoke failed") {
		t.Errorf("stderr:\n%s", r.Stderr)
	}
	if n := emu.Calls()["run.dataplane.invoke.ok"]; n < 2 {
		t.Errorf("%d calls let through, want the caller's and the refused caller's", n)
	}
}

// A declaration naming a service that does not exist fails the provision
// stage before Terraform changes anything (no account created): exit 1, no
// verify, no report.
func TestRunStopsAtProvision(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartSeeded(t, seedHead+"services:\n  - name: orders-api\n")
	file := writeDecl(t, `serviceAccounts:
  - name: orders-caller
grants:
  - service: no-such-api
    members: [orders-caller]
`)
	r := runInProcess(t, inProcess{Env: emuEnv(emu), Terraform: true}, "run", "-f", file, "--emulator="+emu.URL(), "--auto-approve", "--format", "json")
	wantExit(t, r, cmdutil.ExitError, "run")
	if !strings.Contains(r.Stderr, "stage provision failed") || !strings.Contains(r.Stderr, `service "no-such-api" does not exist in us-central1`) ||
		strings.Contains(r.Stderr, "Stage 2/3") {
		t.Errorf("stderr should show the provision stage failing and nothing after it:\n%s", r.Stderr)
	}
	if strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("stdout after a failed provision stage:\n%s", r.Stdout)
	}
	for name, n := range emu.Calls() {
		if strings.HasPrefix(name, "crm.") || strings.HasPrefix(name, "run.dataplane.") || strings.Contains(name, "serviceAccounts.create") {
			t.Errorf("%s was called %d times after provisioning failed", name, n)
		}
	}
}

// dataPlaneCalls counts the requests that reached any service's URL.
func dataPlaneCalls(emu *emulator.Emulator) int {
	return emu.Calls()["run.dataplane.invoke"]
}

// Invoking before a fresh grant has propagated: run, through the binary
// against `emulator serve` with a propagation delay, waits the 403s out,
// succeeds, and reports the attempts and the delay.
func TestRunWaitsOutPropagation(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	dir := t.TempDir()
	exports := proofServe(t, "--seed", quickstartSeed(), "--propagation-delay", "3s")
	file := proofWrite(t, dir, "invokers.yaml", `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
serviceAccounts:
  - name: orders-caller
smokeTest:
  tokenCreator: user:owner@example.com
grants:
  - service: orders-api
    members: [orders-caller]
`)
	r := proofRunServed(t, exports, nil, "run", "-f", file, "--auto-approve", "--format", "json", "--max-wait", "90s")
	wantExit(t, r, 0, "run")
	d := reportJSON(t, r)
	if !d.OK || d.Apply == nil || !d.Apply.Applied || len(d.Invoke) != 2 {
		t.Fatalf("run --format json: %s", r.Stdout)
	}
	inv := d.Invoke[0]
	if inv.Check != "invoke" || inv.Outcome != "pass" || inv.Attempts < 2 || inv.PropagationDelay == "" {
		t.Fatalf("the call as orders-caller: %+v; want a pass after several attempts, with the propagation delay", inv)
	}
	if delay, err := time.ParseDuration(inv.PropagationDelay); err != nil || delay < 200*time.Millisecond || delay > 60*time.Second {
		t.Errorf("propagationDelay %q", inv.PropagationDelay)
	}
	if !strings.Contains(d.Cases[len(d.Cases)-2].Detail, "grant effective after") {
		t.Errorf("the report case does not give the delay: %+v", d.Cases)
	}
	if !strings.Contains(r.Stderr, "waiting for IAM propagation on service orders-api (demo-project/us-central1) as "+sa("orders-caller")) {
		t.Errorf("no progress while waiting:\n%s", r.Stderr)
	}
}
