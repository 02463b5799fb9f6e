package cmdutil

import "syscall"

// worstFirst ranks the exit codes, worst first, for WorstExitCode: an
// interruption, a usage mistake, an error, then the failures a command
// found (invoke, verify, drift, audit findings), changes to apply, success.
var worstFirst = []int{
	128 + int(syscall.SIGTERM), // 143
	ExitInterrupted,            // 130 (SIGINT)
	ExitUsage,
	ExitError,
	ExitInvokeFailed,
	ExitVerifyFailed,
	ExitDrift,
	ExitFindings,
	ExitChanges,
	ExitOK,
}

// WorstExitCode is the one exit code of a command that ran on several
// declarations: the worst of codes, in this order, worst first:
// interrupted (143, 130), usage 64, error 1, invoke failed 4, verify
// failed 3, drift 6, findings 5, changes 2, ok 0. Any other code above
// 128 (another signal) ranks with the interruptions and any other code
// with the errors; among codes of one rank the first given wins. No codes
// is ExitOK.
func WorstExitCode(codes ...int) int {
	worst, worstRank := ExitOK, exitRank(ExitOK)
	for _, c := range codes {
		if r := exitRank(c); r < worstRank {
			worst, worstRank = c, r
		}
	}
	return worst
}

// exitRank is c's place in worstFirst (0 is the worst).
func exitRank(c int) int {
	for i, w := range worstFirst {
		if c == w {
			return i
		}
	}
	if c > 128 {
		return 1 // another signal: an interruption
	}
	return 3 // an unknown code: an error
}
