package cli

import (
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// verify through its run function against an in-process emulator: where
// a grant comes from, what is missing, public services, functions.

// A grant that exists only at the project level is present-inherited, and
// it does let the caller in.
func TestVerifyInheritedGrant(t *testing.T) {
	p, file := startProofCase(t, `      - role: roles/run.invoker
        members: [serviceAccount:proj-caller@demo-project.iam.gserviceaccount.com]
serviceAccounts:
  - accountId: proj-caller
  - accountId: direct-caller
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: proj-caller
  - name: direct-caller
grants:
  - service: orders-api
    members: [proj-caller, direct-caller]
`)
	r := p.mustRun(t, 0, nil, "verify", "-f", file)
	rows, _ := proofTable(t, r.Stdout)
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("proj-caller"), "PASS", "present-inherited via roles/run.invoker on the project")
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("direct-caller"), "PASS", "present-direct via roles/run.invoker on the service")

	d := reportJSON(t, p.run(t, nil, "verify", "-f", file, "--format", "json"))
	if !d.OK || len(d.Verify) != 1 || len(d.Verify[0].Members) != 2 {
		t.Fatalf("verify --format json: %+v", d)
	}
	if m := d.Verify[0].Members[0]; m.Member != sa("proj-caller") || m.Status != "present-inherited" || m.Role != "roles/run.invoker" || m.Source != "project" {
		t.Errorf("inherited member: %+v", m)
	}
	if m := d.Verify[0].Members[1]; m.Status != "present-direct" || m.Source != "service" {
		t.Errorf("direct member: %+v", m)
	}

	// The data plane agrees: the project binding lets proj-caller in.
	before := p.Calls()["run.dataplane.invoke.ok"]
	r = p.mustRun(t, 0, nil, "invoke", "-f", file)
	rows, _ = proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("proj-caller"), "PASS", "→ 200")
	if n := p.Calls()["run.dataplane.invoke.ok"] - before; n != 1 {
		t.Errorf("%d successful data-plane calls, want 1", n)
	}
}

