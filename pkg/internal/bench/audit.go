package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/render"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
)

// AuditSize is the organization the audit scenario reads: Services Cloud
// Run services spread evenly over Projects projects, spread evenly over
// Folders folders under one organization.
type AuditSize struct {
	Folders, Projects, Services int
	// Sample is how many services (whole projects, the first ones) the
	// sequential baseline reads; its wall time is extrapolated per call to
	// the whole organization. Zero or ≥ Services: the baseline reads it all.
	Sample int
	// Workers is the project engine's pool; Quota the per-second quota set
	// on the emulator for the quota measurement (zero: not measured).
	Workers int
	Quota   float64
	// Chromium is the browser the HTML page is loaded in; empty: found on
	// PATH, and that row left out when there is none.
	Chromium string
}

func (s AuditSize) perProject() int { return (s.Services + s.Projects - 1) / s.Projects }

func (s AuditSize) String() string {
	return fmt.Sprintf("%d services in %d projects under %d folders", s.Services, s.Projects, s.Folders)
}

const auditOrg = "1000"

func auditProject(p int) string { return fmt.Sprintf("audit-p%03d", p) }

// projectIDs are the first n projects.
func (s AuditSize) projectIDs(n int) []string {
	out := make([]string, n)
	for p := range out {
		out[p] = auditProject(p)
	}
	return out
}

// sampleProjects is how many whole projects hold at least Sample services.
func (s AuditSize) sampleProjects() int {
	if s.Sample <= 0 || s.Sample >= s.Services {
		return s.Projects
	}
	return min(s.Projects, (s.Sample+s.perProject()-1)/s.perProject())
}

// seed is the organization: a grant at each level (organization, folder,
// project) and one member of its own on every service.
func (s AuditSize) seed() (*emulator.Seed, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "defaults: {location: %s}\norganizations:\n  - id: %q\n    displayName: example.com\n", location, auditOrg)
	b.WriteString("    policy: [{role: roles/run.invoker, members: [group:everyone@example.com]}]\nfolders:\n")
	for f := 0; f < s.Folders; f++ {
		fmt.Fprintf(&b, "  - id: \"%d\"\n    parent: organizations/%s\n    displayName: team-%d\n", 2000+f, auditOrg, f)
		fmt.Fprintf(&b, "    policy: [{role: roles/run.invoker, members: [group:team-%d@example.com]}]\n", f)
	}
	b.WriteString("projects:\n")
	for p := 0; p < s.Projects; p++ {
		fmt.Fprintf(&b, "  - id: %s\n    parent: folders/%d\n", auditProject(p), 2000+p%s.Folders)
		fmt.Fprintf(&b, "    policy: [{role: roles/run.invoker, members: [group:deployers-%d@example.com]}]\n", p)
	}
	b.WriteString("services:\n")
	for i := 0; i < s.Services; i++ {
		p := i / s.perProject()
		fmt.Fprintf(&b, "  - {name: svc-%04d, project: %s, policy: [{role: roles/run.invoker, members: [user:caller-%02d@example.com]}]}\n",
			i, auditProject(p), i%20)
	}
	return emulator.ParseSeed([]byte(b.String()), "bench-audit-seed.yaml")
}

// auditEmulator starts the organization with latency and quota (0: none).
func auditEmulator(sd *emulator.Seed, latency time.Duration, quota float64) (*emulator.Emulator, error) {
	return emulator.New(emulator.Options{Project: auditProject(0), Seed: sd, Latency: latency, QPS: quota})
}

// auditRun is one audit measured: its wall time, the API calls the
// emulator served, the services reported and the peak heap in use above
// the level before it started (the in-process emulator's included).
type auditRun struct {
	Wall     time.Duration
	Calls    int
	Services int
	PeakHeap uint64
	Report   *audit.Report
}

// PerSecond is the call rate.
func (r auditRun) PerSecond() float64 { return float64(r.Calls) / r.Wall.Seconds() }

