package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/idtoken"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// proofOptions are the flags verify, invoke and run share.
type proofOptions struct {
	Format      string
	Credentials []string
	MaxWait     time.Duration
	specs       []pipeline.CredentialSpec
	format      report.Format
}

func addProofFlags(cmd *cobra.Command, o *proofOptions, withInvoke bool) {
	f := cmd.Flags()
	f.StringVar(&o.Format, "format", "table", "output format: table, json or junit")
	if withInvoke {
		f.StringArrayVar(&o.Credentials, "credentials", nil, "how a caller gets its ID token: CALLER=impersonate[:DELEGATES], CALLER=key:PATH, CALLER=metadata,\nCALLER=token-file:PATH or CALLER=token-env:VAR (CALLER is a short name, a member, or '*'); repeatable; default impersonate")
		f.DurationVar(&o.MaxWait, "max-wait", invoke.DefaultMaxWait, "how long to wait out IAM propagation (a 403 right after a grant) per call; 0 makes a single attempt")
	}
}

func (o *proofOptions) validate() error {
	f, err := report.ParseFormat(o.Format)
	if err != nil {
		return &usageError{err: err}
	}
	o.format = f
	for _, c := range o.Credentials {
		spec, err := pipeline.ParseCredentialSpec(c)
		if err != nil {
			return &usageError{err: err}
		}
		o.specs = append(o.specs, spec)
	}
	if o.MaxWait < 0 {
		return &usageError{err: errors.New("--max-wait must not be negative")}
	}
	return nil
}

// proofDeps are the outside world of the proof stages; tests replace them.
type proofDeps struct {
	// invokeOptions adjusts the invoker (clock, sleep) in tests.
	invokeOptions func(*invoke.Options)
}

func defaultProofDeps() proofDeps { return proofDeps{} }

// proofStages runs verify and invoke for one declaration against one target.
type proofStages struct {
	ios    *iostreams.IOStreams
	decl   *config.Declaration
	target target.Target
	o      *proofOptions
	deps   proofDeps

	clients *gcp.Clients
	verify  *verify.Report
	invoke  []invoke.Result
}

func (p *proofStages) open(ctx context.Context) error {
	c, err := gcp.New(ctx, gcp.Options{Endpoint: p.target.APIEndpoint(), TokenSource: p.target.TokenSource(), UserAgent: "invokerctl/" + Version,
		Retry: gcp.RetryPolicy{OnRetry: p.onAPIRetry}})
	if err != nil {
		return err
	}
	p.clients = c
	return nil
}

func (p *proofStages) onAPIRetry(req *http.Request, status int, wait time.Duration) {
	fmt.Fprintf(p.ios.ErrOut, "  %s %s answered %d; retrying in %s\n", req.Method, req.URL.Path, status, wait.Round(time.Millisecond))
}

// runVerify reads the policies and records the report.
func (p *proofStages) runVerify(ctx context.Context) error {
	fmt.Fprintf(p.ios.ErrOut, "Verifying %d grant(s) of %s against %s...\n", len(p.decl.Grants), p.decl.File, p.target)
	v := &verify.Verifier{Clients: p.clients}
	rep, err := v.Verify(ctx, pipeline.Expectations(p.decl))
	p.verify = rep
	return err
}

// checkCredentials resolves every --credentials caller against decl, so
// that a caller the declaration does not know is a usage error before any
// stage runs (and before anything is provisioned).
func (o *proofOptions) checkCredentials(decl *config.Declaration) error {
	s := &pipeline.Sources{Decl: decl, Specs: o.specs}
	if err := s.Validate(); err != nil {
		return &usageError{err: err}
	}
	return nil
}

