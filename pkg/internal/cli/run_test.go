package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// `invokerctl run` stops at the first failing stage (provision, verify,
// invoke) with that stage's exit code, and `invokerctl demo` runs every
// stage offline; both through the built binary.

// stageEmu starts an emulator with seedYAML.
func stageEmu(t *testing.T, seedYAML string) *emulator.Emulator {
	t.Helper()
	f := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(f, []byte(seedYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	return startEmulator(t, f)
}

// dataPlaneCalls counts the requests that reached any service's URL.
func dataPlaneCalls(emu *emulator.Emulator) int {
	return emu.Calls()["run.dataplane.invoke"]
}

// A grant is applied on a service that its seed made public by accident
// (allUsers): verify fails (exit 3, failedStage verify) and nothing is
// invoked — not the private service either, whose grant is in force.
func TestRunStopsAtVerifyOnAccidentalPublicService(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	emu := stageEmu(t, seedHead+`services:
  - name: orders-api
  - name: www
    policy:
      - role: roles/run.invoker
        members: [allUsers]
`)
	file := writeDecl(t, `serviceAccounts:
  - name: web-caller
grants:
  - service: orders-api
    members: [web-caller]
  - service: www
    members: [web-caller]
`)
	r := runBin(t, emuEnv(emu), "run", "-f", file, "--emulator="+emu.URL(), "--auto-approve", "--format", "json")
	wantExit(t, r, ExitVerifyFailed, "run")
	d := reportJSON(t, r)
	if d.OK || d.Stage != "verify" || d.Apply == nil || !d.Apply.Applied {
		t.Errorf("want ok false, failedStage verify, applied; got:\n%s", r.stdout)
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
	if len(okByTarget) != 2 || !okByTarget["orders-api"] || okByTarget["www"] {
		t.Errorf("verify results by target: %v, want orders-api ok, www failed", okByTarget)
	}
	// ...and the invoke stage never ran.
	if len(d.Invoke) != 0 {
		t.Errorf("invoke results after a failed verify: %+v", d.Invoke)
	}
	if !strings.Contains(r.stderr, "Stage 2/3: verify") || strings.Contains(r.stderr, "Stage 3/3") || !strings.Contains(r.stderr, "stage verify failed") {
		t.Errorf("stderr should show the verify stage failing and no invoke stage:\n%s", r.stderr)
	}
	if n := dataPlaneCalls(emu); n != 0 {
		t.Errorf("%d calls reached a service after verify failed", n)
	}
}

// The refused caller holds a grant made outside the declaration: provision
// and verify pass (the declared grant is in force), the invoke stage finds
// the refused caller let in: exit 4, failedStage invoke.
func TestRunStopsAtInvokeWhenTheRefusedCallerGetsIn(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	auditBot := "serviceAccount:audit-bot@demo-project.iam.gserviceaccount.com"
	emu := stageEmu(t, seedHead+`serviceAccounts:
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
	r := runBin(t, emuEnv(emu), "run", "-f", file, "--emulator="+emu.URL(), "--auto-approve", "--format", "json")
	wantExit(t, r, ExitInvokeFailed, "run")
	d := reportJSON(t, r)
	if d.OK || d.Stage != "invoke" || d.Apply == nil || !d.Apply.Applied {
		t.Errorf("want ok false, failedStage invoke, applied; got:\n%s", r.stdout)
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
	if !strings.Contains(r.stderr, "Stage 3/3") || !strings.Contains(r.stderr, "stage invoke failed") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if n := emu.Calls()["run.dataplane.invoke.ok"]; n < 2 {
		t.Errorf("%d calls let through, want the caller's and the refused caller's", n)
	}
}

// A declaration whose grant Terraform cannot apply (the service does not
// exist) fails the provision stage: exit 1, no verify, no report.
func TestRunStopsAtProvision(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	emu := stageEmu(t, seedHead+"services:\n  - name: orders-api\n")
	file := writeDecl(t, `serviceAccounts:
  - name: orders-caller
grants:
  - service: no-such-api
    members: [orders-caller]
`)
	r := runBin(t, emuEnv(emu), "run", "-f", file, "--emulator="+emu.URL(), "--auto-approve", "--format", "json")
	wantExit(t, r, ExitError, "run")
	if !strings.Contains(r.stderr, "stage provision failed") || !strings.Contains(r.stderr, "Resource 'no-such-api' of kind 'SERVICE'") ||
		strings.Contains(r.stderr, "Stage 2/3") {
		t.Errorf("stderr should show the provision stage failing and nothing after it:\n%s", r.stderr)
	}
	if strings.TrimSpace(r.stdout) != "" {
		t.Errorf("stdout after a failed provision stage:\n%s", r.stdout)
	}
	for name, n := range emu.Calls() {
		if strings.HasPrefix(name, "crm.") || strings.HasPrefix(name, "run.dataplane.") {
			t.Errorf("%s was called %d times after provisioning failed", name, n)
		}
	}
}

// A bad declaration fails run before anything else: exit 1 with the
// positioned message, Terraform never started, the emulator never called,
// no working directory.
func TestRunBadDeclarationStopsBeforeTerraform(t *testing.T) {
	t.Parallel()
	emu := stageEmu(t, seedHead)
	dir, file, fakeTF := badDeclBesideFakeTerraform(t, `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
serviceAccounts:
  - name: orders-caller
grants:
  - service: orders-api
    members: [orders-caller, "sa:foo"]
`)
	r := runBin(t, emuEnv(emu), "run", "-f", file, "--emulator="+emu.URL(), "--auto-approve", "--terraform", fakeTF, "--format", "json")
	if r.code != ExitError {
		t.Errorf("run: exit %d, want %d\n%s", r.code, ExitError, r.stderr)
	}
	if want := file + `:8:30: grants[0].members[1]: "sa:foo" is not a valid IAM member`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if strings.Contains(r.stderr, "Stage 1/3") || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("a stage started for a bad declaration:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	wantNoTerraformRun(t, dir)
	if c := emu.Calls(); len(c) != 0 {
		t.Errorf("the emulator was called for a bad declaration: %v", c)
	}
}

// `invokerctl demo --format json`: every stage passes (ok, exit 0), the
// event-driven function is skipped, and at least one call waited out the
// emulator's propagation delay (attempts > 1).
func TestDemoJSON(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	r := runBin(t, []string{tfprovider.SleepScaleEnv + "=0.02"}, "demo", "--format", "json", "--dir", t.TempDir(), "--propagation-delay", "3s")
	wantExit(t, r, 0, "demo")
	d := reportJSON(t, r)
	if !d.OK || d.Stage != "" || d.Apply == nil || !d.Apply.Applied || d.Counts == nil {
		t.Fatalf("demo document: want ok, applied, counts; got:\n%s", r.stdout)
	}
	if d.Counts.Fail != 0 || d.Counts.Skip < 1 || d.Counts.Pass == 0 {
		t.Errorf("counts %+v: want passes, no failure, at least one skip", *d.Counts)
	}
	skippedEvent, waited := false, false
	for _, inv := range d.Invoke {
		if inv.Outcome == "skip" && strings.Contains(inv.Target, "on-upload") && strings.Contains(inv.Reason, "event-driven") {
			skippedEvent = true
		}
		if inv.Check == "invoke" && inv.Outcome == "pass" && inv.Attempts > 1 && inv.PropagationDelay != "" {
			waited = true
		}
	}
	if !skippedEvent {
		t.Errorf("no skipped invoke of the event-driven function on-upload: %+v", d.Invoke)
	}
	if !waited {
		t.Errorf("no call waited out the propagation delay (attempts > 1 with a propagationDelay): %+v", d.Invoke)
	}
}
