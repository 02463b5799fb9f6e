package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// SIGINT and SIGTERM end every command promptly, wherever it waits, with
// exit 128 + the signal (130, 143) and a message saying what it was doing.
// Durations are bounded generously; the codes and messages are asserted.

// stopBound is how long an interrupted command may take to end: far less
// than stopGrace, the last resort that would end a command whose read
// ignored the interrupt.
const stopBound = 10 * time.Second

// signals are the two signals every case is run with.
var signals = []struct {
	sig  syscall.Signal
	name string
	code int
}{
	{syscall.SIGINT, "SIGINT", 130},
	{syscall.SIGTERM, "SIGTERM", 143},
}

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "invokers.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	return path
}

// Every verb that reads a declaration, given a FIFO nobody writes to:
// blocked first in opening it, then (once a writer opened it) in reading
// it, a signal ends it.
func TestSignalWhileReadingDeclarationFIFO(t *testing.T) {
	needE2E(t)
	t.Parallel()
	verbs := [][]string{
		{"plan"},
		{"plan", "--json"},
		{"apply", "--auto-approve"},
		{"destroy", "--auto-approve"},
		{"run", "--auto-approve", "--credentials", "*=token-env:NOPE"},
		{"verify", "--format", "junit"},
		{"invoke"},
	}
	for _, verb := range verbs {
		for _, s := range signals {
			for _, writerOpen := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/writer-open=%v", strings.Join(verb, " "), s.name, writerOpen)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fifo := mkfifo(t)
					p := testutil.Start(t, testutil.Exec{Env: []string{"INVOKERCTL_EMULATOR_TOKEN=x"}}, nil,
						append(verb, "-f", fifo, "--emulator=http://127.0.0.1:9")...)
					if writerOpen {
						testutil.WaitFIFOReader(t, fifo, stopBound) // its open returns; its read blocks
					} else {
						p.WaitBlockedOpeningFIFO(t, stopBound)
					}
					r := p.Signal(t, s.sig, stopBound)
					wantInterrupted(t, r, s.code, s.name, "while reading "+fifo+": nothing was changed")
				})
			}
		}
	}
}

func wantInterrupted(t *testing.T, r testutil.Result, code int, sig, while string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, code, r.Stdout, r.Stderr)
	}
	want := "Error: interrupted by " + sig + " " + while
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, r.Stderr)
	}
}

// `plan -f /dev/stdin` on a pipe nobody writes to (but keeps open).
func TestSignalWhileReadingStdinPipe(t *testing.T) {
	needE2E(t)
	t.Parallel()
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			p := testutil.Start(t, testutil.Exec{}, r, "plan", "-f", "/dev/stdin", "--emulator")
			r.Close()
			p.WaitOpened(t, "/dev/stdin", stopBound)
			res := p.Signal(t, s.sig, stopBound)
			wantInterrupted(t, res, s.code, s.name, "while reading /dev/stdin: nothing was changed")
		})
	}
}

// apply's y/N question on a terminal nobody answers: the plan ran (real
// terraform, the in-process emulator), the question is asked, a signal
// ends the wait and nothing is applied.
func TestSignalAtApplyPrompt(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			_, term := testutil.OpenPTY(t)
			dir, file := quickstartCopy(t)
			p := testutil.Start(t, testutil.Exec{Env: []string{tfprovider.SleepScaleEnv + "=0.02"}}, term,
				"apply", "-f", file, "--emulator", "--seed", quickstartSeed(), "--workdir", filepath.Join(dir, "work"))
			p.WaitOutput(t, "Only 'y' or 'yes' confirms. [y/N] ", 2*time.Minute)
			r := p.Signal(t, s.sig, stopBound)
			wantInterrupted(t, r, s.code, s.name, "while waiting for confirmation: nothing was changed")
			if strings.Contains(r.Stdout, "Applied.") || strings.Contains(r.Stderr, "Apply complete") {
				t.Errorf("an interrupted confirmation applied:\n%s\n%s", r.Stdout, r.Stderr)
			}
		})
	}
}

