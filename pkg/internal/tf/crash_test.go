//go:build linux

package tf

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// crashRoot calls the module with two accounts and three member grants on
// two services that already have an invoker granted outside Terraform
// (examplesSeed).
const crashRoot = `
provider "google" {
  project = "demo-project"
}

module "invokers" {
  source     = "../modules/cloud-run-invokers"
  project_id = "demo-project"
  service_accounts = {
    alpha = { account_id = "alpha-caller", display_name = "Alpha" }
    beta  = { account_id = "beta-caller" }
  }
  invoker_grants = {
    orders   = { service = "orders-api", location = "us-central1", members = ["alpha", "beta"] }
    payments = { service = "payments-api", location = "us-central1", members = ["alpha"] }
  }
}
`

// An apply killed (SIGKILL of Terraform and its provider, as in a crash: no
// state written for what was in flight) at each point of its run is
// followed by an apply that converges: it succeeds, a plan then has nothing
// to do, every declared account and grant exists exactly once and the
// members granted outside the declaration are still there.
func TestApplyKilledMidwayConverges(t *testing.T) {
	o := newOfflineTerraform(t)
	isCreate := func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/serviceAccounts")
	}
	isSetIAM := func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, ":setIamPolicy")
	}
	converged := map[string][]string{
		"orders-api":   {sa("alpha-caller"), sa("beta-caller"), "user:oncall@example.com"},
		"payments-api": {sa("alpha-caller"), "user:legacy@example.com"},
	}
	untouched := map[string][]string{"orders-api": {"user:oncall@example.com"}, "payments-api": {"user:legacy@example.com"}}
	cases := []struct {
		name string
		// rule holds the request at which the apply is killed; holds is
		// how many held requests mark the point.
		rule  func() func(r *http.Request) hold
		holds int
		// At the kill: the accounts that exist and how many of the three
		// declared members are granted.
		accountsAtKill int
		membersAtKill  int
		// withoutIgnore takes create_ignore_already_exists out of the
		// module: the second apply must then fail with wantErr.
		withoutIgnore bool
		wantErr       string
	}{
		{
			name:  "before any account is created",
			rule:  func() func(*http.Request) hold { return ruleFor(isCreate, before) },
			holds: 1,
		},
		{
			name:           "accounts created, their answers lost",
			rule:           func() func(*http.Request) hold { return ruleFor(isCreate, after) },
			holds:          2,
			accountsAtKill: 2,
		},
		{
			name:           "accounts created, their answers lost, without create_ignore_already_exists",
			rule:           func() func(*http.Request) hold { return ruleFor(isCreate, after) },
			holds:          2,
			accountsAtKill: 2,
			withoutIgnore:  true,
			wantErr:        "Error 409",
		},
		{
			name: "first IAM write made, its answer lost",
			// The two services' policies are written in parallel: the
			// first write is made, any other is held before it is.
			rule: func() func(*http.Request) hold {
				first := true
				return func(r *http.Request) hold {
					if !isSetIAM(r) {
						return pass
					}
					if first {
						first = false
						return after
					}
					return before
				}
			},
			holds:          1,
			accountsAtKill: 2,
			membersAtKill:  1,
		},
		{
			name: "every IAM write made, nothing after it answered",
			rule: func() func(*http.Request) hold {
				writes := 0
				return func(r *http.Request) hold {
					if writes == 3 {
						return before
					}
					if isSetIAM(r) {
						writes++
					}
					return pass
				}
			},
			holds:          1,
			accountsAtKill: 2,
			membersAtKill:  3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu := newExamplesEmulator(t)
			var mu sync.Mutex
			armed := false
			rule := tc.rule()
			g := newGate(t, emu, func(r *http.Request) hold {
				mu.Lock()
				defer mu.Unlock()
				if !armed {
					return pass
				}
				return rule(r)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()

			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "crash"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "crash", "main.tf"), []byte(crashRoot), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			tf := o.initRoot(t, ctx, root, "crash", o.emulatorEnvAt(t, g.URL(), emu.BootstrapToken()), &log)
			if tc.withoutIgnore {
				withoutIgnoreAlreadyExists(t, filepath.Join(root, ModuleDir, "main.tf"))
			}
			cl := newGoogleClients(t, emu)

			// The first apply runs until the point, then dies with its
			// provider.
			mu.Lock()
			armed = true
			mu.Unlock()
			applied := make(chan error, 1)
			go func() { applied <- tf.Apply(ctx) }()
			for i := 0; i < tc.holds; i++ {
				select {
				case <-g.held:
				case err := <-applied:
					t.Fatalf("the apply ended (%v) before the point was reached\n%s", err, log.String())
				case <-ctx.Done():
					t.Fatalf("the point was never reached\n%s", log.String())
				}
			}
			crash(t, tf.WorkingDir())
			if err := <-applied; err == nil {
				t.Fatal("the killed apply reports success")
			}
			if got := testutil.Accounts(t, emu, "demo-project"); len(got) != tc.accountsAtKill {
				t.Errorf("accounts at the kill: %v, want %d", got, tc.accountsAtKill)
			}
			if got := cl.invokers(t, "orders-api", "payments-api"); len(got)-2 != tc.membersAtKill {
				t.Errorf("members at the kill: %v, want %d declared ones", got, tc.membersAtKill)
			}

			// The next apply, with nothing held.
			mu.Lock()
			armed = false
			mu.Unlock()
			log.Reset()
			err := tf.Apply(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+log.String(), tc.wantErr) {
					t.Fatalf("second apply: %v, want an error with %q\n%s", err, tc.wantErr, log.String())
				}
				cl.checkInvokers(t, "after the failed apply", untouched)
				return
			}
			if err != nil {
				t.Fatalf("second apply: %v\n%s", err, log.String())
			}
			if changes, err := tf.Plan(ctx); err != nil || changes {
				t.Errorf("plan after the second apply: changes=%v err=%v\n%s", changes, err, log.String())
			}
			if got, want := testutil.Accounts(t, emu, "demo-project"), []string{"alpha-caller@demo-project.iam.gserviceaccount.com", "beta-caller@demo-project.iam.gserviceaccount.com"}; !slices.Equal(got, want) {
				t.Errorf("accounts: %v, want each of %v once", got, want)
			}
			cl.checkInvokers(t, "after the second apply", converged)
		})
	}
}

// ruleFor holds every request match selects, at h.
func ruleFor(match func(*http.Request) bool, h hold) func(*http.Request) hold {
	return func(r *http.Request) hold {
		if match(r) {
			return h
		}
		return pass
	}
}

// crash kills, with SIGKILL, the Terraform process working in dir and every
// process of its group (its provider plugins), and waits until they are gone.
func crash(t *testing.T, dir string) {
	t.Helper()
	groups := terraformGroups(dir)
	if len(groups) != 1 {
		t.Fatalf("terraform processes in %s: %v, want one", dir, groups)
	}
	if err := syscall.Kill(-groups[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(groupMembers(groups[0])) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d survives SIGKILL", groups[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withoutIgnoreAlreadyExists takes create_ignore_already_exists out of a
// copy of the module's main.tf.
func withoutIgnoreAlreadyExists(t *testing.T, mainTF string) {
	t.Helper()
	b, err := os.ReadFile(mainTF)
	if err != nil {
		t.Fatal(err)
	}
	const line = "  create_ignore_already_exists = true\n"
	if !bytes.Contains(b, []byte(line)) {
		t.Fatalf("%s does not set create_ignore_already_exists", mainTF)
	}
	if err := os.WriteFile(mainTF, bytes.Replace(b, []byte(line), nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
}