// runInvoke performs the smoke tests, using the verify report for URLs.
func (p *proofStages) runInvoke(ctx context.Context) error {
	srcs := &pipeline.Sources{Target: p.target, Decl: p.decl, Specs: p.o.specs}
	if err := srcs.Validate(); err != nil {
		return &usageError{err: err}
	}
	cases, pre, err := pipeline.InvokeCases(ctx, p.decl, p.verify, srcs)
	if err != nil {
		return err
	}
	maxWait := p.o.MaxWait
	if maxWait == 0 {
		maxWait = invoke.NoWait // --max-wait 0: a single attempt
	}
	opts := invoke.Options{
		MaxWait: maxWait,
		Progress: func(pr invoke.Progress) {
			fmt.Fprintf(p.ios.ErrOut, "  %s\n", idtoken.Redact(pr.String()))
		},
		OnResult: func(r invoke.Result) {
			fmt.Fprintf(p.ios.ErrOut, "  %-4s %s: %s\n", strings.ToUpper(string(r.Outcome)), r.Target, checkName(r))
		},
	}
	if p.deps.invokeOptions != nil {
		p.deps.invokeOptions(&opts)
	}
	fmt.Fprintf(p.ios.ErrOut, "Invoking %d target(s) (waiting up to %s per call for IAM propagation)...\n", len(cases), p.o.MaxWait)
	iv := invoke.New(opts)
	p.invoke = append(pre, iv.RunAll(ctx, cases)...)
	return ctx.Err()
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

// proofDocument is the --format json document.
type proofDocument struct {
	File    string           `json:"file"`
	Project string           `json:"project"`
	Target  target.Kind      `json:"target"`
	OK      bool             `json:"ok"`
	Stage   string           `json:"failedStage,omitempty"`
	Apply   *provisionResult `json:"apply,omitempty"`
	Verify  []*verifyJSON    `json:"verify,omitempty"`
	Invoke  []invokeJSON     `json:"invoke,omitempty"`
	Cases   []report.Case    `json:"cases"`
	Counts  report.Counts    `json:"counts"`
}

type verifyJSON struct {
	*verify.ServiceResult
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type invokeJSON struct {
	invoke.Result
	PropagationDelay string `json:"propagationDelay,omitempty"`
	Elapsed          string `json:"elapsed,omitempty"`
}

// cases lists every case the stages produced.
func (p *proofStages) cases() []report.Case {
	var out []report.Case
	if p.verify != nil {
		out = append(out, p.verify.Cases()...)
	}
	out = append(out, pipeline.InvokeReportCases(p.invoke)...)
	return out
}

// write renders the results in the chosen format.
func (p *proofStages) write(w io.Writer, failedStage string, apply *provisionResult) error {
	cases := p.cases()
	switch p.o.format {
	case report.FormatJSON:
		doc := proofDocument{File: p.decl.File, Project: p.decl.Project, Target: p.target.Kind(), OK: failedStage == "", Stage: failedStage,
			Apply: apply, Cases: cases, Counts: report.Count(cases)}
		if p.verify != nil {
			for _, r := range p.verify.Results {
				vj := &verifyJSON{ServiceResult: r, OK: r.OK()}
				if r.Err != nil {
					vj.Error = idtoken.Redact(r.Err.Error())
				}
				doc.Verify = append(doc.Verify, vj)
			}
		}
		for _, r := range p.invoke {
			ij := invokeJSON{Result: r}
			ij.Reason = idtoken.Redact(r.Reason)
			if r.PropagationDelay > 0 {
				ij.PropagationDelay = r.PropagationDelay.String()
			}
			if r.Elapsed > 0 {
				ij.Elapsed = r.Elapsed.String()
			}
			doc.Invoke = append(doc.Invoke, ij)
		}
		return report.JSON(w, doc)
	case report.FormatJUnit:
		return report.JUnit(w, "invokerctl "+p.decl.File, cases)
	default:
		return report.Table(w, cases)
	}
}

// checkSeedFlag refuses --seed without an in-process emulator; commands call
// it before reading any file, like every usage error.
func checkSeedFlag(emulatorFlag, seed string) error {
	if seed != "" && emulatorFlag != inProcessEmulator {
		return &usageError{err: errors.New("--seed needs --emulator without a URL (an in-process emulator)")}
	}
	return nil
}

// resolveTarget turns --emulator/--seed into a target, starting an
// in-process emulator when asked; stop (never nil) ends it.
func resolveTarget(ios *iostreams.IOStreams, emulatorFlag, seed, project string, deps provisionDeps) (target.Target, func(), error) {
	noop := func() {}
	switch emulatorFlag {
	case "":
		return target.Google(), noop, nil
	case inProcessEmulator:
		url, token, stop, err := deps.startEmulator(project, seed)
		if err != nil {
			return target.Target{}, noop, fmt.Errorf("starting the in-process emulator: %w", err)
		}
		t, err := target.Emulator(url, token)
		if err != nil {
			stop()
			return target.Target{}, noop, err
		}
		fmt.Fprintf(ios.ErrOut, "Started an in-process emulator at %s; its state ends with this command.\n", url)
		return t, stop, nil
	default:
		t, err := target.FromEnv(emulatorFlag, deps.getenv)
		return t, noop, err
	}
}
