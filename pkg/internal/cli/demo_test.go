package cli

import (
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// `invokerctl demo --format json` through the binary: the whole pipeline
// offline, with a propagation delay to wait out. Every stage passes (ok,
// exit 0, 16 passes and the 2 skips of the event-driven function), at
// least one call waited out the delay (attempts > 1, a propagation delay,
// "grant effective after" in its case) with progress on stderr, and there
// is no token text in the output or in the demo's directory.
func TestDemo(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	dir := t.TempDir()
	r := runBin(t, []string{tfprovider.SleepScaleEnv + "=0.02"}, "demo", "--format", "json", "--dir", dir, "--propagation-delay", "3s")
	wantExit(t, r, 0, "demo")
	d := reportJSON(t, r)
	if !d.OK || d.Stage != "" || d.Apply == nil || !d.Apply.Applied || d.Counts == nil {
		t.Fatalf("demo document: want ok, applied, counts; got:\n%s", r.Stdout)
	}
	if *d.Counts != (report.Counts{Pass: 16, Skip: 2}) {
		t.Errorf("counts %+v: want 16 passes and 2 skips", *d.Counts)
	}
	skippedEvent, waited := false, false
	for _, inv := range d.Invoke {
		if inv.Outcome == "skip" && strings.Contains(inv.Target, "on-upload") && strings.Contains(inv.Reason, "event-driven") {
			skippedEvent = true
		}
		if inv.Check == "invoke" && inv.Outcome == "pass" && inv.Attempts > 1 && inv.PropagationDelay != "" {
			waited = true
		}
	}
	if !skippedEvent {
		t.Errorf("no skipped invoke of the event-driven function on-upload: %+v", d.Invoke)
	}
	if !waited {
		t.Errorf("no call waited out the propagation delay (attempts > 1 with a propagationDelay): %+v", d.Invoke)
	}
	effective := false
	for _, c := range d.Cases {
		effective = effective || strings.Contains(c.Detail, "grant effective after")
	}
	if !effective || !strings.Contains(r.Stderr, "waiting for IAM propagation") || !strings.Contains(r.Stderr, "Demo complete") {
		t.Errorf("the demo did not show the propagation wait:\n%s\n%s", r.Stdout, r.Stderr)
	}
	proofNoTokenText(t, "demo stdout", r.Stdout)
	proofNoTokenText(t, "demo stderr", r.Stderr)
	proofNoTokenFiles(t, dir)
}
