package cli

import (
	"errors"
	"fmt"
)

// Exit codes of invokerctl. They are documented in README.md ("Exit codes");
// keep the two in step.
const (
	ExitOK = 0
	// ExitError is any failure: bad input, an API or Terraform error, a
	// failed verification or invocation.
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
	// ExitUsage is a command-line usage error (unknown flag, missing argument).
	ExitUsage = 64
)

// ExitError carries an exit code through cobra's error return so a command
// can end with a code other than 1 without printing anything more.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

// WithExitCode wraps err (which may be nil for a silent exit) with code.
func WithExitCode(code int, err error) error { return &exitCodeError{code: code, err: err} }

// ExitCodeOf maps an error returned by a command to the process exit code.
func ExitCodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}

type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }
