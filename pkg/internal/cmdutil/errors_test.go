package cmdutil

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCodeOf(t *testing.T) {
	plain := errors.New("boom")
	for _, c := range []struct {
		name   string
		err    error
		code   int
		silent bool
	}{
		{"nil", nil, ExitOK, false},
		{"plain error", plain, ExitError, false},
		{"usage", Usagef("unknown flag %q", "--x"), ExitUsage, false},
		{"wrapped usage", fmt.Errorf("stage: %w", Usage(plain)), ExitUsage, false},
		{"exit code", WithExitCode(ExitVerifyFailed, plain), ExitVerifyFailed, false},
		{"wrapped exit code", fmt.Errorf("stage invoke failed: %w", WithExitCode(ExitInvokeFailed, plain)), ExitInvokeFailed, false},
		{"silent exit code", WithExitCode(ExitChanges, nil), ExitChanges, true},
	} {
		if got := ExitCodeOf(c.err); got != c.code {
			t.Errorf("%s: ExitCodeOf = %d, want %d", c.name, got, c.code)
		}
		if got := IsSilent(c.err); got != c.silent {
			t.Errorf("%s: IsSilent = %v, want %v", c.name, got, c.silent)
		}
	}
	if err := WithExitCode(3, plain); !errors.Is(err, plain) || err.Error() != "boom" {
		t.Errorf("WithExitCode does not wrap: %v", err)
	}
	if got := WithExitCode(2, nil).Error(); got != "exit status 2" {
		t.Errorf("silent exit message %q", got)
	}
}
