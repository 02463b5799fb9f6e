package cli

import (
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator"
)

// applyWithFaults starts an apply of the quickstart and, as soon as the
// first service account is being created, makes the emulator fail the next
// n API requests with 503.
func applyWithFaults(t *testing.T, emu *emulator.Emulator, file string, n int) cliResult {
	t.Helper()
	var (
		r    cliResult
		wg   sync.WaitGroup
		done = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		r = runBin(t, emuEnv(emu), "apply", "-f", file, "--emulator="+emu.URL(), "--auto-approve")
	}()
	injected := false
	for !injected {
		select {
		case <-done:
			t.Fatalf("apply ended before any account was created: exit %d\n%s", r.code, r.stderr)
		case <-time.After(2 * time.Millisecond):
		}
		if emu.Calls()["iam.v1.serviceAccounts.create"] > 0 {
			emu.FailNext(n, http.StatusServiceUnavailable)
			injected = true
		}
	}
	wg.Wait()
	return r
}

func checkQuickstartApplied(t *testing.T, emu *emulator.Emulator, seeded []string) {
	t.Helper()
	want := append([]string(nil), seeded...)
	for _, n := range []string{"audit-bot", "billing-caller", "orders-caller"} {
		want = append(want, n+"@demo-project.iam.gserviceaccount.com")
	}
	sort.Strings(want)
	if got := accounts(t, emu); !eq(got, want) {
		t.Errorf("accounts = %v, want %v (nothing lost, nothing duplicated)", got, want)
	}
	for svc, exp := range map[string][]string{
		"orders-api":   {sa("orders-caller")},
		"billing-api":  {sa("billing-caller"), sa("orders-caller")},
		"resize-image": {sa("orders-caller")},
	} {
		if got := invokers(t, emu, svc); !eq(got, exp) {
			t.Errorf("%s = %v, want %v", svc, got, exp)
		}
	}
}

// A short burst of 503s mid-apply is retried and the apply completes.
func TestApplySurvivesTransient503(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	emu := startEmulator(t, quickstartSeed())
	seeded := accounts(t, emu)
	_, file := quickstartCopy(t)
	r := applyWithFaults(t, emu, file, 4)
	if r.code != 0 {
		t.Fatalf("apply with 4 injected 503s: exit %d\n%s", r.code, r.stderr)
	}
	checkQuickstartApplied(t, emu, seeded)
}

// An outage longer than the provider's retries fails the apply with a clear
// error; the state is kept and a second apply completes the work.
func TestApplyOutageThenResume(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	emu := startEmulator(t, quickstartSeed())
	seeded := accounts(t, emu)
	dir, file := quickstartCopy(t)
	r := applyWithFaults(t, emu, file, 1000)
	emu.FailNext(0, 0)
	if r.code == 0 {
		// Every request was retried until it got through: also a valid end.
		t.Log("the provider outlasted the outage; the apply completed")
		checkQuickstartApplied(t, emu, seeded)
		return
	}
	if r.code != 1 || !strings.Contains(r.stderr, "terraform apply failed") || !strings.Contains(r.stderr, "state kept") ||
		!strings.Contains(r.stderr, "503") {
		t.Fatalf("failed apply: exit %d, want 1 with a clear error\n%s", r.code, r.stderr)
	}
	states, _ := filepath.Glob(dir + "/.invokerctl/*/terraform.tfstate")
	if len(states) != 1 {
		t.Fatalf("state after a failed apply: %v", states)
	}
	r = runBin(t, emuEnv(emu), "apply", "-f", file, "--emulator="+emu.URL(), "--auto-approve")
	if r.code != 0 {
		t.Fatalf("second apply: exit %d\n%s", r.code, r.stderr)
	}
	checkQuickstartApplied(t, emu, seeded)
	if r = runBin(t, emuEnv(emu), "plan", "-f", file, "--emulator="+emu.URL()); r.code != 0 {
		t.Fatalf("plan after resume: exit %d\n%s", r.code, r.stdout)
	}
}
