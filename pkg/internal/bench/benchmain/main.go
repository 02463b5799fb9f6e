// Command benchmain is `make bench`: it measures invokerctl beside its
// baselines against the in-process emulator (package bench), prints the
// Markdown table and writes it to a file.
//
//	go run ./pkg/internal/bench/benchmain -invokerctl bin/invokerctl -out bin/bench.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/bench"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		c         bench.Config
		applySvcs int
		tools     bench.Tools
		out       string
		fullBase  bool
	)
	flag.IntVar(&c.Size.Services, "services", 200, "Cloud Run services (two member grants each)")
	flag.IntVar(&c.Size.Callers, "callers", 20, "caller accounts the grants are spread over")
	// Terraform's apply of 200 services takes about three minutes at 50 ms
	// (the provider reads each policy five times per member); 100 keeps
	// make bench within about four minutes on 2 cores.
	flag.IntVar(&applySvcs, "apply-services", 100, "services in the apply scenario (0: -services)")
	flag.DurationVar(&c.Latency, "latency", 50*time.Millisecond, "latency the emulator adds to every request")
	flag.DurationVar(&c.DataPlaneDuration, "dataplane-duration", 3*time.Second, "how long each data-plane measurement calls")
	flag.IntVar(&c.DataPlaneWorkers, "dataplane-workers", 32, "concurrent calls in the data-plane measurement")
	flag.StringVar(&tools.Invokerctl, "invokerctl", "", "the invokerctl binary, which serves the offline provider (required for apply; empty: apply is left out)")
	flag.StringVar(&tools.Terraform, "terraform", "", "the terraform binary (default: found on PATH)")
	flag.IntVar(&c.Audit.Services, "audit-services", 5000, "Cloud Run services in the audit scenario's organization (0: no audit scenario)")
	flag.IntVar(&c.Audit.Projects, "audit-projects", 50, "projects the audit's services are spread over")
	flag.IntVar(&c.Audit.Folders, "audit-folders", 5, "folders the audit's projects are spread over, under one organization")
	flag.IntVar(&c.Audit.Sample, "audit-sample", 500, "services (whole projects) the audit's sequential baseline reads; its time is extrapolated per call")
	flag.BoolVar(&fullBase, "audit-full-baseline", false, "run the audit's sequential baseline over the whole organization (minutes at 5,000 services)")
	flag.IntVar(&c.Audit.Workers, "audit-workers", 64, "reads in flight in the audit's project engine")
	flag.Float64Var(&c.Audit.Quota, "audit-quota", 500, "per-second quota set on the emulator for the audit's quota measurement (0: not measured)")
	flag.StringVar(&c.Audit.Chromium, "chromium", "", "the Chromium binary the audit's HTML page is loaded in (default: found on PATH; none: that row is left out)")
	flag.StringVar(&out, "out", "", "also write the table to this file")
	flag.Parse()
	if c.Size.Services < 1 || c.Size.Callers < 2 || c.DataPlaneWorkers < 1 {
		return fmt.Errorf("need -services ≥ 1, -callers ≥ 2 and -dataplane-workers ≥ 1")
	}
	if c.Audit.Services > 0 && (c.Audit.Projects < 1 || c.Audit.Folders < 1 || c.Audit.Workers < 1) {
		return fmt.Errorf("need -audit-projects, -audit-folders and -audit-workers ≥ 1")
	}
	if fullBase {
		c.Audit.Sample = 0
	}
	c.ApplySize = bench.Size{Services: applySvcs, Callers: c.Size.Callers}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if tools.Invokerctl != "" {
		var err error
		if tools.Invokerctl, err = filepath.Abs(tools.Invokerctl); err != nil {
			return err
		}
		if tools.Terraform, err = tf.Find(ctx, tf.FindOptions{ExecPath: tools.Terraform, NoDownload: true}); err != nil {
			return err
		}
		c.Tools = &tools
	}
	c.Progress = os.Stderr
	t, err := bench.Run(ctx, c)
	if err != nil {
		return err
	}
	md := t.Markdown()
	fmt.Print(md)
	if out == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(md), 0o644)
}
