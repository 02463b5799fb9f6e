package cmdutil

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// How a command ends on SIGINT or SIGTERM: the signal cancels the
// command's context (NotifySignals), every wait of the command watches it
// (Interruptible for the ones that cannot), and the command ends with an
// *InterruptedError whose exit code is 128 + the signal's number, as
// shells report a process killed by it: 130 for SIGINT, 143 for SIGTERM.

// ExitInterrupted is the exit code of a command interrupted by SIGINT (or
// by a cancellation that no signal caused).
const ExitInterrupted = 128 + int(syscall.SIGINT)

// SignalError is the cause of a context cancelled by NotifySignals.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return signalName(e.Signal) + " received" }

// NotifySignals returns a copy of parent cancelled, with a *SignalError
// cause, when SIGINT or SIGTERM arrives. Like signal.NotifyContext, later
// signals are caught too until stop is called.
func NotifySignals(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(&SignalError{Signal: s})
		case <-done:
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// InterruptedError ends a command whose context was cancelled: While says
// what it was doing, Err (optional) what came of it.
type InterruptedError struct {
	// Signal is the signal that cancelled the context; nil when none did.
	Signal os.Signal
	While  string
	Err    error
}

func (e *InterruptedError) Error() string {
	msg := "interrupted"
	if e.Signal != nil {
		msg += " by " + signalName(e.Signal)
	}
	if e.While != "" {
		msg += " while " + e.While
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// Code is the exit code: 128 + the signal's number, else ExitInterrupted.
func (e *InterruptedError) Code() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return ExitInterrupted
}

// Interrupted is the error of a command stopped by ctx's cancellation
// while doing while; err (optional) is what the interrupted step
// returned. An err that already is an *InterruptedError is returned as it is.
func Interrupted(ctx context.Context, while string, err error) error {
	var ie *InterruptedError
	if errors.As(err, &ie) {
		return err
	}
	return &InterruptedError{Signal: SignalOf(ctx), While: while, Err: err}
}

// IsInterrupted reports whether err ends a command interrupted by a signal
// (or a cancellation).
func IsInterrupted(err error) bool {
	var ie *InterruptedError
	return errors.As(err, &ie)
}

// SignalOf is the signal that cancelled ctx, or nil.
func SignalOf(ctx context.Context) os.Signal {
	var se *SignalError
	if errors.As(context.Cause(ctx), &se) {
		return se.Signal
	}
	return nil
}

// Interruptible runs f, which may block without watching ctx (a read of a
// FIFO, a pipe or a terminal), and returns its result, or an
// *InterruptedError saying while as soon as ctx is cancelled. f then goes
// on in the background; abandon is called with its result when it ends
// (to close what it opened), and may be nil.
func Interruptible[T any](ctx context.Context, while string, f func() (T, error), abandon func(T, error)) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, Interrupted(ctx, while, nil)
	}
	type result struct {
		v   T
		err error
	}
	var (
		mu     sync.Mutex
		gaveUp bool
	)
	done := make(chan result, 1)
	go func() {
		v, err := f()
		mu.Lock()
		defer mu.Unlock()
		if gaveUp {
			if abandon != nil {
				abandon(v, err)
			}
			return
		}
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
	}
	mu.Lock()
	defer mu.Unlock()
	select {
	case r := <-done: // finished meanwhile: keep its result
		return r.v, r.err
	default:
	}
	gaveUp = true
	return zero, Interrupted(ctx, while, nil)
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
