// Package invoke proves that grants work: it calls each Cloud Run service
// (or the service behind a Cloud Run function) with the caller's ID token
// and checks the answer, waiting out IAM propagation after a fresh grant.
//
// Besides the call that must succeed, it probes that the service refuses a
// call without a token (unless it is public by declaration) and that a
// named account without a grant is refused. Event-driven functions, which
// only their event source can call, are skipped with that reason.
//
// Results are plain structs for reporters; Result.Err carries typed errors
// (ErrPropagationTimeout, *UnauthorizedError, *StatusError, ErrAllowed,
// ErrTimeout, ErrInterrupted, and the idtoken errors such as
// *idtoken.AudienceMismatchError) for callers that branch. No token text
// reaches a Result, a Progress or an error.
//
// Outcomes keep two kinds of failure apart: Fail is a verdict of the service
// (it refused a caller that should be allowed, or allowed one that should be
// refused), Error means no verdict could be obtained (the token could not
// be minted, the network, 429/5xx, a timeout), and Interrupted marks checks
// cut short by the caller's context. Verdict summarises a set of results.
package invoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/clock"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
)

// Defaults. Google documents that an IAM change typically takes effect
// within 2 minutes and may take up to 7.
const (
	DefaultMaxWait = 7 * time.Minute
	// NoWait as Options.MaxWait makes one attempt, without waiting for
	// propagation.
	NoWait                time.Duration = -1
	DefaultInitialBackoff               = 2 * time.Second
	DefaultMaxBackoff                   = 30 * time.Second
	DefaultTransientTries               = 5
	DefaultParallelism                  = 4
	// DefaultTokenRefresh: a token expiring within this is replaced before
	// an attempt.
	DefaultTokenRefresh = time.Minute
	// DefaultRequestTimeout bounds one call to a service, and one token
	// request (with the retries of its API client), when
	// Options.RequestTimeout is zero.
	DefaultRequestTimeout = 30 * time.Second
	// finalAttemptTimeout is the least time an attempt gets when the
	// propagation wait is (almost) used up: the attempt after the last wait
	// is made at the MaxWait deadline, and needs a moment to be answered.
	// It is also at most a quarter of MaxWait, so a check ends within
	// 1.5×MaxWait whatever the service and the token source do (a token
	// request and a call made at the deadline).
	finalAttemptTimeout = 5 * time.Second
	// maxBody bounds what is read of a response.
	maxBody = 64 << 10
	// snippetLen bounds how much of a response body appears in a reason.
	snippetLen = 300
)

// Target is a service to call.
type Target struct {
	// Name identifies the target in reports, e.g. "service/us-central1/api".
	Name string `json:"name"`
	// Kind is "service" or "function".
	Kind string `json:"kind,omitempty"`
	// URL is the service URL (Run v2 `uri`); requests go there.
	URL string `json:"url"`
	// URLs are the other URLs serving it (Run v2 `urls`) and
	// CustomAudiences its custom audiences: both are accepted token
	// audiences.
	URLs            []string `json:"urls,omitempty"`
	CustomAudiences []string `json:"customAudiences,omitempty"`
	// Audience asks for a token with this audience instead of URL; it must
	// be one of the accepted audiences.
	Audience string `json:"audience,omitempty"`
	// EventDriven marks a function triggered by events: only its event
	// source can invoke it, so every check on it is skipped.
	EventDriven bool `json:"eventDriven,omitempty"`
	// Public marks a target public by declaration (allUsers or invoker IAM
	// check disabled): the unauthenticated probe is skipped.
	Public bool `json:"public,omitempty"`
}

// Allowed is the set of audiences the target accepts.
func (t Target) Allowed() idtoken.Allowed {
	urls := append([]string{t.URL}, t.URLs...)
	return idtoken.Allowed{URLs: urls, Custom: t.CustomAudiences}
}

// Request is the call to make.
type Request struct {
	Method string `json:"method,omitempty"` // default GET
	Path   string `json:"path,omitempty"`   // default "/"; may carry a query
	Body   []byte `json:"-"`
	// Header is added to every attempt (Authorization is always ours).
	Header http.Header `json:"-"`
	// ExpectStatus is the status that counts as success; default 200.
	ExpectStatus int `json:"expectStatus,omitempty"`
}

func (r Request) method() string {
	if r.Method == "" {
		return http.MethodGet
	}
	return strings.ToUpper(r.Method)
}

func (r Request) path() string {
	if r.Path == "" {
		return "/"
	}
	return r.Path
}