// In-process: the y/N question on a pipe nobody writes to ends when the
// context is cancelled, saying nothing was changed.
func TestConfirmInterrupted(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(&cmdutil.SignalError{Signal: syscall.SIGINT}) })
	var out strings.Builder
	ok, err := confirm(ctx, r, &out, "Apply these changes")
	if ok || cmdutil.ExitCodeOf(err) != 130 || err.Error() != "interrupted by SIGINT while waiting for confirmation: nothing was changed" {
		t.Fatalf("confirm = %v, %v", ok, err)
	}
	if !strings.HasSuffix(out.String(), "[y/N] \n") {
		t.Errorf("the prompt's line is not ended: %q", out.String())
	}
}

// In-process: Run maps a signal-cancelled context to 128+signal, for a
// FIFO read and for a command that failed after the cancellation.
func TestRunInterruptedInProcess(t *testing.T) {
	t.Parallel()
	fifo := mkfifo(t)
	ios, _, _, errOut := iostreams.Test()
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(&cmdutil.SignalError{Signal: syscall.SIGTERM}) })
	code := Run(ctx, testFactory(t, ios, inProcess{}), []string{"verify", "-f", fifo, "--emulator"})
	// Release the abandoned open.
	if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		w.Close()
	}
	if code != 143 || !strings.Contains(errOut.String(), "Error: interrupted by SIGTERM while reading "+fifo+": nothing was changed") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
}

// The last resort: a run function that ignores the interrupt is left
// behind after the grace, with an interruption; one that stops within
// the grace keeps its own result; without an interrupt nothing changes.
func TestUntilStopped(t *testing.T) {
	t.Parallel()
	own := errors.New("stopped by itself")
	never := make(chan struct{})
	defer close(never)
	for _, c := range []struct {
		name     string
		cancel   bool
		run      func() error
		want     error
		wantCode int
	}{
		{"not interrupted", false, func() error { return own }, own, 1},
		{"stops within the grace", true, func() error { time.Sleep(50 * time.Millisecond); return own }, own, 1},
		{"ignores the interrupt", true, func() error { <-never; return nil }, nil, 143},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			if c.cancel {
				cancel(&cmdutil.SignalError{Signal: syscall.SIGTERM})
			}
			err := untilStopped(ctx, 2*time.Second, c.run)
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if cmdutil.ExitCodeOf(err) != c.wantCode {
				t.Errorf("exit %d, want %d (%v)", cmdutil.ExitCodeOf(err), c.wantCode, err)
			}
			if c.want == nil && !strings.Contains(err.Error(), "did not stop within 2s") {
				t.Errorf("message: %v", err)
			}
		})
	}
}

// invoke waiting out IAM propagation (the data plane holds a new grant
// back for ten minutes, --max-wait allows five) ends on a signal.
func TestSignalWhileWaitingForPropagation(t *testing.T) {
	needE2E(t)
	t.Parallel()
	p := startProofEmu(t, seedHead+`serviceAccounts:
  - accountId: orders-caller
services:
  - name: orders-api
`, func(o *emulator.Options) { o.PropagationDelay = 10 * time.Minute })
	file := writeDecl(t, "serviceAccounts:\n  - name: orders-caller\ngrants:\n  - service: orders-api\n    members: [orders-caller]\n")
	addInvokerVia(t, p.opts(), "orders-api", sa("orders-caller"))
	for _, s := range signals {
		t.Run(s.name, func(t *testing.T) {
			proc := testutil.Start(t, testutil.Exec{Env: p.env()}, nil, "invoke", "-f", file, "--emulator="+p.URL, "--max-wait", "5m")
			proc.WaitOutput(t, "waiting for IAM propagation on service orders-api", time.Minute)
			r := proc.Signal(t, s.sig, stopBound)
			wantInterrupted(t, r, s.code, s.name, "while invoking the services")
			p.check(t, "invoke", r)
		})
	}
}
