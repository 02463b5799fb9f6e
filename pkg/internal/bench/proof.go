package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/invoke"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// proofRun is what one verify-and-invoke measurement cost.
type proofRun struct {
	Wall     time.Duration
	APICalls int
	Mints    int // generateIdToken requests the emulator served
}

// parallelism of one proof: 0 keeps invokerctl's defaults.
type parallelism struct{ verify, invoke int }

// prove runs verify then invoke for d, as `invokerctl run` does after
// apply: the policies are read, then each grant's caller calls its service
// with an ID token and the unauthenticated and outsider calls are probed.
// Any failed check is an error: a figure from a failing run means nothing.
func prove(ctx context.Context, e *emu, d *config.Declaration, p parallelism) error {
	clients, err := e.clients(ctx)
	if err != nil {
		return err
	}
	rep, err := (&verify.Verifier{Clients: clients, Parallel: p.verify}).Verify(ctx, pipeline.Expectations(d))
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("verify failed on %d grant(s)", len(d.Grants))
	}
	srcs := &pipeline.Sources{Target: e.target, Decl: d}
	cases, pre, err := pipeline.InvokeCases(ctx, d, rep, srcs)
	if err != nil {
		return err
	}
	results := append(pre, invoke.New(invoke.Options{Parallelism: p.invoke}).RunAll(ctx, cases)...)
	for _, r := range results {
		if r.Outcome != invoke.Pass && r.Outcome != invoke.Skip {
			return fmt.Errorf("invoke %s as %q: %s: %s", r.Target, r.Caller, r.Outcome, r.Reason)
		}
	}
	return nil
}

// proveOurs proves the whole declaration at once, with invokerctl's
// concurrency, policy reads shared per service and tokens cached per caller
// and audience.
func proveOurs(ctx context.Context, s Size, latency time.Duration) (proofRun, error) {
	d, err := s.Declaration()
	if err != nil {
		return proofRun{}, err
	}
	return measureProof(s, latency, func(e *emu) error { return prove(ctx, e, d, parallelism{}) })
}

// proveLoop is the baseline: the same proof one grant at a time, each run
// on its own with nothing shared and nothing concurrent — a loop over the
// grants calling the same code.
func proveLoop(ctx context.Context, s Size, latency time.Duration) (proofRun, error) {
	d, err := s.Declaration()
	if err != nil {
		return proofRun{}, err
	}
	return measureProof(s, latency, func(e *emu) error {
		for _, g := range d.Grants {
			one := *d
			one.Grants = []config.Grant{g}
			if err := prove(ctx, e, &one, parallelism{verify: 1, invoke: 1}); err != nil {
				return err
			}
		}
		return nil
	})
}

func measureProof(s Size, latency time.Duration, run func(*emu) error) (proofRun, error) {
	e, err := startEmulator(s, false, latency)
	if err != nil {
		return proofRun{}, err
	}
	defer e.Close()
	e.ResetCalls()
	start := time.Now()
	if err := run(e); err != nil {
		return proofRun{}, err
	}
	return proofRun{Wall: time.Since(start), APICalls: e.apiCalls(), Mints: e.calls("iamcredentials.v1.generateIdToken")}, nil
}

// callerAudiences is the number of distinct (caller, audience) pairs the
// proof calls with a token: each grant's caller and the outsider, on each
// service. A token cache that works mints exactly this many tokens.
func (s Size) callerAudiences() int { return 2 * s.Services }