func (r Request) expect() int {
	if r.ExpectStatus == 0 {
		return http.StatusOK
	}
	return r.ExpectStatus
}

// Caller is an identity making calls.
type Caller struct {
	// Name identifies the caller in reports, e.g. its IAM member.
	Name string
	// Source supplies its ID tokens; nil makes calls without a token
	// (for a public service). Wrap sources in an idtoken.Cache to reuse
	// tokens across targets.
	Source idtoken.Source
}

// Check is the kind of a result.
type Check string

// Checks.
const (
	// CheckInvoke: the caller's call must succeed.
	CheckInvoke Check = "invoke"
	// CheckUnauthenticated: a call without a token must be refused.
	CheckUnauthenticated Check = "unauthenticated"
	// CheckRefused: a call by an account without a grant must be refused.
	CheckRefused Check = "refused-caller"
)

// Outcome is what a check came to.
type Outcome string

// Outcomes.
const (
	// Pass: the service answered as expected.
	Pass Outcome = "pass"
	// Fail: the service answered, and the answer is the wrong verdict: a
	// caller that should be allowed was refused (401, 403 after the
	// propagation wait, another status), or a call that should be refused
	// was allowed. A token the service would refuse (wrong audience,
	// expired, another account's; see idtoken.Unusable) fails before the
	// call.
	Fail Outcome = "fail"
	// Skip: no call was made, by design (event-driven function, public
	// target, skip in the declaration).
	Skip Outcome = "skip"
	// Error: no verdict could be obtained: the caller's ID token could not
	// be minted (after the API client's retries), or the service could not
	// be reached or kept answering 429/5xx, or did not answer within the
	// request timeout. It says nothing about the grant.
	Error Outcome = "error"
	// Interrupted: the run's context ended (e.g. SIGINT) before the check
	// was decided.
	Interrupted Outcome = "interrupted"
)

// Result is the outcome of one check.
type Result struct {
	Check       Check  `json:"check"`
	Target      string `json:"target"`
	Kind        string `json:"kind,omitempty"`
	URL         string `json:"url,omitempty"`
	Method      string `json:"method,omitempty"`
	Path        string `json:"path,omitempty"`
	Caller      string `json:"caller,omitempty"`
	TokenSource string `json:"tokenSource,omitempty"`
	Audience    string `json:"audience,omitempty"`
	// Expected is the status that counts as success, e.g. "200" or
	// "401 or 403"; Got the last status received (0 when none).
	Expected string `json:"expected"`
	Got      int    `json:"got,omitempty"`
	Attempts int    `json:"attempts"`
	// PropagationDelay is how long the grant took to become effective:
	// from the start of the check (the first token request and call) to
	// the success, when a 403 (from the service, or from IAM Credentials
	// while minting) came first; zero otherwise.
	PropagationDelay time.Duration `json:"propagationDelay"`
	// Elapsed is the whole time the check took.
	Elapsed time.Duration `json:"elapsed"`
	Outcome Outcome       `json:"outcome"`
	Reason  string        `json:"reason,omitempty"`
	// Err is the typed error behind a failure (its text is redacted).
	Err error `json:"-"`
}

// Progress reports a wait between attempts.
type Progress struct {
	Check   Check
	Target  string
	Caller  string
	Attempt int           // attempts made so far
	Elapsed time.Duration // since the first attempt
	Wait    time.Duration // before the next attempt
	Status  int           // last status (0 for a network error)
	// Propagation is true while waiting for an IAM change (403s), false
	// for transient errors (429, 5xx, network).
	Propagation bool
	Reason      string
}

// String is a one-line progress message.
func (p Progress) String() string {
	what := "waiting for IAM propagation"
	if !p.Propagation {
		what = "retrying after " + p.Reason
	}
	who := ""
	if p.Caller != "" {
		who = " as " + p.Caller
	}
	return fmt.Sprintf("%s on %s%s (attempt %d, elapsed %s, next in %s)",
		what, p.Target, who, p.Attempt, p.Elapsed.Round(time.Second), p.Wait.Round(100*time.Millisecond))
}

