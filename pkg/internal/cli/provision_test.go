package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	iam "google.golang.org/api/iam/v1"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// plan, apply and destroy: usage and bad declarations through the run
// functions (no terraform), then the whole lifecycle and every example
// with real terraform.

// Flags and usage, through the command tree (no terraform needed).
func TestProvisionUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "invokers.yaml")
	os.WriteFile(file, []byte("apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n"), 0o644)
	noToken := inProcess{Env: []string{target.TokenEnv + "="}}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan"}, cmdutil.ExitUsage, "-f FILE is required"},
		{[]string{"apply", "--auto-approve"}, cmdutil.ExitUsage, "-f FILE is required"},
		{[]string{"plan", "-f", file, "--emulator", "http://127.0.0.1:1"}, cmdutil.ExitUsage, "write --emulator=http://127.0.0.1:1"},
		{[]string{"plan", "-f", file, "extra"}, cmdutil.ExitUsage, `unexpected argument "extra"`},
		{[]string{"plan", "-f", file, "--seed", "s.yaml"}, cmdutil.ExitUsage, "--seed needs --emulator"},
		{[]string{"plan", "-f", file, "--emulator=http://127.0.0.1:1/v1/"}, cmdutil.ExitError, "want only a scheme, host and port"},
		{[]string{"plan", "-f", file, "--emulator=http://127.0.0.1:1"}, cmdutil.ExitError, target.TokenEnv},
		{[]string{"apply", "-f", file}, cmdutil.ExitError, "standard input is not a terminal; pass --auto-approve"},
		{[]string{"destroy", "-f", file}, cmdutil.ExitError, "standard input is not a terminal"},
		{[]string{"plan", "-f", filepath.Join(dir, "missing.yaml")}, cmdutil.ExitError, "no such file"},
		{[]string{"plan", "-f", file, "--bogus"}, cmdutil.ExitUsage, "unknown flag"},
		{[]string{"plan", "-f", file, "--auto-approve"}, cmdutil.ExitUsage, "unknown flag: --auto-approve"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runInProcess(t, noToken, tc.args...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.Code, r.Stderr, tc.code, tc.want)
			}
		})
	}
}

// A bad declaration fails plan, apply, destroy and run before anything
// else: exit 1 with every positioned message, nothing on stdout, no stage
// started, terraform never started, the emulator never called, no working
// directory, no state.
func TestBadDeclarationFailsBeforeTerraform(t *testing.T) {
	t.Parallel()
	emu := testutil.StartSeeded(t, seedHead)
	dir, file, fakeTF := badDeclBesideFakeTerraform(t, `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
serviceAccounts:
  - name: orders-caller
grants:
  - service: orders-api
    members: [orders-caller]
  - service: billing-api
    members: [orders-caller, "sa:foo", allUsers]
`)
	for _, args := range [][]string{
		{"plan"},
		{"apply", "--auto-approve"},
		{"destroy", "--auto-approve"},
		{"run", "--auto-approve", "--format", "json"},
	} {
		verb := args[0]
		args = append(args, "-f", file, "--terraform", fakeTF, "--emulator="+emu.URL())
		r := runInProcess(t, inProcess{Env: emuEnv(emu)}, args...)
		if r.Code != cmdutil.ExitError {
			t.Errorf("%s: exit %d, want %d\n%s", verb, r.Code, cmdutil.ExitError, r.Stderr)
		}
		for _, want := range []string{
			file + `:10:30: grants[1].members[1]: "sa:foo" is not a valid IAM member (want user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers)`,
			file + `:10:40: grants[1].members[2]: "allUsers" makes the target public; set public: true`,
		} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", verb, want, r.Stderr)
			}
		}
		if strings.Contains(r.Stderr, "Stage 1/3") || strings.TrimSpace(r.Stdout) != "" {
			t.Errorf("%s: something started for a bad declaration:\nstdout:\n%s\nstderr:\n%s", verb, r.Stdout, r.Stderr)
		}
	}
	wantNoTerraformRun(t, dir)
	if c := emu.Calls(); len(c) != 0 {
		t.Errorf("the emulator was called for a bad declaration: %v", c)
	}
}

