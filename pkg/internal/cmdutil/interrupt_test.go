package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestInterruptedExitCodeAndMessage(t *testing.T) {
	cause := errors.New("terraform stopped")
	for _, c := range []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"SIGINT", &InterruptedError{Signal: syscall.SIGINT, While: "reading a.yaml", Err: errors.New("nothing was changed")}, 130,
			"interrupted by SIGINT while reading a.yaml: nothing was changed"},
		{"SIGTERM", &InterruptedError{Signal: syscall.SIGTERM, Err: cause}, 143, "interrupted by SIGTERM: terraform stopped"},
		{"no signal", &InterruptedError{While: "waiting for confirmation"}, ExitInterrupted, "interrupted while waiting for confirmation"},
		{"wrapped", fmt.Errorf("stage provision failed: %w", &InterruptedError{Signal: syscall.SIGTERM}), 143, "stage provision failed: interrupted by SIGTERM"},
		{"wins over an exit code", &InterruptedError{Signal: syscall.SIGINT, Err: WithExitCode(ExitVerifyFailed, cause)}, 130, ""},
	} {
		if got := ExitCodeOf(c.err); got != c.code {
			t.Errorf("%s: ExitCodeOf = %d, want %d", c.name, got, c.code)
		}
		if c.msg != "" && c.err.Error() != c.msg {
			t.Errorf("%s: message %q, want %q", c.name, c.err.Error(), c.msg)
		}
		if !IsInterrupted(c.err) {
			t.Errorf("%s: IsInterrupted = false", c.name)
		}
	}
	if IsInterrupted(cause) {
		t.Error("a plain error is an interruption")
	}
}

// Interruptible returns f's result when f ends first, and an interruption
// (with the signal of the cause) as soon as the context is cancelled while
// f blocks; abandon then receives f's late result.
func TestInterruptible(t *testing.T) {
	t.Run("finishes", func(t *testing.T) {
		v, err := Interruptible(context.Background(), "x", func() (int, error) { return 7, nil }, nil)
		if v != 7 || err != nil {
			t.Fatalf("got %d, %v", v, err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		_, err := Interruptible(ctx, "reading f", func() (int, error) { called = true; return 0, nil }, nil)
		if !IsInterrupted(err) || called {
			t.Fatalf("err %v, f called %v", err, called)
		}
	})
	t.Run("cancelled while blocked", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		release := make(chan struct{})
		late := make(chan int, 1)
		go func() {
			time.Sleep(20 * time.Millisecond)
			cancel(&SignalError{Signal: syscall.SIGTERM})
		}()
		_, err := Interruptible(ctx, "reading f", func() (int, error) { <-release; return 9, nil },
			func(v int, _ error) { late <- v })
		if ExitCodeOf(err) != 143 || !strings.Contains(err.Error(), "interrupted by SIGTERM while reading f") {
			t.Fatalf("err %v (exit %d)", err, ExitCodeOf(err))
		}
		close(release)
		select {
		case v := <-late:
			if v != 9 {
				t.Errorf("abandon got %d", v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("abandon was not called")
		}
	})
}

// A real SIGTERM to this process cancels NotifySignals' context with
// the signal as its cause (and does not end the process).
func TestNotifySignals(t *testing.T) {
	ctx, stop := NotifySignals(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	if s := SignalOf(ctx); s != syscall.SIGTERM {
		t.Fatalf("SignalOf = %v", s)
	}
	if SignalOf(context.Background()) != nil {
		t.Error("SignalOf of an uncancelled context")
	}
}