// Options configure an Invoker. The zero value is usable.
type Options struct {
	// HTTPClient makes the calls; default http.DefaultClient. Redirects
	// are never followed: a 3xx is reported as is.
	HTTPClient *http.Client
	// MaxWait bounds a check: how long a 403 is retried as IAM
	// propagation, counted from the first attempt and including the
	// requests in flight (see RequestTimeout); 0 means DefaultMaxWait
	// (7 minutes), NoWait a single attempt.
	MaxWait time.Duration
	// InitialBackoff and MaxBackoff bound the exponential backoff between
	// attempts (with jitter); defaults 2s and 30s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// TransientTries bounds consecutive attempts ending in a network error,
	// a timeout, 429, 502, 503 or 504 (within MaxWait); default 5.
	TransientTries int
	// RequestTimeout bounds each call to a service (until its answer has
	// been read) and each token request; default DefaultRequestTimeout.
	// An attempt also ends when MaxWait is used up, so a service that never
	// answers cannot stretch the wait: a check ends within MaxWait, plus
	// for a token request and a call made at the deadline at most 5 s (or
	// MaxWait/4) each.
	RequestTimeout time.Duration
	// Parallelism bounds how many cases RunAll runs at once; default 4.
	Parallelism int
	// Now and Sleep are the clock; defaults time.Now and a timer that
	// honours the context. Jitter returns a number in [0, 1).
	Now    func() time.Time
	Sleep  func(context.Context, time.Duration) error
	Jitter func() float64
	// Progress, when set, is called before each wait between attempts.
	// It may be called from several goroutines in RunAll.
	Progress func(Progress)
	// OnResult, when set, is called with each result as it is decided.
	OnResult func(Result)
}

// Invoker runs checks.
type Invoker struct {
	o      Options
	client *http.Client
}

// New returns an Invoker.
func New(o Options) *Invoker {
	switch {
	case o.MaxWait == 0:
		o.MaxWait = DefaultMaxWait
	case o.MaxWait < 0:
		o.MaxWait = 0 // NoWait: the first answer is final
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.InitialBackoff {
		o.MaxBackoff = o.InitialBackoff
	}
	if o.TransientTries <= 0 {
		o.TransientTries = DefaultTransientTries
	}
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	base := o.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Invoker{o: o, client: &c}
}

// Case groups the checks on one target.
type Case struct {
	Target  Target
	Request Request
	// Callers must each be allowed (CheckInvoke).
	Callers []Caller
	// Refused must each be refused with 403 (CheckRefused).
	Refused []Caller
	// ProbeUnauthenticated adds CheckUnauthenticated (skipped when the
	// target is public).
	ProbeUnauthenticated bool
}

// RunCase runs a case's checks in order: the calls that must succeed
// first (they wait out propagation), then the refusal probes.
func (iv *Invoker) RunCase(ctx context.Context, c Case) []Result {
	var out []Result
	for _, caller := range c.Callers {
		out = append(out, iv.Invoke(ctx, c.Target, caller, c.Request))
	}
	for _, caller := range c.Refused {
		out = append(out, iv.ProbeRefused(ctx, c.Target, caller, c.Request))
	}
	if c.ProbeUnauthenticated {
		out = append(out, iv.ProbeUnauthenticated(ctx, c.Target, c.Request))
	}
	return out
}

// RunAll runs cases concurrently (Options.Parallelism at a time) and returns
// the results in case order. When ctx ends, every check not yet decided is
// returned as Interrupted, so the results still cover every case.
func (iv *Invoker) RunAll(ctx context.Context, cases []Case) []Result {
	per := make([][]Result, len(cases))
	sem := make(chan struct{}, iv.o.Parallelism)
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			per[i] = iv.RunCase(ctx, c)
		}()
	}
	wg.Wait()
	var out []Result
	for _, rs := range per {
		out = append(out, rs...)
	}
	return out
}

// eventDrivenReason is why event-driven functions are skipped.
const eventDrivenReason = "event-driven function: only its event source (trigger) can invoke it, so no test call is made"

func (iv *Invoker) base(check Check, t Target, caller Caller, req Request, expected string) Result {
	r := Result{Check: check, Target: t.Name, Kind: t.Kind, URL: t.URL, Method: req.method(), Path: req.path(),
		Caller: caller.Name, Expected: expected}
	if caller.Source != nil {
		r.TokenSource = caller.Source.Describe()
	}
	return r
}

func (iv *Invoker) finish(r Result) Result {
	if r.Err != nil {
		r.Err = idtoken.RedactError(r.Err)
		if r.Reason == "" {
			r.Reason = r.Err.Error()
		}
	}
	r.Reason = idtoken.Redact(r.Reason)
	if iv.o.OnResult != nil {
		iv.o.OnResult(r)
	}
	return r
}