// The whole lifecycle of the quickstart against one emulator: apply, no-op
// plan, removing one member, an out-of-band member in both modes, destroy.
func TestProvisionLifecycle(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: quickstartSeed()})
	env := emuEnv(emu)
	_, file := quickstartCopy(t)
	emuFlag := "--emulator=" + emu.URL()
	seeded := accounts(t, emu)
	trigger := invokers(t, emu, "on-upload") // the deployment's own grant to its trigger identity

	// apply creates the accounts and the bindings.
	r := runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve", "--json")
	if r.Code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	var res struct {
		Applied bool `json:"applied"`
		Outputs struct {
			Emails map[string]string `json:"service_account_emails"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || !res.Applied || res.Outputs.Emails["orders-caller"] != "orders-caller@demo-project.iam.gserviceaccount.com" {
		t.Fatalf("apply --json: %v %s", err, r.Stdout)
	}
	want := map[string][]string{
		"orders-api":   {sa("orders-caller")},
		"billing-api":  {sa("billing-caller"), sa("orders-caller")},
		"resize-image": {sa("orders-caller")},
		"on-upload":    append([]string{sa("billing-caller")}, trigger...),
	}
	for svc, members := range want {
		sort.Strings(members)
		if got := invokers(t, emu, svc); !eq(got, members) {
			t.Errorf("after apply, %s invokers = %v, want %v", svc, got, members)
		}
	}
	created := accounts(t, emu)
	for _, n := range []string{"orders-caller", "billing-caller", "audit-bot"} {
		if !strings.Contains(strings.Join(created, " "), n+"@demo-project.iam.gserviceaccount.com") {
			t.Errorf("account %s not created: %v", n, created)
		}
	}
	if len(created) != len(seeded)+3 {
		t.Errorf("accounts: %v (seeded %v)", created, seeded)
	}

	// A second plan has nothing to do.
	r = runBin(t, env, "plan", "-f", file, emuFlag)
	if r.Code != 0 || !strings.Contains(r.Stdout, "No changes") {
		t.Fatalf("second plan: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	// Removing one member removes exactly that binding.
	editFile(t, file, "members: [orders-caller, billing-caller]", "members: [billing-caller]")
	r = runBin(t, env, "plan", "-f", file, emuFlag, "--json")
	if r.Code != 2 {
		t.Fatalf("plan after edit: exit %d\n%s", r.Code, r.Stderr)
	}
	var pl struct {
		Summary struct {
			Services []struct {
				Service string   `json:"service"`
				Add     []string `json:"add"`
				Remove  []string `json:"remove"`
			} `json:"services"`
			Create []any `json:"accountsToCreate"`
			Delete []any `json:"accountsToDelete"`
		} `json:"summary"`
	}
	json.Unmarshal([]byte(r.Stdout), &pl)
	if len(pl.Summary.Services) != 1 || pl.Summary.Services[0].Service != "billing-api" || len(pl.Summary.Services[0].Add) != 0 ||
		!eq(pl.Summary.Services[0].Remove, []string{sa("orders-caller")}) || len(pl.Summary.Create)+len(pl.Summary.Delete) != 0 {
		t.Fatalf("plan summary after removing one member: %s", r.Stdout)
	}
	before := map[string][]string{}
	for svc := range want {
		before[svc] = invokers(t, emu, svc)
	}
	if r = runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve"); r.Code != 0 {
		t.Fatalf("apply after edit: exit %d\n%s", r.Code, r.Stderr)
	}
	for svc := range want {
		got := invokers(t, emu, svc)
		exp := before[svc]
		if svc == "billing-api" {
			exp = []string{sa("billing-caller")}
		}
		if !eq(got, exp) {
			t.Errorf("after removing one member, %s = %v, want %v", svc, got, exp)
		}
	}

	// An out-of-band member survives non-authoritative grants...
	oob := "user:oncall@example.com"
	addInvoker(t, emu, "orders-api", oob)
	if r = runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve"); r.Code != 0 {
		t.Fatalf("apply with out-of-band member: exit %d\n%s", r.Code, r.Stderr)
	}
	if got := invokers(t, emu, "orders-api"); !eq(got, []string{sa("orders-caller"), oob}) {
		t.Errorf("non-authoritative: orders-api = %v", got)
	}
	// ...and is removed once the grant is authoritative.
	editFile(t, file, "  - service: orders-api\n", "  - service: orders-api\n    authoritative: true\n")
	r = runBin(t, env, "plan", "-f", file, emuFlag)
	if r.Code != 2 || !strings.Contains(r.Stdout, "any other member is removed") || !strings.Contains(r.Stdout, "= "+sa("orders-caller")) {
		t.Fatalf("authoritative plan: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if r = runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve"); r.Code != 0 {
		t.Fatalf("authoritative apply: exit %d\n%s", r.Code, r.Stderr)
	}
	if got := invokers(t, emu, "orders-api"); !eq(got, []string{sa("orders-caller")}) {
		t.Errorf("authoritative: orders-api = %v, want only orders-caller", got)
	}
	if r = runBin(t, env, "plan", "-f", file, emuFlag); r.Code != 0 {
		t.Errorf("plan after authoritative apply: exit %d\n%s", r.Code, r.Stdout)
	}

	// destroy leaves no account or binding it created, and nothing else
	// is touched.
	addInvoker(t, emu, "billing-api", oob)
	r = runBin(t, env, "destroy", "-f", file, emuFlag, "--auto-approve")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Destroyed") {
		t.Fatalf("destroy: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := accounts(t, emu); !eq(got, seeded) {
		t.Errorf("accounts after destroy = %v, want the seeded %v", got, seeded)
	}
	for svc, exp := range map[string][]string{"orders-api": nil, "billing-api": {oob}, "resize-image": nil, "on-upload": trigger} {
		if got := invokers(t, emu, svc); !eq(got, exp) {
			t.Errorf("after destroy, %s = %v, want %v", svc, got, exp)
		}
	}
}

// --emulator without a URL starts an emulator inside the command, seeded
// from --seed, with no token to export: plan shows the quickstart's
// accounts and grants (exit 2) and apply makes them (exit 0). Each
// command's emulator ends with it, so apply starts from the seed again.
func TestInProcessEmulatorWithSeed(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	_, file := quickstartCopy(t)
	env := []string{target.TokenEnv + "=", tfprovider.SleepScaleEnv + "=0.02"}
	names := []string{"orders-caller", "billing-caller", "audit-bot"}

	r := runBin(t, env, "plan", "-f", file, "--emulator", "--seed", quickstartSeed())
	if r.Code != cmdutil.ExitChanges {
		t.Fatalf("plan: exit %d, want %d\n%s\n%s", r.Code, cmdutil.ExitChanges, r.Stdout, r.Stderr)
	}
	for _, n := range names {
		if want := "+ " + n + "@demo-project.iam.gserviceaccount.com (" + n + ")"; !strings.Contains(r.Stdout, want) {
			t.Errorf("plan summary lacks %q:\n%s", want, r.Stdout)
		}
	}
	for _, want := range []string{"function resize-image (service resize-image) in demo-project/us-central1",
		"Plan: 3 account(s) to create, 0 to update, 0 to delete; 5 invoker member(s) to add, 0 to remove."} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("plan summary lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !strings.Contains(r.Stderr, "Started an in-process emulator at http://127.0.0.1:") {
		t.Errorf("plan stderr does not announce the in-process emulator:\n%s", r.Stderr)
	}

	r = runBin(t, env, "apply", "-f", file, "--emulator", "--seed", quickstartSeed(), "--auto-approve", "--json")
	if r.Code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	var res struct {
		Target  string `json:"target"`
		Applied bool   `json:"applied"`
		Outputs struct {
			Emails map[string]string `json:"service_account_emails"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || !res.Applied || res.Target != "emulator" || len(res.Outputs.Emails) != len(names) {
		t.Fatalf("apply --json: %v\n%s", err, r.Stdout)
	}
	for _, n := range names {
		if got := res.Outputs.Emails[n]; got != n+"@demo-project.iam.gserviceaccount.com" {
			t.Errorf("apply output: %s = %q", n, got)
		}
	}
}

// Every example under examples/ is applied against an emulator holding its
// services, checked through the Run Admin and IAM APIs, re-planned (no
// changes) and destroyed (nothing of it left).
func TestEveryExampleAppliesAndDestroys(t *testing.T) {
	testutil.NeedTerraform(t)
	files, err := filepath.Glob(filepath.Join(testutil.RepoRoot(), "examples", "*", "invokers.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, src := range files {
		name := filepath.Base(filepath.Dir(src))
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, err := config.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			emu := testutil.StartEmulator(t, emulator.Options{Project: d.Project, Seed: seedFor(d)})
			seeded := accountsIn(t, emu, d.Project)
			file := filepath.Join(t.TempDir(), "invokers.yaml")
			copyFile(t, src, file)
			env, flag := emuEnv(emu), "--emulator="+emu.URL()

			r := runInProcess(t, inProcess{Env: env, Terraform: true}, "apply", "-f", file, flag, "--auto-approve", "--json")
			if r.Code != 0 {
				t.Fatalf("apply: exit %d\n%s", r.Code, r.Stderr)
			}
			var res provisionResult
			if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.Applied == nil || !*res.Applied {
				t.Fatalf("apply --json: %v\n%s", err, r.Stdout)
			}
			if d.Terraform.Backend != nil && !strings.Contains(r.Stderr, "gcs backend keeps state in the emulator's Cloud Storage") {
				t.Errorf("no note about the %s backend in the emulator", d.Terraform.Backend.Type)
			}
			if local, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".invokerctl", "*", "terraform.tfstate")); d.Terraform.Backend != nil && len(local) > 0 {
				t.Errorf("the %s backend's state was kept in the working directory: %v", d.Terraform.Backend.Type, local)
			}
			for _, g := range d.Grants {
				got := invokersAt(t, emu, d.Project, g.Location, g.Name)
				want := append([]string(nil), g.ResolvedMembers...)
				sort.Strings(want)
				if g.Authoritative {
					if !eq(got, want) {
						t.Errorf("%s: invokers %v, want exactly %v", g.Key(), got, want)
					}
					continue
				}
				for _, m := range want {
					if !strings.Contains(strings.Join(got, " "), m) {
						t.Errorf("%s: %s not granted (have %v)", g.Key(), m, got)
					}
				}
			}
			if tc := d.SmokeTest.TokenCreator; tc != "" {
				iamSvc, _ := iam.NewService(context.Background(), googleOpts(emu)...)
				for _, sa := range d.ServiceAccounts {
					p, err := iamSvc.Projects.ServiceAccounts.GetIamPolicy("projects/" + d.Project + "/serviceAccounts/" + sa.Email(d.Project)).Do()
					if err != nil {
						t.Fatal(err)
					}
					found := false
					for _, b := range p.Bindings {
						found = found || (b.Role == config.TokenCreatorRole && strings.Contains(strings.Join(b.Members, " "), tc))
					}
					if !found {
						t.Errorf("%s lacks %s for %s: %+v", sa.Name, config.TokenCreatorRole, tc, p.Bindings)
					}
				}
			}
			if r = runInProcess(t, inProcess{Env: env, Terraform: true}, "plan", "-f", file, flag); r.Code != 0 {
				t.Errorf("plan after apply: exit %d\n%s", r.Code, r.Stdout)
			}

			r = runInProcess(t, inProcess{Env: env, Terraform: true}, "destroy", "-f", file, flag, "--auto-approve", "--json")
			if r.Code != 0 {
				t.Fatalf("destroy: exit %d\n%s", r.Code, r.Stderr)
			}
			if got := accountsIn(t, emu, d.Project); !eq(got, seeded) {
				t.Errorf("accounts after destroy: %v, want %v", got, seeded)
			}
			for _, g := range d.Grants {
				got := strings.Join(invokersAt(t, emu, d.Project, g.Location, g.Name), " ")
				for _, m := range g.ResolvedMembers {
					if strings.Contains(got, m) {
						t.Errorf("%s: %s still granted after destroy", g.Key(), m)
					}
				}
			}
			if r = runInProcess(t, inProcess{Env: env, Terraform: true}, "plan", "-f", file, flag); r.Code != 2 {
				t.Errorf("plan after destroy should want to create everything again: exit %d", r.Code)
			}
		})
	}
}

