package cli

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// The proof stages verify, invoke, run and demo share: read the policies
// (verify) and call the services (invoke) for one declaration on one
// target, keeping the results for the report.

// errVerifyFailed ends verify (and run) when a declared grant is not in force.
var errVerifyFailed = errors.New("verification failed: the policies in force do not match the declaration (see the report)")

// errInvokeFailed ends invoke (and run) when a check of the calls failed.
var errInvokeFailed = errors.New("invocation failed: a declared caller was refused, or a caller without a grant was allowed (see the report)")

// proofStages runs verify and invoke for one declaration against one target.
type proofStages struct {
	env    cmdEnv
	decl   *config.Declaration
	target target.Target
	o      *ProofFlags

	clients *gcp.Clients
	verify  *verify.Report
	invoke  []invoke.Result
}

// newProofStages builds the API clients for t.
func newProofStages(env cmdEnv, decl *config.Declaration, t target.Target, o *ProofFlags) (*proofStages, error) {
	p := &proofStages{env: env, decl: decl, target: t, o: o}
	c, err := gcp.New(env.Ctx, gcp.Options{Endpoint: t.APIEndpoint(), TokenSource: t.TokenSource(), UserAgent: "invokerctl/" + Version,
		Retry: gcp.RetryPolicy{OnRetry: p.onAPIRetry}})
	if err != nil {
		return nil, err
	}
	p.clients = c
	return p, nil
}

// openProof validates the flags, loads the declaration, resolves the target
// and opens the proof stages on it; stop ends an in-process emulator.
func openProof(env cmdEnv, to *TargetFlags, po *ProofFlags) (p *proofStages, stop func(), err error) {
	if to.File == "" {
		return nil, nil, cmdutil.Usage(errors.New("-f FILE is required: the declaration"))
	}
	if err := checkSeedFlag(to.Emulator, to.Seed); err != nil {
		return nil, nil, err
	}
	if err := po.validate(); err != nil {
		return nil, nil, err
	}
	decl, err := loadDeclaration(env, to.File)
	if err != nil {
		return nil, nil, err
	}
	t, stop, err := resolveTarget(env, to.Emulator, to.Seed, decl.Project)
	if err != nil {
		return nil, nil, err
	}
	if p, err = newProofStages(env, decl, t, po); err != nil {
		stop()
		return nil, nil, err
	}
	return p, stop, nil
}

func (p *proofStages) onAPIRetry(req *http.Request, status int, wait time.Duration) {
	fmt.Fprintf(p.env.IO.ErrOut, "  %s %s answered %d; retrying in %s\n", req.Method, req.URL.Path, status, wait.Round(time.Millisecond))
}

// runVerify reads the policies and records the report.
func (p *proofStages) runVerify() error {
	fmt.Fprintf(p.env.IO.ErrOut, "Verifying %d grant(s) of %s against %s...\n", len(p.decl.Grants), p.decl.File, p.target)
	v := &verify.Verifier{Clients: p.clients}
	rep, err := v.Verify(p.env.Ctx, pipeline.Expectations(p.decl))
	p.verify = rep
	if err != nil && p.env.Ctx.Err() != nil {
		return cmdutil.Interrupted(p.env.Ctx, "reading the policies", nil)
	}
	return err
}

// verifyError is how a verify report ends the command: nil when every
// grant is in force; exit 1 when a target's policies could not be read (an
// API failure: the verification is incomplete, not failed); else exit 3.
func verifyError(rep *verify.Report) error {
	unread := 0
	for _, r := range rep.Results {
		if r.Err != nil {
			unread++
		}
	}
	switch {
	case unread > 0:
		return fmt.Errorf("verification incomplete: the policies of %d target(s) could not be read (see the report)", unread)
	case !rep.OK():
		return cmdutil.WithExitCode(cmdutil.ExitVerifyFailed, errVerifyFailed)
	}
	return nil
}

// runInvoke performs the smoke tests, using the verify report for URLs.
func (p *proofStages) runInvoke() error {
	ctx, ios := p.env.Ctx, p.env.IO
	srcs := &pipeline.Sources{Target: p.target, Decl: p.decl, Specs: p.o.specs}
	if err := srcs.Validate(); err != nil {
		return cmdutil.Usage(err)
	}
	// Credentials files (--credentials key:PATH, token-file:PATH) are read
	// here; a FIFO or a blocked pipe must not outlast an interrupt.
	type built struct {
		cases []invoke.Case
		pre   []invoke.Result
	}
	b, err := cmdutil.Interruptible(ctx, "reading the callers' credentials", func() (built, error) {
		cases, pre, err := pipeline.InvokeCases(ctx, p.decl, p.verify, srcs)
		return built{cases, pre}, err
	}, nil)
	cases, pre := b.cases, b.pre
	if err != nil {
		return err
	}
	maxWait := p.o.MaxWait
	if maxWait == 0 {
		maxWait = invoke.NoWait // --max-wait 0: a single attempt
	}
	opts := invoke.Options{
		MaxWait:        maxWait,
		RequestTimeout: p.o.RequestTimeout,
		Progress: func(pr invoke.Progress) {
			fmt.Fprintf(ios.ErrOut, "  %s\n", idtoken.Redact(pr.String()))
		},
		OnResult: func(r invoke.Result) {
			fmt.Fprintf(ios.ErrOut, "  %-4s %s: %s\n", strings.ToUpper(string(r.Outcome)), r.Target, checkName(r))
		},
	}
	if c := p.env.Factory.Clock; c != nil {
		opts.Now, opts.Sleep = c.Now, c.Sleep
	}
	fmt.Fprintf(ios.ErrOut, "Invoking %d target(s) (waiting up to %s per check for IAM propagation)...\n", len(cases), p.o.MaxWait)
	// An interrupted run still returns what it finished (the rest marked
	// interrupted), so the report of it gets written; invokeVerdict turns
	// it into the exit status.
	p.invoke = append(pre, invoke.New(opts).RunAll(ctx, cases)...)
	return nil
}

// invokeVerdict is the error (and exit status) the invoke results come to,
// after the report is written: nil when every check passed; exit 4 when a
// service gave the wrong answer; exit 1 when a check could not be completed
// (token minting, network, 429/5xx, timeouts): an API that hiccupped is not
// a caller refused; 130/143 when a signal interrupted the run.
func (p *proofStages) invokeVerdict() error {
	counts := map[invoke.Outcome]int{}
	for _, r := range p.invoke {
		counts[r.Outcome]++
	}
	switch invoke.Summarize(p.invoke) {
	case invoke.VerdictPass:
		return nil
	case invoke.VerdictFail:
		return cmdutil.WithExitCode(cmdutil.ExitInvokeFailed, errInvokeFailed)
	case invoke.VerdictInterrupted:
		// 128+signal, like every interrupted command; the report is written.
		return cmdutil.Interrupted(p.env.Ctx, "invoking the services",
			fmt.Errorf("%d check(s) not decided; the report shows the rest", counts[invoke.Interrupted]))
	default:
		return fmt.Errorf("invocation incomplete: %d check(s) could not be completed (token minting, the network, API errors or timeouts; see the report)", counts[invoke.Error])
	}
}

func checkName(r invoke.Result) string {
	switch r.Check {
	case invoke.CheckUnauthenticated:
		return "unauthenticated call refused?"
	case invoke.CheckRefused:
		return "refuses " + r.Caller + "?"
	}
	if r.Caller == "" {
		return "invoke"
	}
	return "invoke as " + r.Caller
}
