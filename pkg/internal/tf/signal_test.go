//go:build linux

package tf

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// Cancelling the context of a running plan or apply (what SIGINT or SIGTERM
// does to invokerctl) interrupts Terraform; a Terraform that does not stop
// within the grace period is killed with its provider. Either way the
// runner returns an error that says it was cancelled, within a bound, and no
// process it started is left.
func TestCancelStopsTerraformAndItsProvider(t *testing.T) {
	tfPath := needTerraform(t)
	bin := invokerctlBinary(t)
	cases := []struct {
		name    string
		command string // "plan" or "apply"
		// holdAll keeps every API request unanswered from the start of
		// the command; otherwise each request takes latency.
		holdAll bool
		latency time.Duration
		// freeze stops Terraform (SIGSTOP) before the cancel, so it
		// cannot act on the interrupt: it and its provider must be
		// killed after grace. Otherwise Terraform stops by itself, well
		// before grace.
		freeze bool
		grace  time.Duration
	}{
		{name: "plan waiting on the emulator stops on the interrupt", command: "plan", holdAll: true, grace: 5 * time.Minute},
		{name: "apply waiting on the emulator stops on the interrupt", command: "apply", holdAll: true, grace: 5 * time.Minute},
		{name: "slow plan stops on the interrupt", command: "plan", latency: time.Second, grace: 5 * time.Minute},
		{name: "plan that does not stop is killed with its provider after the grace", command: "plan", holdAll: true, freeze: true, grace: 2 * time.Second},
		{name: "apply that does not stop is killed with its provider after the grace", command: "apply", holdAll: true, freeze: true, grace: 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu := testutil.StartEmulator(t, emulator.Options{SeedFile: "../../../examples/quickstart/seed.yaml"})
			var mu sync.Mutex
			armed := false
			requested := make(chan struct{})
			var once sync.Once
			g := newGate(t, emu, func(r *http.Request) hold {
				mu.Lock()
				defer mu.Unlock()
				if !armed {
					return pass
				}
				once.Do(func() { close(requested) })
				if tc.holdAll {
					return before
				}
				time.Sleep(tc.latency)
				return pass
			})
			tg, err := target.Emulator(g.URL(), emu.BootstrapToken())
			if err != nil {
				t.Fatal(err)
			}
			out := &testutil.SyncBuffer{}
			r, err := Open(context.Background(), Options{Decl: loadQuickstart(t), Target: tg, Workdir: filepath.Join(t.TempDir(), "wd"),
				ExecPath: tfPath, ProviderExecutable: bin, Stdout: out, Stderr: out, InterruptGrace: tc.grace,
				Environ: append(os.Environ(), tfprovider.SleepScaleEnv+"=0")})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Init(context.Background()); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			var planFile string
			if tc.command == "apply" {
				res, err := r.Plan(context.Background(), false)
				if err != nil {
					t.Fatalf("%v\n%s", err, out.String())
				}
				planFile = res.PlanFile
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			mu.Lock()
			armed = true
			mu.Unlock()
			result := make(chan error, 1)
			go func() {
				if tc.command == "apply" {
					result <- r.Apply(ctx, planFile)
					return
				}
				_, err := r.Plan(ctx, false)
				result <- err
			}()
			select {
			case <-requested:
			case err := <-result:
				t.Fatalf("%s ended (%v) before reaching the emulator\n%s", tc.command, err, out.String())
			case <-time.After(2 * time.Minute):
				t.Fatalf("%s never reached the emulator\n%s", tc.command, out.String())
			}
			// Terraform and the provider it started, as they run now.
			started := descendants(t)
			if len(alive(started)) < 2 {
				t.Fatalf("want terraform and its provider running, found %v", alive(started))
			}
			if tc.freeze {
				groups := terraformGroups(r.WS.Dir)
				if len(groups) != 1 {
					t.Fatalf("terraform processes in %s: %v, want one", r.WS.Dir, groups)
				}
				if err := syscall.Kill(groups[0], syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
			cancel()
			select {
			case err = <-result:
			// A generous bound: whatever the grace, half a minute more.
			case <-time.After(min(tc.grace, 30*time.Second) + 30*time.Second):
				t.Fatalf("%s still running long after cancel\n%s", tc.command, out.String())
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s returned %v, want an error wrapping context.Canceled", tc.command, err)
			}
			var step *StepError
			if !errors.As(err, &step) || step.Step != tc.command {
				t.Errorf("%s returned %v, want a StepError for %q", tc.command, err, tc.command)
			}
			if !tc.freeze && !strings.Contains(out.String(), "Interrupt received") {
				t.Errorf("Terraform never got the interrupt:\n%s", out.String())
			}
			if left := alive(started); len(left) > 0 {
				t.Errorf("left running after %s returned: %v", tc.command, left)
			}
		})
	}
}