// Relative paths work: `apply --workdir ws -f decl/invokers.yaml` from
// another directory. Terraform runs inside the working directory, so every
// path handed to it (its CLI configuration, the provider mirror, the plan)
// must be absolute; a relative one sent init to the registry.
func TestRelativeWorkdirAndFile(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: quickstartSeed()})
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "decl"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(testutil.RepoRoot(), "examples", "quickstart", "invokers.yaml"), filepath.Join(dir, "decl", "invokers.yaml"))
	in := testutil.Exec{Env: emuEnv(emu), Dir: dir}
	r := testutil.RunBinary(t, in, "apply", "-f", "decl/invokers.yaml", "--workdir", "ws", "--emulator="+emu.URL(), "--auto-approve")
	wantExit(t, r, 0, "apply with a relative --workdir and -f")
	ws := filepath.Join(dir, "ws")
	if !strings.Contains(r.Stderr, " in "+ws+" against ") {
		t.Errorf("the working directory is not reported as %s:\n%s", ws, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(ws, "terraform.tfstate")); err != nil {
		t.Errorf("no state in the relative working directory: %v", err)
	}
	if got := invokers(t, emu, "orders-api"); !eq(got, []string{sa("orders-caller")}) {
		t.Errorf("orders-api invokers = %v", got)
	}
	r = testutil.RunBinary(t, in, "plan", "-f", "decl/invokers.yaml", "--workdir", "ws", "--emulator="+emu.URL())
	wantExit(t, r, 0, "plan after the relative apply")
}
