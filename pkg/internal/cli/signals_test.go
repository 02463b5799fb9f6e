package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
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