// auditWith runs one audit through the real clients with a client-side
// limit of limit requests per second, as the audit command's --rate does.
func auditWith(ctx context.Context, e *emulator.Emulator, workers int, limit float64, f func(context.Context, *audit.Engine) (*audit.Report, error)) (auditRun, error) {
	limiter := audit.NewLimiter(limit)
	c, err := gcp.New(ctx, gcp.Options{Endpoint: e.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.BootstrapToken()}),
		Base:        audit.RateLimited(&http.Transport{MaxIdleConnsPerHost: workers}, limiter)})
	if err != nil {
		return auditRun{}, err
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		top := before.HeapInuse
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				runtime.ReadMemStats(&m)
				peak <- max(top, m.HeapInuse) - before.HeapInuse
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapInuse)
			}
		}
	}()
	e.ResetCalls()
	start := time.Now()
	rep, err := f(ctx, &audit.Engine{Clients: c, Workers: workers})
	wall := time.Since(start)
	close(stop)
	r := auditRun{Wall: wall, PeakHeap: <-peak, Report: rep}
	if err != nil {
		return r, err
	}
	if len(rep.Errors) > 0 {
		return r, fmt.Errorf("audit read errors, first: %v", rep.Errors[0])
	}
	for _, n := range e.Calls() {
		r.Calls += n
	}
	r.Services = len(rep.Services)
	return r, nil
}

func projectEngine(ids []string) func(context.Context, *audit.Engine) (*audit.Report, error) {
	return func(ctx context.Context, e *audit.Engine) (*audit.Report, error) {
		return e.Audit(ctx, audit.Scope{Projects: ids})
	}
}

func assetEngine(ctx context.Context, e *audit.Engine) (*audit.Report, error) {
	return e.AuditAssets(ctx, audit.AssetScope{Parents: []string{"organizations/" + auditOrg}})
}

// unbound is a client-side rate that never binds at these sizes.
const unbound = 1e6

func (r runner) audit() ([]Row, error) {
	s := r.c.Audit
	if s.Services == 0 {
		return nil, nil
	}
	sd, err := s.seed()
	if err != nil {
		return nil, err
	}
	e, err := auditEmulator(sd, r.c.Latency, 0)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	all := s.projectIDs(s.Projects)
	sampleIDs := s.projectIDs(s.sampleProjects())
	whole := len(sampleIDs) == s.Projects
	var ours, loop, oursSample, assets auditRun
	steps := []struct {
		name string
		run  *auditRun
		f    func() (auditRun, error)
	}{
		{fmt.Sprintf("audit, project engine, %s, %d workers", s, s.Workers), &ours,
			func() (auditRun, error) { return auditWith(r.ctx, e, s.Workers, unbound, projectEngine(all)) }},
		{fmt.Sprintf("audit, project engine, %d projects, %d workers", len(sampleIDs), s.Workers), &oursSample,
			func() (auditRun, error) { return auditWith(r.ctx, e, s.Workers, unbound, projectEngine(sampleIDs)) }},
		{fmt.Sprintf("audit baseline loop, %d projects, one call at a time", len(sampleIDs)), &loop,
			func() (auditRun, error) { return auditWith(r.ctx, e, 1, unbound, projectEngine(sampleIDs)) }},
		{"audit, asset engine, organizations/" + auditOrg, &assets,
			func() (auditRun, error) { return auditWith(r.ctx, e, s.Workers, unbound, assetEngine) }},
	}
	for _, st := range steps {
		if err := r.step(st.name, func() (err error) { *st.run, err = st.f(); return err }); err != nil {
			return nil, err
		}
	}
	if ours.Services != s.Services || assets.Services != s.Services {
		return nil, fmt.Errorf("audit reported %d services (project engine) and %d (asset engine), want %d", ours.Services, assets.Services, s.Services)
	}
	name := "audit, project engine, " + s.String()
	base := "sequential loop"
	// The loop's time per call, over the calls the whole organization needs.
	loopWall := time.Duration(float64(loop.Wall) / float64(loop.Calls) * float64(ours.Calls))
	if !whole {
		base = fmt.Sprintf("sequential loop on a %d-service sample (%d projects), extrapolated", loop.Services, len(sampleIDs))
	}
	rows := []Row{
		timeRow(fmt.Sprintf("%s, %d workers: wall time (baseline: %s per call)", name, s.Workers, base), ours.Wall, loopWall),
		countRow(name+": API calls (baseline: "+base+" per service)", ours.Calls, loop.Calls*s.Services/max(1, loop.Services)),
		{Benchmark: name + ": API calls/s", Ours: fmt.Sprintf("%.0f/s", ours.PerSecond()), Baseline: fmt.Sprintf("%.0f/s", loop.PerSecond()),
			Ratio: ratio(ours.PerSecond(), loop.PerSecond())},
		{Benchmark: fmt.Sprintf("audit, project engine, %d-service sample: peak heap in use above the start, emulator included (%d workers vs one at a time)", oursSample.Services, s.Workers),
			Ours: mib(oursSample.PeakHeap), Baseline: mib(loop.PeakHeap), Ratio: ratio(float64(loop.PeakHeap), float64(oursSample.PeakHeap))},
		countRow(fmt.Sprintf("audit, asset engine, organizations/%s (%s): API calls vs the project engine (goal ≤ 100)", auditOrg, s), assets.Calls, ours.Calls),
		timeRow(fmt.Sprintf("audit, asset engine, organizations/%s: wall time vs the project engine (goal ≤ 15 s)", auditOrg), assets.Wall, ours.Wall),
	}
	if s.Quota > 0 {
		q, err := r.auditQuota(sd, ours.Calls, all)
		if err != nil {
			return nil, err
		}
		rows = append(rows, q...)
	}
	html, err := r.auditHTML(ours.Report, oursSample.Report)
	if err != nil {
		return nil, err
	}
	return append(rows, html...), nil
}