// Invoke calls the target as caller and expects req's status (default 200).
// A 403 is retried as IAM propagation, with exponential backoff and jitter,
// for up to MaxWait from the first attempt; 429/5xx and network errors are
// retried a few times; a 401 (bad token or audience) fails at once.
func (iv *Invoker) Invoke(ctx context.Context, t Target, caller Caller, req Request) Result {
	r := iv.base(CheckInvoke, t, caller, req, fmt.Sprint(req.expect()))
	if t.EventDriven {
		r.Outcome, r.Reason = Skip, eventDrivenReason
		return iv.finish(r)
	}
	want := req.expect()
	iv.run(ctx, &r, t, caller, req, func(status int) verdict {
		switch {
		case status == want:
			return verdictPass
		case status == http.StatusForbidden:
			return verdictPropagation
		case status == http.StatusUnauthorized:
			return verdictUnauthorized
		case transientStatus(status):
			return verdictTransient
		}
		return verdictFail
	})
	return iv.finish(r)
}

// ProbeUnauthenticated calls the target without a token and expects a
// refusal (401 or 403). A public target (by declaration) is skipped.
func (iv *Invoker) ProbeUnauthenticated(ctx context.Context, t Target, req Request) Result {
	r := iv.base(CheckUnauthenticated, t, Caller{}, req, "401 or 403")
	switch {
	case t.EventDriven:
		r.Outcome, r.Reason = Skip, eventDrivenReason
		return iv.finish(r)
	case t.Public:
		r.Outcome, r.Reason = Skip, "public by declaration: calls without a token are expected to succeed"
		return iv.finish(r)
	}
	iv.run(ctx, &r, t, Caller{}, req, refusalVerdict(http.StatusUnauthorized, http.StatusForbidden))
	if r.Outcome == Fail && is2xx(r.Got) {
		r.Err = fmt.Errorf("%w: the service answered %d to a call without a token, but it is not public by declaration (check for allUsers/allAuthenticatedUsers bindings or a disabled invoker IAM check)", ErrAllowed, r.Got)
		r.Reason = ""
	}
	return iv.finish(r)
}

// ProbeRefused calls the target as caller, an account that holds no grant
// on it, and expects 403. A success is a failure: "caller X was allowed but
// has no declared grant".
func (iv *Invoker) ProbeRefused(ctx context.Context, t Target, caller Caller, req Request) Result {
	r := iv.base(CheckRefused, t, caller, req, "403")
	if t.EventDriven {
		r.Outcome, r.Reason = Skip, eventDrivenReason
		return iv.finish(r)
	}
	iv.run(ctx, &r, t, caller, req, refusalVerdict(http.StatusForbidden))
	if r.Outcome == Fail {
		var ue *UnauthorizedError
		switch {
		case is2xx(r.Got):
			r.Err = fmt.Errorf("%w: caller %s was allowed (%d) but has no declared grant on %s", ErrAllowed, caller.Name, r.Got, t.Name)
			r.Reason = ""
		case errors.As(r.Err, &ue):
			r.Err = fmt.Errorf("the token of %s was rejected before IAM was consulted, so the refusal was not shown: %w", caller.Name, ue)
			r.Reason = ""
		}
	}
	return iv.finish(r)
}

func refusalVerdict(ok ...int) func(int) verdict {
	return func(status int) verdict {
		for _, s := range ok {
			if status == s {
				return verdictPass
			}
		}
		if transientStatus(status) {
			return verdictTransient
		}
		if status == http.StatusUnauthorized {
			return verdictUnauthorized
		}
		return verdictFail
	}
}

type verdict int

const (
	verdictPass verdict = iota
	verdictFail
	verdictPropagation
	verdictTransient
	verdictUnauthorized
)

