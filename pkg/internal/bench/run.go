package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"
)

// Config is one run of every scenario.
type Config struct {
	// Size is the scale of verify and invoke; ApplySize that of apply
	// (zero: Size).
	Size      Size
	ApplySize Size
	// Latency is added by the emulator to every request.
	Latency time.Duration
	// DataPlaneDuration is how long each data-plane measurement calls;
	// DataPlaneWorkers how many calls ours keeps in flight.
	DataPlaneDuration time.Duration
	DataPlaneWorkers  int
	// Audit is the organization the audit scenario reads; zero Services
	// leaves it out.
	Audit AuditSize
	// Tools run the apply scenario; without them it is left out.
	Tools *Tools
	// Progress receives a line as each measurement starts and ends; nil
	// discards them.
	Progress io.Writer
}

// Run measures every scenario, each figure beside its baseline measured in
// the same run, and returns the table.
func Run(ctx context.Context, c Config) (*Table, error) {
	if c.ApplySize.Services == 0 {
		c.ApplySize = c.Size
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	t := &Table{Title: fmt.Sprintf("Emulator with %s added to every request; %d CPU(s); %s.",
		c.Latency, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))}
	r := runner{c: c, ctx: ctx}
	rows := []func() ([]Row, error){r.proof, r.apply, r.dataPlane, r.audit}
	for _, f := range rows {
		got, err := f()
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, got...)
	}
	t.Notes = []string{
		"ratio: baseline ÷ ours for times and counts (above 1: ours is faster or makes fewer calls); ours ÷ baseline for rates.",
		"verify + invoke baseline: the same verify and invoke code run for one grant at a time, in a loop, nothing shared.",
		"apply baseline: each account created, then a read-modify-write (getIamPolicy, setIamPolicy) per token creator and per member, one call at a time.",
	}
	if c.Audit.Services > 0 {
		t.Notes = append(t.Notes,
			"audit: the project engine's baseline is the same engine with one read in flight (Workers 1), the client-side rate limit set not to bind in both; on a sample its wall time is its time per call × the calls the whole organization needs.",
			"audit peak heap: runtime.MemStats.HeapInuse sampled every 20 ms, above its level before the audit; the emulator runs in the same process, so its work is included.")
		if c.Audit.chromium() == "" {
			t.Notes = append(t.Notes, "audit HTML page: not loaded in a browser (no chromium on PATH, or -chromium none).")
		}
	}
	if c.Tools == nil {
		t.Notes = append(t.Notes, "apply was not measured: no terraform or invokerctl binary was given.")
	}
	return t, nil
}

type runner struct {
	c   Config
	ctx context.Context
}

// step runs one measurement and reports its progress.
func (r runner) step(name string, f func() error) error {
	fmt.Fprintf(r.c.Progress, "bench: %s...\n", name)
	start := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(r.c.Progress, "bench: %s done in %s\n", name, time.Since(start).Round(time.Millisecond))
	return nil
}

func (r runner) proof() ([]Row, error) {
	s := r.c.Size
	var ours, loop proofRun
	err := r.step("verify + invoke, "+s.String(), func() (err error) { ours, err = proveOurs(r.ctx, s, r.c.Latency); return err })
	if err == nil {
		err = r.step("verify + invoke baseline loop", func() (err error) { loop, err = proveLoop(r.ctx, s, r.c.Latency); return err })
	}
	if err != nil {
		return nil, err
	}
	name := "verify + invoke, " + s.String()
	return []Row{
		timeRow(name+": wall time", ours.Wall, loop.Wall),
		countRow(name+": API calls", ours.APICalls, loop.APICalls),
		countRow(fmt.Sprintf("ID tokens minted (generateIdToken) vs caller × audience pairs called (%d callers, %d services)",
			s.Callers+1, s.Services), ours.Mints, s.callerAudiences()),
	}, nil
}

func (r runner) apply() ([]Row, error) {
	if r.c.Tools == nil {
		return nil, nil
	}
	s := r.c.ApplySize
	var cold, warm, loop applyRun
	err := r.step("apply, "+s.String(), func() (err error) { cold, warm, err = applyOurs(r.ctx, s, r.c.Latency, *r.c.Tools); return err })
	if err == nil {
		err = r.step("apply baseline loop", func() (err error) { loop, err = applyLoop(r.ctx, s, r.c.Latency); return err })
	}
	if err != nil {
		return nil, err
	}
	name := "apply, " + s.String()
	perMember := float64(cold.PolicyCalls) / float64(s.Grants())
	floor := float64(2*s.Services) / float64(s.Grants())
	return []Row{
		timeRow(name+": wall time (terraform init + plan + apply)", cold.Wall, loop.Wall),
		countRow(name+": API calls", cold.APICalls, loop.APICalls),
		{Benchmark: name + ": service-policy calls per member vs the floor (one read-modify-write per service)",
			Ours: fmt.Sprintf("%.2f", perMember), Baseline: fmt.Sprintf("%.2f", floor), Ratio: ratio(floor, perMember)},
		timeRow(name+": second run, same working directory (provider installed, no changes) vs the first", warm.Wall, cold.Wall),
		countRow(name+": second run API calls vs the first", warm.APICalls, cold.APICalls),
	}, nil
}

func (r runner) dataPlane() ([]Row, error) {
	var ours, seq dataPlaneRun
	w := r.c.DataPlaneWorkers
	err := r.step(fmt.Sprintf("data plane, %d concurrent", w), func() (err error) {
		ours, err = dataPlane(r.ctx, r.c.Size, r.c.Latency, r.c.DataPlaneDuration, w)
		return err
	})
	if err == nil {
		err = r.step("data plane, sequential", func() (err error) {
			seq, err = dataPlane(r.ctx, r.c.Size, r.c.Latency, r.c.DataPlaneDuration, 1)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return []Row{{
		Benchmark: fmt.Sprintf("data plane: invocations/s with ID-token validation and policy evaluation, %d concurrent vs sequential", w),
		Ours:      fmt.Sprintf("%.0f/s", ours.PerSecond()), Baseline: fmt.Sprintf("%.0f/s", seq.PerSecond()),
		Ratio: ratio(ours.PerSecond(), seq.PerSecond()),
	}}, nil
}
