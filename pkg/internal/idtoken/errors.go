package idtoken

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// UserCredentialsError reports user credentials (type authorized_user, what
// `gcloud auth application-default login` writes) where an ID token for a
// custom audience is needed: Google mints those only for service accounts.
type UserCredentialsError struct {
	// Origin is where the credentials were found (a path, or a description).
	Origin string
}

func (e *UserCredentialsError) Error() string {
	return fmt.Sprintf("credentials in %s are user credentials (authorized_user): Google does not mint ID tokens "+
		"for a custom audience such as a Cloud Run URL from user credentials; impersonate a service account instead "+
		"(--credentials CALLER=impersonate, the default, with the caller named by `as:` in the declaration) after granting yourself "+
		"roles/iam.serviceAccountTokenCreator on it", e.Origin)
}

// UnsupportedCredentialsError reports a credentials file of a type that
// cannot mint ID tokens here.
type UnsupportedCredentialsError struct {
	Origin string
	Type   string
}

func (e *UnsupportedCredentialsError) Error() string {
	return fmt.Sprintf("credentials in %s have type %q, which cannot mint ID tokens here: use a service-account key, "+
		"impersonation (--credentials CALLER=impersonate, the default), or an ID token handed over in a file or "+
		"environment variable", e.Origin, e.Type)
}

// NoCredentialsError says that no source of Application Default Credentials
// was found, and lists every place looked at.
type NoCredentialsError struct {
	Tried []string
}

func (e *NoCredentialsError) Error() string {
	return "no credentials found for ID tokens; tried: " + strings.Join(e.Tried, "; ")
}

// AudienceMismatchError reports an audience a service would refuse, found
// before any call: either the audience asked for is not one the target
// accepts, or an explicit token was minted for another audience.
type AudienceMismatchError struct {
	// Source describes the token source.
	Source string
	// Requested is the audience asked for (empty for an explicit token).
	Requested string
	// TokenAudiences is the explicit token's aud claim (empty otherwise).
	TokenAudiences []string
	// Allowed are the audiences the target accepts: its URLs and custom
	// audiences.
	Allowed []string
}

func (e *AudienceMismatchError) Error() string {
	allowed := quoteList(e.Allowed)
	if allowed == "" {
		allowed = "(none)"
	}
	if e.Requested == "" {
		return fmt.Sprintf("the token from %s has audience %s, but the service accepts only %s",
			e.Source, orNone(quoteList(e.TokenAudiences)), allowed)
	}
	return fmt.Sprintf("audience %q is not one the service accepts (%s); a token for it would be refused with 401",
		e.Requested, allowed)
}

// ExpiredTokenError reports an explicit token that has already expired.
type ExpiredTokenError struct {
	Source string
	Expiry time.Time
	Now    time.Time
}

func (e *ExpiredTokenError) Error() string {
	return fmt.Sprintf("the token from %s expired at %s (%s ago); obtain a fresh one",
		e.Source, e.Expiry.UTC().Format(time.RFC3339), e.Now.Sub(e.Expiry).Round(time.Second))
}

// AccountMismatchError reports a token that speaks for another account
// than the caller it is used for: a call with it would prove that
// account's grant, not the caller's.
type AccountMismatchError struct {
	// Source describes the token source.
	Source string
	// TokenEmail is the token's email claim; Caller the expected account.
	TokenEmail string
	Caller     string
}

func (e *AccountMismatchError) Error() string {
	return fmt.Sprintf("the token from %s is for %s, not for the caller %s: a call with it would prove the grant of %s, not of the caller",
		e.Source, e.TokenEmail, e.Caller, e.TokenEmail)
}

// Unusable reports whether err says that a token was obtained (or handed
// over) but the service would refuse it, or it would prove another
// account's grant: an audience the service does not accept, an expired
// token, a token of another account. Such a token is a refusal found
// before the call, not a failure to obtain a token.
func Unusable(err error) bool {
	var am *AudienceMismatchError
	var ex *ExpiredTokenError
	var ac *AccountMismatchError
	return errors.As(err, &am) || errors.As(err, &ex) || errors.As(err, &ac)
}

// MintError wraps a failure to obtain a token from a source. Its message is
// redacted; Unwrap gives the cause.
type MintError struct {
	Source   string
	Audience string
	Err      error
}

func (e *MintError) Error() string {
	return Redact(fmt.Sprintf("getting an ID token for audience %q from %s: %v", e.Audience, e.Source, e.Err))
}

func (e *MintError) Unwrap() error { return e.Err }

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