func transientStatus(s int) bool {
	switch s {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func is2xx(s int) bool { return s >= 200 && s < 300 }

// attempt is what one call produced.
type attempt struct {
	status  int
	body    string
	wwwAuth string
	err     error
}

// run is the retry loop shared by every check.
func (iv *Invoker) run(ctx context.Context, r *Result, t Target, caller Caller, req Request, judge func(int) verdict) {
	start := iv.o.Now()
	defer func() { r.Elapsed = iv.o.Now().Sub(start) }()

	var tok idtoken.Token
	if caller.Source != nil {
		aud, err := idtoken.SelectAudience(caller.Source, t.Audience, t.Allowed())
		if err != nil {
			r.Outcome, r.Err = tokenOutcome(err), err
			return
		}
		r.Audience = aud
	}

	var (
		saw403    bool
		transient int
		backoffN  int
	)
	for {
		if ctx.Err() != nil {
			iv.interrupted(ctx, r)
			return
		}
		if caller.Source != nil && (tok.IsZero() || tok.ExpiresWithin(iv.o.Now(), DefaultTokenRefresh)) {
			var err error
			tok, err = iv.token(ctx, caller.Source, r.Audience, start)
			if err != nil {
				if ctx.Err() != nil {
					iv.interrupted(ctx, r)
					return
				}
				if !permissionDenied(err) {
					r.Outcome, r.Err = tokenOutcome(err), err
					return
				}
				// A token-creator grant made moments ago propagates like
				// any other IAM change.
				if elapsed := iv.o.Now().Sub(start); elapsed >= iv.o.MaxWait {
					r.Outcome = Error
					r.Err = fmt.Errorf("%w: minting a token was still refused after %s: %w", ErrPropagationTimeout, elapsed.Round(time.Second), err)
					return
				}
				saw403 = true
				backoffN++
				if werr := iv.wait(ctx, r, start, backoffN, http.StatusForbidden, true, "token minting refused (403)"); werr != nil {
					iv.interrupted(ctx, r)
					return
				}
				continue
			}
		}
		r.Attempts++
		a := iv.call(ctx, t, req, tok, iv.attemptTimeout(start))
		if ctx.Err() != nil {
			iv.interrupted(ctx, r)
			return
		}
		r.Got = a.status
		v := verdictTransient
		if a.err == nil {
			v = judge(a.status)
		}
		switch v {
		case verdictPass:
			r.Outcome = Pass
			if saw403 {
				r.PropagationDelay = iv.o.Now().Sub(start)
				r.Reason = fmt.Sprintf("the grant became effective after %s (%d attempts)", r.PropagationDelay.Round(time.Second), r.Attempts)
			}
			return
		case verdictUnauthorized:
			r.Outcome, r.Err = Fail, unauthorized(a, tok)
			return
		case verdictFail:
			r.Outcome, r.Err = Fail, &StatusError{Expected: r.Expected, Got: a.status, Body: a.body}
			if a.status >= 500 {
				// The service (or its front end) failed: no verdict.
				r.Outcome = Error
			}
			return
		case verdictPropagation:
			saw403 = true
			transient = 0
			if iv.o.Now().Sub(start) >= iv.o.MaxWait {
				r.Outcome = Fail
				r.Err = fmt.Errorf("%w: still refused with 403 after %s and %d attempts: %s has no effective run.routes.invoke on %s (the grant is missing, or has not propagated yet)%s",
					ErrPropagationTimeout, iv.o.Now().Sub(start).Round(time.Second), r.Attempts, orAnonymous(caller.Name), t.Name, bodySuffix(a.body))
				return
			}
			backoffN++
			if err := iv.wait(ctx, r, start, backoffN, a.status, true, "403"); err != nil {
				iv.interrupted(ctx, r)
				return
			}
		case verdictTransient:
			transient++
			reason := fmt.Sprintf("HTTP %d", a.status)
			if a.err != nil {
				reason = "network error: " + a.err.Error()
			}
			if transient >= iv.o.TransientTries || iv.o.Now().Sub(start) >= iv.o.MaxWait {
				r.Outcome = Error
				if a.err != nil {
					r.Err = fmt.Errorf("calling %s: %w", t.URL, a.err)
				} else {
					r.Err = &StatusError{Expected: r.Expected, Got: a.status, Body: a.body}
				}
				return
			}
			backoffN++
			if err := iv.wait(ctx, r, start, backoffN, a.status, false, reason); err != nil {
				iv.interrupted(ctx, r)
				return
			}
		}
	}
}

// interrupted marks r as cut short by the end of ctx.
func (iv *Invoker) interrupted(ctx context.Context, r *Result) {
	r.Outcome = Interrupted
	r.Err = fmt.Errorf("%w after %d attempt(s): %w", ErrInterrupted, r.Attempts, context.Cause(ctx))
}

// attemptTimeout is how long the next attempt may take: RequestTimeout, or
// what is left of MaxWait when less, but at least the final-attempt floor
// (finalAttemptTimeout, RequestTimeout or MaxWait/4, whichever is least).
func (iv *Invoker) attemptTimeout(start time.Time) time.Duration {
	d := iv.o.RequestTimeout
	if iv.o.MaxWait <= 0 {
		return d
	}
	left := iv.o.MaxWait - iv.o.Now().Sub(start)
	floor := min(finalAttemptTimeout, d, iv.o.MaxWait/4)
	return min(d, max(left, floor))
}

// token asks src for a token, bounded like a call.
func (iv *Invoker) token(ctx context.Context, src idtoken.Source, audience string, start time.Time) (idtoken.Token, error) {
	limit := iv.attemptTimeout(start)
	tctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("%w: the token source gave no token within %s", ErrTimeout, limit))
	defer cancel()
	tok, err := src.Token(tctx, audience)
	if err != nil && ctx.Err() == nil && tctx.Err() != nil {
		err = fmt.Errorf("%w: %w", context.Cause(tctx), err)
	}
	return tok, err
}

// wait sleeps for the n-th backoff (bounded by what is left of MaxWait),
// reporting progress first.
func (iv *Invoker) wait(ctx context.Context, r *Result, start time.Time, n, status int, propagation bool, reason string) error {
	d := gcp.ExpBackoff(iv.o.InitialBackoff, iv.o.MaxBackoff, n)
	d = d/2 + time.Duration(iv.o.Jitter()*float64(d/2)) // equal jitter
	elapsed := iv.o.Now().Sub(start)
	if left := iv.o.MaxWait - elapsed; d > left {
		d = max(left, 0)
	}
	if iv.o.Progress != nil {
		iv.o.Progress(Progress{Check: r.Check, Target: r.Target, Caller: r.Caller, Attempt: r.Attempts,
			Elapsed: elapsed, Wait: d, Status: status, Propagation: propagation, Reason: idtoken.Redact(reason)})
	}
	return iv.o.Sleep(ctx, d)
}

// call makes one request, bounded by limit until its answer has been read.
func (iv *Invoker) call(ctx context.Context, t Target, req Request, tok idtoken.Token, limit time.Duration) attempt {
	u := strings.TrimSuffix(t.URL, "/") + "/" + strings.TrimPrefix(req.path(), "/")
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	actx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("%w: no answer within %s", ErrTimeout, limit))
	defer cancel()
	hr, err := http.NewRequestWithContext(actx, req.method(), u, body)
	if err != nil {
		return attempt{err: err}
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	hr.Header.Del("Authorization")
	tok.SetAuthHeader(hr.Header)
	resp, err := iv.client.Do(hr)
	if err != nil {
		return attempt{err: timedOut(ctx, actx, idtoken.RedactError(err))}
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if rerr != nil && ctx.Err() == nil && actx.Err() != nil {
		// The headers came, the body never finished.
		return attempt{err: timedOut(ctx, actx, rerr)}
	}
	return attempt{status: resp.StatusCode, body: snippet(b), wwwAuth: resp.Header.Get("WWW-Authenticate")}
}

// timedOut names the attempt timeout as the cause of err when it was.
func timedOut(parent, attemptCtx context.Context, err error) error {
	if parent.Err() == nil && attemptCtx.Err() != nil {
		return context.Cause(attemptCtx)
	}
	return err
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > snippetLen {
		s = s[:snippetLen] + "…"
	}
	return idtoken.Redact(s)
}

func bodySuffix(body string) string {
	if body == "" {
		return ""
	}
	return ": " + body
}

func orAnonymous(name string) string {
	if name == "" {
		return "an unauthenticated caller"
	}
	return name
}

func unauthorized(a attempt, tok idtoken.Token) error {
	e := &UnauthorizedError{WWWAuthenticate: idtoken.Redact(a.wwwAuth), Body: a.body}
	if !tok.IsZero() {
		e.TokenAudience, e.TokenCaller, e.TokenExpiry = tok.Audience(), tok.Caller(), tok.Expiry
	}
	return e
}

// tokenOutcome is the outcome of a check whose token could not be used:
// Fail when a token was had but the service would refuse it (wrong
// audience, expired, another account's: the refusal is found before the
// call), Error when no token could be obtained at all (minting failed after
// the API client's retries, a timeout, unusable credentials): nothing was
// learnt about the grant.
func tokenOutcome(err error) Outcome {
	if idtoken.Unusable(err) {
		return Fail
	}
	return Error
}

// permissionDenied reports a token-minting refusal with 403 (IAM
// Credentials PERMISSION_DENIED), which a fresh token-creator grant causes
// until it propagates.
func permissionDenied(err error) bool {
	s := err.Error()
	return strings.Contains(s, "PERMISSION_DENIED") || strings.Contains(s, "status code 403")
}
