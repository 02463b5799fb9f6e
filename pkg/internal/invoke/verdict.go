package invoke

// Verdict is what a set of results comes to: the one value a command turns
// into its exit status.
type Verdict int

// Verdicts, from best to worst; Summarize returns the worst present.
const (
	// VerdictPass: every check passed or was skipped.
	VerdictPass Verdict = iota
	// VerdictFail: a service gave the wrong verdict: a declared caller was
	// refused, or a caller without a grant (or no token) was allowed.
	VerdictFail
	// VerdictError: some check could not be completed (token minting, the
	// network, 429/5xx, a timeout). It wins over VerdictFail: the proof is
	// incomplete, and a caller refused next to a failing API is not a
	// trustworthy finding about the grant.
	VerdictError
	// VerdictInterrupted: the run was interrupted before every check was
	// decided.
	VerdictInterrupted
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case VerdictPass:
		return "pass"
	case VerdictFail:
		return "fail"
	case VerdictError:
		return "error"
	case VerdictInterrupted:
		return "interrupted"
	}
	return "unknown"
}

// Summarize returns the worst verdict among results (VerdictPass for none).
// An outcome it does not know counts as an error.
func Summarize(results []Result) Verdict {
	v := VerdictPass
	for _, r := range results {
		var this Verdict
		switch r.Outcome {
		case Pass, Skip:
			this = VerdictPass
		case Fail:
			this = VerdictFail
		case Interrupted:
			this = VerdictInterrupted
		default:
			this = VerdictError
		}
		v = max(v, this)
	}
	return v
}