// auditQuota audits the organization with the emulator's quota set and
// the client's rate set to it, as the audit command's --rate does, against
// the floor the quota imposes on the calls the audit needs.
func (r runner) auditQuota(sd *emulator.Seed, calls int, ids []string) ([]Row, error) {
	s := r.c.Audit
	floor := time.Duration(float64(calls) / s.Quota * float64(time.Second))
	e, err := auditEmulator(sd, r.c.Latency, s.Quota)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	var q auditRun
	err = r.step(fmt.Sprintf("audit, project engine, quota %.0f/s", s.Quota), func() (err error) {
		q, err = auditWith(r.ctx, e, s.Workers, s.Quota, projectEngine(ids))
		return err
	})
	if err != nil {
		return nil, err
	}
	// The emulator counts the requests it refused with 429 too.
	return []Row{timeRow(fmt.Sprintf("audit, project engine, %s, emulator quota %.0f requests/s, --rate %.0f: wall time vs the floor (%d calls ÷ quota; %d requests refused with 429 and retried; goal ≤ 1.3× the floor, ratio ≥ 0.77)",
		s, s.Quota, s.Quota, calls, max(0, q.Calls-calls)), q.Wall, floor)}, nil
}

// auditHTML renders the organization's report as the HTML page and loads
// it in headless Chromium, beside the sample's page and a blank page.
func (r runner) auditHTML(rep, sample *audit.Report) ([]Row, error) {
	pages := make([][]byte, 2)
	for i, rp := range []*audit.Report{rep, sample} {
		rp.Findings = audit.Findings(rp)
		rp.Sort()
		var b bytes.Buffer
		if err := render.Write(&b, render.HTML, rp, render.Info{Version: "bench"}); err != nil {
			return nil, err
		}
		pages[i] = b.Bytes()
	}
	name := fmt.Sprintf("audit HTML page, %d services", len(rep.Services))
	rows := []Row{{Benchmark: fmt.Sprintf("%s: size (baseline: the %d-service sample's page)", name, len(sample.Services)),
		Ours: mib(uint64(len(pages[0]))), Baseline: mib(uint64(len(pages[1]))),
		Ratio: ratio(float64(len(pages[1])), float64(len(pages[0])))}}
	bin := r.c.Audit.chromium()
	if bin == "" {
		return rows, nil
	}
	dir, err := os.MkdirTemp("", "bench-audit-html-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	page := filepath.Join(dir, "audit.html")
	if err := os.WriteFile(page, pages[0], 0o644); err != nil {
		return nil, err
	}
	var load, blank time.Duration
	err = r.step("audit HTML page in headless Chromium", func() (err error) {
		if blank, err = chromiumLoad(r.ctx, bin, dir, "about:blank"); err != nil {
			return err
		}
		load, err = chromiumLoad(r.ctx, bin, dir, "file://"+page)
		return err
	})
	if err != nil {
		return nil, err
	}
	return append(rows, timeRow(name+": load and render in headless Chromium, --dump-dom (baseline: a blank page, Chromium's own start)", load, blank)), nil
}

// chromium is the browser binary to load the page in: Chromium as set,
// found on PATH when unset, none ("") when set to "none".
func (a AuditSize) chromium() string {
	switch a.Chromium {
	case "none":
		return ""
	case "":
		return findChromium()
	}
	return a.Chromium
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// chromiumLoad is the wall time of one headless Chromium printing url's
// DOM after its scripts ran, with a profile of its own under dir.
func chromiumLoad(ctx context.Context, bin, dir, url string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	home, err := os.MkdirTemp(dir, "profile-")
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, bin, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--disable-extensions", "--user-data-dir="+filepath.Join(home, "profile"), "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+home)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return time.Since(start), nil
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
