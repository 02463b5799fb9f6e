package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// The exit codes of the run functions, called directly with their options
// against one in-process emulator (no command line, no terraform): 0, 1,
// 3, 4 and 64. plan's 2 needs terraform; the provisioning tests check it.
func TestRunFunctionExitCodes(t *testing.T) {
	t.Parallel()
	emu := startProofEmu(t, seedHead+`serviceAccounts:
  - accountId: ok-caller
  - accountId: lonely-caller
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:ok-caller@demo-project.iam.gserviceaccount.com]
`, nil)
	inForce := writeDecl(t, "serviceAccounts:\n  - name: ok-caller\ngrants:\n  - service: orders-api\n    members: [ok-caller]\n")
	missing := writeDecl(t, "serviceAccounts:\n  - name: ok-caller\n  - name: lonely-caller\ngrants:\n  - service: orders-api\n    members: [ok-caller, lonely-caller]\n")
	refused := writeDecl(t, "serviceAccounts:\n  - name: lonely-caller\ngrants:\n  - service: orders-api\n    members: [lonely-caller]\n")
	unreadable := writeDecl(t, "serviceAccounts:\n  - name: ok-caller\ngrants:\n  - service: gone-api\n    members: [ok-caller]\n")

	targetOf := func(file string) TargetFlags { return TargetFlags{File: file, Emulator: emu.URL} }
	// --max-wait 0: one attempt.
	proof := func(format string) ProofFlags { return ProofFlags{Format: format} }
	cases := []struct {
		name    string
		run     func(cmdEnv) error
		code    int
		wantErr string
	}{
		{"verify: every grant in force", func(e cmdEnv) error {
			return verifyRun(&VerifyOptions{cmdEnv: e, TargetFlags: targetOf(inForce), ProofFlags: proof("table")})
		}, cmdutil.ExitOK, ""},
		{"verify: a grant missing", func(e cmdEnv) error {
			return verifyRun(&VerifyOptions{cmdEnv: e, TargetFlags: targetOf(missing), ProofFlags: proof("json")})
		}, cmdutil.ExitVerifyFailed, "verification failed"},
		{"verify: a target that cannot be read", func(e cmdEnv) error {
			return verifyRun(&VerifyOptions{cmdEnv: e, TargetFlags: targetOf(unreadable), ProofFlags: proof("junit")})
		}, cmdutil.ExitError, "verification incomplete"},
		{"verify: unknown format", func(e cmdEnv) error {
			return verifyRun(&VerifyOptions{cmdEnv: e, TargetFlags: targetOf(inForce), ProofFlags: proof("yaml")})
		}, cmdutil.ExitUsage, `unknown format "yaml"`},
		{"verify: no -f", func(e cmdEnv) error {
			return verifyRun(&VerifyOptions{cmdEnv: e, ProofFlags: proof("table")})
		}, cmdutil.ExitUsage, "-f FILE is required"},
		{"verify: --seed with an emulator URL", func(e cmdEnv) error {
			tf := targetOf(inForce)
			tf.Seed = "seed.yaml"
			return verifyRun(&VerifyOptions{cmdEnv: e, TargetFlags: tf, ProofFlags: proof("table")})
		}, cmdutil.ExitUsage, "--seed needs --emulator without a URL"},
		{"invoke: every check passes", func(e cmdEnv) error {
			return invokeRun(&InvokeOptions{cmdEnv: e, TargetFlags: targetOf(inForce), ProofFlags: proof("table")})
		}, cmdutil.ExitOK, ""},
		{"invoke: a declared caller refused", func(e cmdEnv) error {
			return invokeRun(&InvokeOptions{cmdEnv: e, TargetFlags: targetOf(refused), ProofFlags: proof("json")})
		}, cmdutil.ExitInvokeFailed, "invocation failed"},
		{"invoke: a negative --max-wait", func(e cmdEnv) error {
			pf := proof("table")
			pf.MaxWait = -1
			return invokeRun(&InvokeOptions{cmdEnv: e, TargetFlags: targetOf(inForce), ProofFlags: pf})
		}, cmdutil.ExitUsage, "--max-wait must not be negative"},
		{"invoke: credentials for a caller the declaration lacks", func(e cmdEnv) error {
			pf := proof("table")
			pf.Credentials = []string{"ghost=metadata"}
			return invokeRun(&InvokeOptions{cmdEnv: e, TargetFlags: targetOf(inForce), ProofFlags: pf})
		}, cmdutil.ExitUsage, `credentials for "ghost"`},
		{"run: --json", func(e cmdEnv) error {
			return runRun(&RunOptions{cmdEnv: e, ProvisionFlags: ProvisionFlags{File: inForce, JSON: true}, ProofFlags: proof("table")})
		}, cmdutil.ExitUsage, "run takes --format json, not --json"},
		{"run: no terminal to confirm on", func(e cmdEnv) error {
			return runRun(&RunOptions{cmdEnv: e, ProvisionFlags: ProvisionFlags{File: inForce}, ProofFlags: proof("table")})
		}, cmdutil.ExitError, "standard input is not a terminal"},
		{"plan: no -f", func(e cmdEnv) error {
			return planRun(&PlanOptions{cmdEnv: e})
		}, cmdutil.ExitUsage, "-f FILE is required"},
		{"destroy: --seed without --emulator", func(e cmdEnv) error {
			return destroyRun(&DestroyOptions{cmdEnv: e, ProvisionFlags: ProvisionFlags{File: inForce, Seed: "seed.yaml", AutoApprove: true}})
		}, cmdutil.ExitUsage, "--seed needs --emulator"},
		{"demo: unknown format", func(e cmdEnv) error {
			return demoRun(&DemoOptions{cmdEnv: e, Format: "xml"})
		}, cmdutil.ExitUsage, `unknown format "xml"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ios, _, out, errOut := iostreams.Test()
			f := testFactory(t, ios, inProcess{Env: []string{target.TokenEnv + "=" + emu.BootstrapToken()}})
			err := c.run(cmdEnv{IO: ios, Factory: f, Ctx: context.Background()})
			if got := cmdutil.ExitCodeOf(err); got != c.code {
				t.Fatalf("exit code %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", got, err, c.code, out, errOut)
			}
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("error %v, want one containing %q", err, c.wantErr)
			}
			emu.check(t, c.name, cliResult{Stdout: out.String(), Stderr: errOut.String()})
		})
	}
}

// An API that keeps failing while an ID token is minted is not a caller
// refused by Cloud Run: invoke writes its report and exits 1, not 4; a
// short burst of 503s is retried and passes.
func TestInvokeAPIFailureIsNotARefusal(t *testing.T) {
	t.Parallel()
	seed := seedHead + `serviceAccounts:
  - accountId: ok-caller
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:ok-caller@demo-project.iam.gserviceaccount.com]
`
	decl := writeDecl(t, "serviceAccounts:\n  - name: ok-caller\ngrants:\n  - service: orders-api\n    members: [ok-caller]\n")
	tests := []struct {
		name     string
		failures int
		code     int
		wantErr  string
		outcome  string
	}{
		{"a burst of 503s is retried", 2, cmdutil.ExitOK, "", "pass"},
		{"503s that outlast the retries", 1000, cmdutil.ExitError, "invocation incomplete", "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu := startProofEmu(t, seed, nil)
			emu.InjectFault(emulator.Fault{Path: ":generateIdToken", Count: tc.failures, Status: 503})
			ios, _, out, errOut := iostreams.Test()
			f := testFactory(t, ios, inProcess{Env: []string{target.TokenEnv + "=" + emu.BootstrapToken()}})
			err := invokeRun(&InvokeOptions{cmdEnv: cmdEnv{IO: ios, Factory: f, Ctx: context.Background()},
				TargetFlags: TargetFlags{File: decl, Emulator: emu.URL}, ProofFlags: ProofFlags{Format: "json"}})
			if got := cmdutil.ExitCodeOf(err); got != tc.code {
				t.Fatalf("exit code %d (%v), want %d\nstderr:\n%s", got, err, tc.code, errOut)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
			d := reportJSON(t, cliResult{Stdout: out.String()})
			var callerOutcome string
			for _, r := range d.Invoke {
				if r.Caller != "" {
					callerOutcome = r.Outcome
				}
			}
			if callerOutcome != tc.outcome {
				t.Errorf("the caller's check came out %q, want %q; report:\n%s", callerOutcome, tc.outcome, out)
			}
			emu.check(t, tc.name, cliResult{Stdout: out.String(), Stderr: errOut.String()})
		})
	}
}