// A missing grant fails verify with exit 3, naming the member and the
// service; the grants in force still pass.
func TestVerifyMissingGrant(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: direct-caller
  - accountId: lonely-caller
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@demo-project.iam.gserviceaccount.com]
  - name: billing-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@demo-project.iam.gserviceaccount.com]
      - role: roles/run.viewer
        members: [serviceAccount:lonely-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: direct-caller
  - name: lonely-caller
grants:
  - service: orders-api
    members: [direct-caller]
  - service: billing-api
    members: [direct-caller, lonely-caller]
`)
	r := p.mustRun(t, cmdutil.ExitVerifyFailed, nil, "verify", "-f", file)
	rows, summary := proofTable(t, r.Stdout)
	proofWant(t, rows, "verify", "service billing-api", "grant "+sa("lonely-caller"), "FAIL",
		sa("lonely-caller")+" cannot invoke projects/demo-project/locations/us-central1/services/billing-api: no binding grants it run.routes.invoke")
	proofWant(t, rows, "verify", "service billing-api", "grant "+sa("direct-caller"), "PASS", "present-direct")
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("direct-caller"), "PASS", "present-direct")
	if got := proofTally(rows); got != "1 FAIL, 4 PASS" || !strings.Contains(summary, "1 failed") {
		t.Errorf("results: %s; summary %q", got, summary)
	}
	if !strings.Contains(r.Stderr, "verification failed") {
		t.Errorf("stderr: %s", r.Stderr)
	}

	r = p.run(t, nil, "verify", "-f", file, "--format", "json")
	d := reportJSON(t, r)
	if r.Code != cmdutil.ExitVerifyFailed || d.OK || d.Stage != "verify" || len(d.Verify) != 2 || !d.Verify[0].OK || d.Verify[1].OK {
		t.Fatalf("verify --format json: exit %d, %+v", r.Code, d)
	}
	if m := d.Verify[1].Members[1]; m.Member != sa("lonely-caller") || m.Status != "missing" {
		t.Errorf("missing member: %+v", m)
	}
	if ps := d.Verify[1].Problems; len(ps) != 1 || !strings.Contains(ps[0], sa("lonely-caller")) || !strings.Contains(ps[0], "services/billing-api") {
		t.Errorf("problems: %q", ps)
	}

	// A service that cannot be read is an API failure (exit 1), not a
	// verdict on the policies; the others are still reported.
	editFile(t, file, "  - service: billing-api\n    members: [direct-caller, lonely-caller]\n", "  - service: gone-api\n    members: [direct-caller]\n")
	r = p.run(t, nil, "verify", "-f", file)
	if r.Code != cmdutil.ExitError || !strings.Contains(r.Stderr, "verification incomplete: the policies of 1 target(s) could not be read") {
		t.Fatalf("verify of a service that does not exist: exit %d, want %d\n%s\n%s", r.Code, cmdutil.ExitError, r.Stdout, r.Stderr)
	}
	rows, _ = proofTable(t, r.Stdout)
	proofWant(t, rows, "verify", "service gone-api", "read policies", "FAIL", "services/gone-api")
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("direct-caller"), "PASS", "present-direct")
}

// A service open to allUsers, or with the invoker check disabled, fails
// verify unless the grant says public: true; declared public, it passes,
// is called without a token and gets no unauthenticated probe.
func TestVerifyAndInvokePublicService(t *testing.T) {
	p, undeclared := startProofCase(t, `serviceAccounts:
  - accountId: web-caller
services:
  - name: www
    policy:
      - role: roles/run.invoker
        members: [allUsers]
  - name: open-api
    invokerIamDisabled: true
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:web-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: web-caller
grants:
  - service: www
    members: [web-caller]
  - service: open-api
    members: [web-caller]
`)
	r := p.mustRun(t, cmdutil.ExitVerifyFailed, nil, "verify", "-f", undeclared)
	rows, _ := proofTable(t, r.Stdout)
	proofWant(t, rows, "verify", "service www", "exposure", "FAIL", "public: allUsers (not declared public)")
	proofWant(t, rows, "verify", "service open-api", "exposure", "FAIL", "public: invokerIamDisabled (not declared public)")
	proofWant(t, rows, "verify", "service www", "grant "+sa("web-caller"), "WARN", "the service is public")
	// invoke sees it too: a call without a token gets through.
	r = p.mustRun(t, cmdutil.ExitInvokeFailed, nil, "invoke", "-f", undeclared)
	rows, _ = proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "service www", "refuses unauthenticated", "FAIL", "answered 200 to a call without a token, but it is not public by declaration")

	declared := writeDecl(t, `serviceAccounts:
  - name: web-caller
grants:
  - service: www
    public: true
    members: [allUsers]
  - service: open-api
    public: true
    members: [web-caller]
`)
	r = p.mustRun(t, 0, nil, "verify", "-f", declared)
	rows, _ = proofTable(t, r.Stdout)
	proofWant(t, rows, "verify", "service www", "exposure", "PASS", "public: allUsers")
	proofWant(t, rows, "verify", "service open-api", "exposure", "PASS", "public: invokerIamDisabled")

	okCalls := p.Calls()["run.dataplane.invoke.ok"]
	r = p.mustRun(t, 0, nil, "invoke", "-f", declared)
	rows, _ = proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "service www", "invoke as anonymous", "PASS", "GET / → 200")
	proofWant(t, rows, "invoke", "service open-api", "invoke as "+sa("web-caller"), "PASS", "GET / → 200")
	if len(rows) != 2 {
		t.Errorf("a public target gets no unauthenticated probe; rows: %+v", rows)
	}
	if n := p.Calls()["run.dataplane.invoke.ok"] - okCalls; n != 2 {
		t.Errorf("%d calls let through, want 2", n)
	}
	// The anonymous call went out without a token.
	d := reportJSON(t, p.run(t, nil, "invoke", "-f", declared, "--format", "json"))
	if inv := d.Invoke[0]; inv.Caller != "anonymous" || inv.TokenSource != "" || inv.Audience != "" || inv.Outcome != "pass" {
		t.Errorf("anonymous call: %+v", inv)
	}
}

// A function is verified and called through the Cloud Run service that
// backs it; an event-driven function is skipped with the reason.
func TestVerifyAndInvokeFunctions(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: fn-caller
  - accountId: upload-trigger
functions:
  - name: resize-image
    runtime: go125
    entryPoint: Resize
    service: resize-backend
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:fn-caller@demo-project.iam.gserviceaccount.com]
  - name: on-upload
    runtime: go125
    entryPoint: OnUpload
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:fn-caller@demo-project.iam.gserviceaccount.com]
    eventTrigger:
      eventType: google.cloud.storage.object.v1.finalized
      serviceAccountEmail: upload-trigger@demo-project.iam.gserviceaccount.com
`, `serviceAccounts:
  - name: fn-caller
grants:
  - function: resize-image
    members: [fn-caller]
    invoke:
      method: POST
      body: '{"width": 64}'
  - function: on-upload
    members: [fn-caller]
`)
	backend := proofServiceURI(t, p.opts(), "resize-backend")
	r := p.mustRun(t, 0, nil, "verify", "-f", file, "--format", "json")
	d := reportJSON(t, r)
	if v := d.Verify[0]; v.Service != "projects/demo-project/locations/us-central1/services/resize-backend" || v.URI != backend ||
		v.Function == nil || !strings.HasSuffix(v.Function.Name, "/functions/resize-image") || v.Function.EventDriven || v.Members[0].Status != "present-direct" {
		t.Errorf("resize-image: %+v", v)
	}
	if v := d.Verify[1]; v.Function == nil || !v.Function.EventDriven || v.Function.EventType != "google.cloud.storage.object.v1.finalized" {
		t.Errorf("on-upload: %+v", v)
	}

	ok := p.Calls()["run.dataplane.invoke.ok"]
	r = p.mustRun(t, 0, nil, "invoke", "-f", file)
	rows, summary := proofTable(t, r.Stdout)
	proofWant(t, rows, "invoke", "function resize-image", "invoke as "+sa("fn-caller"), "PASS", "POST / → 200")
	proofWant(t, rows, "invoke", "function resize-image", "refuses unauthenticated", "PASS", "→ 403")
	reason := "event-driven function: only its event source (trigger) can invoke it, so no test call is made"
	proofWant(t, rows, "invoke", "function on-upload", "invoke as "+sa("fn-caller"), "SKIP", reason)
	proofWant(t, rows, "invoke", "function on-upload", "refuses unauthenticated", "SKIP", reason)
	if got := proofTally(rows); got != "2 PASS, 2 SKIP" || !strings.Contains(summary, "2 passed") {
		t.Errorf("results: %s; summary %q", got, summary)
	}
	if n := p.Calls()["run.dataplane.invoke.ok"] - ok; n != 1 {
		t.Errorf("%d successful calls, want 1: resize-image only", n)
	}
	d = reportJSON(t, p.run(t, nil, "invoke", "-f", file, "--format", "json"))
	if inv := d.Invoke[0]; inv.URL != backend || inv.Audience != backend {
		t.Errorf("resize-image was not called at its backing service %s: %+v", backend, inv)
	}
}

