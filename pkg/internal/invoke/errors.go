package invoke

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrPropagationTimeout: the call was still refused with 403 when the
// propagation wait ran out.
var ErrPropagationTimeout = errors.New("IAM propagation wait exceeded")

// ErrTimeout: a call to the service, or a token request, got no answer
// within the request timeout (Options.RequestTimeout, or what was left of
// MaxWait).
var ErrTimeout = errors.New("request timed out")

// ErrInterrupted: the run's context ended before the check was decided
// (Outcome Interrupted).
var ErrInterrupted = errors.New("interrupted")

// ErrAllowed: a call that must be refused (no token, or an account without
// a grant) succeeded.
var ErrAllowed = errors.New("call allowed but should have been refused")

// UnauthorizedError is a 401: the service did not accept the token (wrong
// audience, expired, not a Google-signed ID token, or none at all). It is
// never IAM propagation, so it is not retried.
type UnauthorizedError struct {
	WWWAuthenticate string
	Body            string
	// The claims of the token sent (no token text), to help diagnose.
	TokenAudience string
	TokenCaller   string
	TokenExpiry   time.Time
}

func (e *UnauthorizedError) Error() string {
	var b strings.Builder
	b.WriteString("401 Unauthorized: the service did not accept the ID token")
	if e.TokenCaller != "" || e.TokenAudience != "" {
		fmt.Fprintf(&b, " (caller %s, audience %q", e.TokenCaller, e.TokenAudience)
		if !e.TokenExpiry.IsZero() {
			fmt.Fprintf(&b, ", expires %s", e.TokenExpiry.UTC().Format(time.RFC3339))
		}
		b.WriteString(")")
	} else {
		b.WriteString(" (no token was sent)")
	}
	b.WriteString("; check that the audience is the service URL or one of its custom audiences and that the token has not expired")
	if e.WWWAuthenticate != "" {
		b.WriteString("; WWW-Authenticate: " + e.WWWAuthenticate)
	}
	if e.Body != "" {
		b.WriteString("; response: " + e.Body)
	}
	return b.String()
}

// StatusError is an answer other than the expected one.
type StatusError struct {
	Expected string
	Got      int
	Body     string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("expected HTTP %s, got %d", e.Expected, e.Got)
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}
