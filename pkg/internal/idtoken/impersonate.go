package idtoken

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

// ImpersonationOptions configure an impersonation source.
type ImpersonationOptions struct {
	// Target is the service account whose ID tokens are minted: an email,
	// a unique id, or a "serviceAccount:" member.
	Target string
	// Delegates is the delegation chain, in order: the caller must hold
	// roles/iam.serviceAccountTokenCreator (or ...OpenIdTokenCreator) on the
	// first, each delegate on the next, and the last on Target. Emails,
	// members or "projects/-/serviceAccounts/..." names are accepted.
	Delegates []string
	// HTTPClient calls IAM Credentials as the caller. The library's URL is
	// fixed (https://iamcredentials.googleapis.com), and it uses this client
	// as given, adding no credentials: the client must add the caller's
	// access token itself (e.g. golang.org/x/oauth2/google.DefaultClient, or
	// an oauth2.Transport), and against an emulator also rewrite the host.
	// When nil, the library builds a client from Application Default
	// Credentials.
	HTTPClient *http.Client
	// Timeout bounds one generateIdToken call, with the retries of
	// HTTPClient's transport; default one minute. The context given to
	// Token bounds it too.
	Timeout time.Duration
}

// Impersonated mints ID tokens for a service account through IAM
// Credentials generateIdToken, as the caller (the identity HTTPClient
// carries). The tokens include the account's email.
type Impersonated struct {
	target    string
	delegates []string
	client    *http.Client
	timeout   time.Duration
}

// NewImpersonated returns an impersonation source for o.Target.
func NewImpersonated(o ImpersonationOptions) (*Impersonated, error) {
	target := accountName(o.Target)
	if target == "" {
		return nil, fmt.Errorf("impersonation needs a target service account")
	}
	if strings.Contains(target, ":") || strings.Contains(target, "/") {
		return nil, fmt.Errorf("impersonation target %q is not a service-account email or unique id", o.Target)
	}
	im := &Impersonated{target: target, client: o.HTTPClient, timeout: o.Timeout}
	for _, d := range o.Delegates {
		n := accountName(d)
		if n == "" {
			return nil, fmt.Errorf("empty delegate in the delegation chain for %s", target)
		}
		im.delegates = append(im.delegates, n)
	}
	if im.timeout <= 0 {
		im.timeout = time.Minute
	}
	return im, nil
}

// accountName strips the member and resource-name prefixes of a service
// account reference.
func accountName(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "serviceAccount:")
	if i := strings.LastIndex(s, "/serviceAccounts/"); i >= 0 {
		s = s[i+len("/serviceAccounts/"):]
	}
	return s
}

// Target is the impersonated account.
func (im *Impersonated) Target() string { return im.target }

// Describe names the account and the delegation chain.
func (im *Impersonated) Describe() string {
	if len(im.delegates) == 0 {
		return "impersonation of " + im.target
	}
	return fmt.Sprintf("impersonation of %s via %s", im.target, strings.Join(im.delegates, " → "))
}

// Token calls generateIdToken for audience, with includeEmail set.
func (im *Impersonated) Token(ctx context.Context, audience string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	opts := []option.ClientOption{option.WithLogger(quietLogger)}
	if im.client != nil {
		c := *im.client
		if c.Timeout == 0 || c.Timeout > im.timeout {
			c.Timeout = im.timeout
		}
		// The library makes its request without a context: give it ctx, so
		// that cancelling the run (or a deadline) ends the call and any
		// retry wait of the transport.
		c.Transport = &contextTransport{ctx: ctx, base: c.Transport}
		opts = append(opts, option.WithHTTPClient(&c))
	}
	ts, err := impersonate.IDTokenSource(ctx, impersonate.IDTokenConfig{
		Audience:        audience,
		TargetPrincipal: im.target,
		IncludeEmail:    true,
		Delegates:       im.delegates,
	}, opts...)
	return mintFrom(ts, err, im.Describe(), audience)
}

// mintFrom takes one ID token from ts, the token source a Google client
// library built for source (or the error building it), and reads its
// claims.
func mintFrom(ts oauth2.TokenSource, err error, source, audience string) (Token, error) {
	if err == nil {
		var ot *oauth2.Token
		if ot, err = ts.Token(); err == nil {
			return parseMinted(ot.AccessToken, source, audience)
		}
	}
	return Token{}, &MintError{Source: source, Audience: audience, Err: RedactError(err)}
}

// parseMinted reads the claims of a freshly minted token.
func parseMinted(raw, source, audience string) (Token, error) {
	t, err := ParseToken(raw)
	if err != nil {
		return Token{}, &MintError{Source: source, Audience: audience, Err: fmt.Errorf("the token received: %w", err)}
	}
	t.Source = source
	return t, nil
}

// contextTransport sends each request with ctx, for libraries that build
// their requests without one.
type contextTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t *contextTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req.WithContext(t.ctx))
}