// $INVOKERCTL_EMULATOR_URL alone points a command at the emulator, so a
// pipeline's steps run unchanged against it; --emulator=URL still wins.
func TestEmulatorURLFromEnvironment(t *testing.T) {
	p, file := startProofCase(t, `      - role: roles/run.invoker
        members: [serviceAccount:caller@demo-project.iam.gserviceaccount.com]
serviceAccounts:
  - accountId: caller
services:
  - name: orders-api
`, `serviceAccounts:
  - name: caller
grants:
  - service: orders-api
    members: [caller]
`)
	env := p.env(target.URLEnv + "=" + p.URL)
	r := p.check(t, "verify", runInProcess(t, inProcess{Env: env}, "verify", "-f", file))
	wantExit(t, r, 0, "verify with only $"+target.URLEnv)
	if !strings.Contains(r.Stderr, "using the emulator at "+p.URL) {
		t.Errorf("stderr does not say the emulator is used:\n%s", r.Stderr)
	}
	// A wrong URL in the environment is not silently replaced by Google.
	r = runInProcess(t, inProcess{Env: p.env(target.URLEnv + "=not a url")}, "verify", "-f", file)
	if r.Code == 0 {
		t.Errorf("verify with a malformed $%s exited 0:\n%s", target.URLEnv, r.Stderr)
	}
}
