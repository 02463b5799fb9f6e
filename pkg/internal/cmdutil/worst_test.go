package cmdutil

import "testing"

func TestWorstExitCode(t *testing.T) {
	cases := []struct {
		name  string
		codes []int
		want  int
	}{
		{"none", nil, ExitOK},
		{"all ok", []int{0, 0}, ExitOK},
		{"changes over ok", []int{0, ExitChanges}, ExitChanges},
		{"findings over changes", []int{ExitChanges, ExitFindings}, ExitFindings},
		{"drift over findings", []int{ExitFindings, ExitDrift, 0}, ExitDrift},
		{"verify failed over drift", []int{ExitDrift, ExitVerifyFailed}, ExitVerifyFailed},
		{"invoke failed over verify failed", []int{ExitVerifyFailed, ExitInvokeFailed}, ExitInvokeFailed},
		{"error over invoke failed", []int{ExitInvokeFailed, ExitError, ExitVerifyFailed}, ExitError},
		{"usage over error", []int{ExitError, ExitUsage}, ExitUsage},
		{"SIGINT over usage", []int{ExitUsage, ExitInterrupted, ExitError}, ExitInterrupted},
		{"SIGTERM over SIGINT", []int{ExitInterrupted, 143}, 143},
		{"SIGTERM over SIGINT, either order", []int{143, ExitInterrupted}, 143},
		{"another signal ranks with SIGINT: the first wins", []int{137, ExitInterrupted}, 137},
		{"an unknown code ranks with errors: the first wins", []int{ExitInvokeFailed, 7, ExitError}, 7},
		{"an unknown code below usage", []int{7, ExitUsage}, ExitUsage},
		{"one code", []int{ExitDrift}, ExitDrift},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := WorstExitCode(c.codes...); got != c.want {
				t.Errorf("WorstExitCode(%v) = %d, want %d", c.codes, got, c.want)
			}
		})
	}
}
