package cmdutil

import (
	"errors"
	"fmt"
)

// Exit codes of invokerctl. They are documented in README.md ("Exit codes");
// keep the two in step.
const (
	ExitOK = 0
	// ExitError is any failure: bad input, an API or Terraform error, apply
	// not confirmed.
	ExitError = 1
	// ExitChanges is returned by `plan` when the plan has changes, like
	// `terraform plan -detailed-exitcode`.
	ExitChanges = 2
	// ExitVerifyFailed: verify (or run's verify stage) found a declared grant
	// not in force, or an undeclared public service.
	ExitVerifyFailed = 3
	// ExitInvokeFailed: a smoke-test invocation failed (a declared caller
	// refused, or a caller without a grant allowed).
	ExitInvokeFailed = 4
	// ExitFindings: audit found findings at or above --fail-on.
	ExitFindings = 5
	// ExitDrift: drift found live grants that differ from the declarations
	// (a declared grant missing, an undeclared invoker, a deleted or
	// disabled account, undeclared public exposure).
	ExitDrift = 6
	// ExitUsage is a command-line usage error (unknown flag, missing argument).
	ExitUsage = 64
	// A command stopped by SIGINT or SIGTERM exits 128 + the signal's
	// number: ExitInterrupted (130) or 143 (see InterruptedError).
)

// CodeError ends a command with Code. Err is what is printed; nil ends the
// command silently (plan's exit 2 after its summary).
type CodeError struct {
	Code int
	Err  error
}

func (e *CodeError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *CodeError) Unwrap() error { return e.Err }

// WithExitCode wraps err (nil for a silent exit) with code.
func WithExitCode(code int, err error) error { return &CodeError{Code: code, Err: err} }

// UsageError is a command-line mistake: exit 64.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage wraps err as a usage error.
func Usage(err error) error { return &UsageError{Err: err} }

// Usagef is Usage(fmt.Errorf(format, args...)).
func Usagef(format string, args ...any) error { return &UsageError{Err: fmt.Errorf(format, args...)} }

// ExitCodeOf maps an error returned by a command to the process exit code.
func ExitCodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ie *InterruptedError
	if errors.As(err, &ie) {
		return ie.Code()
	}
	var ee *CodeError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}

// IsSilent reports whether err ends the command without a message.
func IsSilent(err error) bool {
	var ee *CodeError
	return errors.As(err, &ee) && ee.Err == nil
}
