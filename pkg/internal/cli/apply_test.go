package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// apply through its run function with real terraform: the confirmation,
// and API failures in the middle of an apply.

// The y/N confirmation on a terminal: "n" changes nothing, "y" applies.
func TestApplyConfirmation(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: quickstartSeed()})
	_, file := quickstartCopy(t)
	args := []string{"apply", "-f", file, "--emulator=" + emu.URL()}

	r := runInProcess(t, inProcess{Env: emuEnv(emu), Terraform: true, TTY: true, Stdin: "n\n"}, args...)
	if r.Code != 1 || !strings.Contains(r.Stderr, ErrNotConfirmed.Error()) ||
		!strings.Contains(r.Stdout, "Apply these changes? Only 'y' or 'yes' confirms. [y/N]") {
		t.Fatalf("declined: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := invokers(t, emu, "orders-api"); len(got) != 0 {
		t.Fatalf("declined apply changed orders-api: %v", got)
	}
	r = runInProcess(t, inProcess{Env: emuEnv(emu), Terraform: true, TTY: true, Stdin: "yes\n"}, args...)
	wantExit(t, r, 0, "confirmed apply")
	if !strings.Contains(r.Stdout, "Applied.") || !strings.Contains(r.Stdout, "orders-caller  orders-caller@demo-project.iam.gserviceaccount.com") {
		t.Errorf("confirmed apply output:\n%s", r.Stdout)
	}
	if got := invokers(t, emu, "orders-api"); !eq(got, []string{sa("orders-caller")}) {
		t.Fatalf("confirmed apply: orders-api = %v", got)
	}
	// The declaration is still valid config (the test did not mangle it).
	if _, err := config.Load(file); err != nil {
		t.Fatal(err)
	}
}

// applyWithFaults runs an apply of the quickstart against url and calls
// inject once, as soon as the emulator has been asked to create a service
// account.
func applyWithFaults(t *testing.T, emu *emulator.Emulator, url, file string, inject func()) cliResult {
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
		r = runInProcess(t, inProcess{Env: emuEnv(emu), Terraform: true}, "apply", "-f", file, "--emulator="+url, "--auto-approve")
	}()
	for injected := false; !injected; {
		select {
		case <-done:
			t.Fatalf("apply ended before any account was created: exit %d\n%s", r.Code, r.Stderr)
		case <-time.After(2 * time.Millisecond):
		}
		if emu.Calls()["iam.v1.serviceAccounts.create"] > 0 {
			inject()
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
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: quickstartSeed()})
	seeded := accounts(t, emu)
	_, file := quickstartCopy(t)
	r := applyWithFaults(t, emu, emu.URL(), file, func() { emu.FailNext(4, http.StatusServiceUnavailable) })
	if r.Code != 0 {
		t.Fatalf("apply with 4 injected 503s: exit %d\n%s", r.Code, r.Stderr)
	}
	checkQuickstartApplied(t, emu, seeded)
}

// outageFront answers 503 to every API request while down, and passes
// them to the emulator otherwise.
type outageFront struct {
	emu  *emulator.Emulator
	down atomic.Bool
}

func (f *outageFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.down.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error": {"code": 503, "message": "The service is currently unavailable (an outage the test made).", "status": "UNAVAILABLE"}}`))
		return
	}
	f.emu.ServeHTTP(w, r)
}

// An outage that lasts until the apply gives up fails the apply with a
// clear error; the state is kept and a second apply completes the work.
// The outage starts once the first account is being created and ends only
// after the apply has ended, so it always hits the apply.
func TestApplyOutageThenResume(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: quickstartSeed()})
	front := &outageFront{emu: emu}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	seeded := accounts(t, emu)
	dir, file := quickstartCopy(t)

	r := applyWithFaults(t, emu, srv.URL, file, func() { front.down.Store(true) })
	front.down.Store(false)
	if r.Code != 1 || !strings.Contains(r.Stderr, "terraform apply failed") || !strings.Contains(r.Stderr, "state kept") ||
		!strings.Contains(r.Stderr, "503") {
		t.Fatalf("apply during an outage: exit %d, want 1 with a clear error\n%s", r.Code, r.Stderr)
	}
	states, _ := filepath.Glob(dir + "/.invokerctl/*/terraform.tfstate")
	if len(states) != 1 {
		t.Fatalf("state after a failed apply: %v", states)
	}
	r = runInProcess(t, inProcess{Env: emuEnv(emu), Terraform: true}, "apply", "-f", file, "--emulator="+srv.URL, "--auto-approve")
	wantExit(t, r, 0, "apply after the outage")
	checkQuickstartApplied(t, emu, seeded)
	r = runInProcess(t, inProcess{Env: emuEnv(emu), Terraform: true}, "plan", "-f", file, "--emulator="+srv.URL)
	wantExit(t, r, 0, "plan after resume")
}
