package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// The end-to-end tests run the invokerctl binary as a user would, with the
// real terraform, the project's module, the offline provider (the same
// binary) and an emulator started in-process by the test.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// invokerctlBin builds the binary once per test run.
func invokerctlBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "invokerctl-e2e-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "invokerctl")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/invokerctl")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New(err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("building invokerctl: %v", binErr)
	}
	return binPath
}

func needTerraformE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end with terraform; skipped with -short")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH")
	}
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// runBin runs the invokerctl binary with args and extra environment.
func runBin(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, invokerctlBin(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("running invokerctl: %v", err)
		}
		code = ee.ExitCode()
	}
	return cliResult{out.String(), errOut.String(), code}
}

// wantExit stops the test, showing both outputs, unless r exited with code.
func wantExit(t *testing.T, r cliResult, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\n%s\n%s", what, r.code, code, r.stdout, r.stderr)
	}
}

// emuEnv is the environment that points invokerctl at emu.
func emuEnv(emu *emulator.Emulator) []string {
	return []string{
		target.TokenEnv + "=" + emu.BootstrapToken(),
		tfprovider.SleepScaleEnv + "=0.02",
	}
}

func startEmulator(t *testing.T, seed string) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.New(emulator.Options{SeedFile: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

func googleOpts(emu *emulator.Emulator) []option.ClientOption {
	return clientOpts(emu.URL(), emu.BootstrapToken())
}

// invokers reads the roles/run.invoker members of a service through the Run
// Admin API v2, sorted.
func invokers(t *testing.T, emu *emulator.Emulator, service string) []string {
	t.Helper()
	return invokersAt(t, emu, "demo-project", "us-central1", service)
}

func invokersAt(t *testing.T, emu *emulator.Emulator, project, location, service string) []string {
	t.Helper()
	svc, err := run.NewService(context.Background(), googleOpts(emu)...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Projects.Locations.Services.GetIamPolicy("projects/" + project + "/locations/" + location + "/services/" + service).Do()
	if err != nil {
		t.Fatalf("getIamPolicy %s: %v", service, err)
	}
	var out []string
	for _, b := range p.Bindings {
		if b.Role == "roles/run.invoker" && b.Condition == nil {
			out = append(out, b.Members...)
		}
	}
	sort.Strings(out)
	return out
}

// addInvoker adds member to a service's invoker binding outside Terraform.
func addInvoker(t *testing.T, emu *emulator.Emulator, service, member string) {
	t.Helper()
	addInvokerVia(t, googleOpts(emu), service, member)
}

// addInvokerVia is addInvoker through the Run Admin API at opts.
func addInvokerVia(t *testing.T, opts []option.ClientOption, service, member string) {
	t.Helper()
	svc, err := run.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	name := "projects/demo-project/locations/us-central1/services/" + service
	p, err := svc.Projects.Locations.Services.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range p.Bindings {
		if b.Role == "roles/run.invoker" {
			b.Members = append(b.Members, member)
			found = true
		}
	}
	if !found {
		p.Bindings = append(p.Bindings, &run.GoogleIamV1Binding{Role: "roles/run.invoker", Members: []string{member}})
	}
	if _, err := svc.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatal(err)
	}
}

// accounts lists the project's service account emails through IAM v1.
func accounts(t *testing.T, emu *emulator.Emulator) []string {
	t.Helper()
	return accountsIn(t, emu, "demo-project")
}

func accountsIn(t *testing.T, emu *emulator.Emulator, project string) []string {
	t.Helper()
	svc, err := iam.NewService(context.Background(), googleOpts(emu)...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = svc.Projects.ServiceAccounts.List("projects/"+project).Pages(context.Background(), func(r *iam.ListServiceAccountsResponse) error {
		for _, a := range r.Accounts {
			out = append(out, a.Email)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func sa(name string) string {
	return "serviceAccount:" + name + "@demo-project.iam.gserviceaccount.com"
}

func quickstartCopy(t *testing.T) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	src, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "quickstart", "invokers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "invokers.yaml")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file
}

func quickstartSeed() string {
	return filepath.Join(repoRoot(), "examples", "quickstart", "seed.yaml")
}

func editFile(t *testing.T, file, old, new string) {
	t.Helper()
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func eq(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// The whole lifecycle of the quickstart against one emulator: apply, no-op
// plan, removing one member, an out-of-band member in both modes, destroy.
func TestProvisionLifecycle(t *testing.T) {
	needTerraformE2E(t)
	emu := startEmulator(t, quickstartSeed())
	env := emuEnv(emu)
	_, file := quickstartCopy(t)
	emuFlag := "--emulator=" + emu.URL()
	seeded := accounts(t, emu)
	trigger := invokers(t, emu, "on-upload") // the deployment's own grant to its trigger identity

	// apply creates the accounts and the bindings.
	r := runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve", "--json")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Applied bool `json:"applied"`
		Outputs struct {
			Emails map[string]string `json:"service_account_emails"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.Applied || res.Outputs.Emails["orders-caller"] != "orders-caller@demo-project.iam.gserviceaccount.com" {
		t.Fatalf("apply --json: %v %s", err, r.stdout)
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
	if r.code != 0 || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("second plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Removing one member removes exactly that binding.
	editFile(t, file, "members: [orders-caller, billing-caller]", "members: [billing-caller]")
	r = runBin(t, env, "plan", "-f", file, emuFlag, "--json")
	if r.code != 2 {
		t.Fatalf("plan after edit: exit %d\n%s", r.code, r.stderr)
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
	json.Unmarshal([]byte(r.stdout), &pl)
	if len(pl.Summary.Services) != 1 || pl.Summary.Services[0].Service != "billing-api" || len(pl.Summary.Services[0].Add) != 0 ||
		!eq(pl.Summary.Services[0].Remove, []string{sa("orders-caller")}) || len(pl.Summary.Create)+len(pl.Summary.Delete) != 0 {
		t.Fatalf("plan summary after removing one member: %s", r.stdout)
	}
	before := map[string][]string{}
	for svc := range want {
		before[svc] = invokers(t, emu, svc)
	}
	if r = runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve"); r.code != 0 {
		t.Fatalf("apply after edit: exit %d\n%s", r.code, r.stderr)
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
	if r = runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve"); r.code != 0 {
		t.Fatalf("apply with out-of-band member: exit %d\n%s", r.code, r.stderr)
	}
	if got := invokers(t, emu, "orders-api"); !eq(got, []string{sa("orders-caller"), oob}) {
		t.Errorf("non-authoritative: orders-api = %v", got)
	}
	// ...and is removed once the grant is authoritative.
	editFile(t, file, "  - service: orders-api\n", "  - service: orders-api\n    authoritative: true\n")
	r = runBin(t, env, "plan", "-f", file, emuFlag)
	if r.code != 2 || !strings.Contains(r.stdout, "any other member is removed") || !strings.Contains(r.stdout, "= "+sa("orders-caller")) {
		t.Fatalf("authoritative plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r = runBin(t, env, "apply", "-f", file, emuFlag, "--auto-approve"); r.code != 0 {
		t.Fatalf("authoritative apply: exit %d\n%s", r.code, r.stderr)
	}
	if got := invokers(t, emu, "orders-api"); !eq(got, []string{sa("orders-caller")}) {
		t.Errorf("authoritative: orders-api = %v, want only orders-caller", got)
	}
	if r = runBin(t, env, "plan", "-f", file, emuFlag); r.code != 0 {
		t.Errorf("plan after authoritative apply: exit %d\n%s", r.code, r.stdout)
	}

	// destroy leaves no account or binding it created, and nothing else
	// is touched.
	addInvoker(t, emu, "billing-api", oob)
	r = runBin(t, env, "destroy", "-f", file, emuFlag, "--auto-approve")
	if r.code != 0 || !strings.Contains(r.stdout, "Destroyed") {
		t.Fatalf("destroy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
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

// setIamPolicyRace is a front for an emulator that makes two writers'
// read-modify-write cycles on one Cloud Run service overlap for certain: it
// holds the first setIamPolicy on each service until a second one for the
// same service arrives, then lets both through at once. The provider
// serializes its cycles on one service within its process, so the second
// comes from another terraform process, which read the policy while the
// first write was held: both carry the same etag, and the emulator must
// answer one of them 409 ABORTED. It records every setIamPolicy answer.
type setIamPolicyRace struct {
	emu     *emulator.Emulator
	timeout time.Duration

	mu       sync.Mutex
	held     map[string]chan struct{} // service → closed when its pair is complete
	released map[string]bool          // services whose first pair went through
	timedOut []string                 // services whose first write waited in vain
	statuses map[string][]string      // service → "409 ABORTED", "200", ...
}

func newSetIamPolicyRace(emu *emulator.Emulator) *setIamPolicyRace {
	return &setIamPolicyRace{emu: emu, timeout: 30 * time.Second, held: map[string]chan struct{}{},
		released: map[string]bool{}, statuses: map[string][]string{}}
}

func (f *setIamPolicyRace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, isSet := strings.CutSuffix(r.URL.Path, ":setIamPolicy")
	i := strings.LastIndex(name, "/services/")
	if !isSet || r.Method != http.MethodPost || i < 0 {
		f.emu.ServeHTTP(w, r)
		return
	}
	svc := name[i+len("/services/"):]
	f.pair(r, svc)
	rec := &statusRecorder{ResponseWriter: w}
	f.emu.ServeHTTP(rec, r)
	answer := fmt.Sprint(rec.status)
	var body struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(rec.body.Bytes(), &body) == nil && body.Error.Status != "" {
		answer += " " + body.Error.Status
	}
	f.mu.Lock()
	f.statuses[svc] = append(f.statuses[svc], answer)
	f.mu.Unlock()
}

// pair holds the first setIamPolicy on svc until the second arrives.
func (f *setIamPolicyRace) pair(r *http.Request, svc string) {
	f.mu.Lock()
	if f.released[svc] {
		f.mu.Unlock()
		return
	}
	if ch, ok := f.held[svc]; ok {
		f.released[svc] = true
		close(ch)
		f.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	f.held[svc] = ch
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(f.timeout):
		f.mu.Lock()
		if !f.released[svc] {
			f.released[svc] = true
			f.timedOut = append(f.timedOut, svc)
		}
		f.mu.Unlock()
	case <-r.Context().Done():
	}
}

// missed lists the services whose first write waited in vain for a second.
func (f *setIamPolicyRace) missed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.timedOut...)
}

// answers returns the recorded setIamPolicy answers of svc.
func (f *setIamPolicyRace) answers(svc string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.statuses[svc]...)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Two declarations granting on the same services, applied at the same time
// by two terraform processes whose read-modify-write cycles on each service
// overlap (setIamPolicyRace): on each service one write is refused 409
// ABORTED for its stale etag and retried, and both declarations end with
// all their members. Without the etag (or without the retry) one process's
// write would drop the other's member, or its apply would fail.
func TestConcurrentApplies(t *testing.T) {
	needTerraformE2E(t)
	emu := startEmulator(t, quickstartSeed())
	race := newSetIamPolicyRace(emu)
	front := httptest.NewServer(race)
	t.Cleanup(front.Close)
	env := emuEnv(emu)
	decl := func(prefix string) string {
		dir := t.TempDir()
		f := filepath.Join(dir, "invokers.yaml")
		var b strings.Builder
		b.WriteString("apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\nserviceAccounts:\n")
		for i := 1; i <= 3; i++ {
			b.WriteString("  - name: " + prefix + "-caller-" + string(rune('0'+i)) + "\n")
		}
		b.WriteString("grants:\n")
		for _, svc := range []string{"orders-api", "billing-api"} {
			b.WriteString("  - service: " + svc + "\n    members: [" + prefix + "-caller-1, " + prefix + "-caller-2, " + prefix + "-caller-3]\n")
		}
		os.WriteFile(f, []byte(b.String()), 0o644)
		return f
	}
	files := []string{decl("team-a"), decl("team-b")}
	var wg sync.WaitGroup
	results := make([]cliResult, len(files))
	for i, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runBin(t, env, "apply", "-f", f, "--emulator="+front.URL, "--auto-approve")
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("apply %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	var want []string
	for _, p := range []string{"team-a", "team-b"} {
		for i := 1; i <= 3; i++ {
			want = append(want, sa(p+"-caller-"+string(rune('0'+i))))
		}
	}
	sort.Strings(want)
	for _, svc := range []string{"orders-api", "billing-api"} {
		if got := invokers(t, emu, svc); !eq(got, want) {
			t.Errorf("%s = %v, want all six members", svc, got)
		}
	}
	if missed := race.missed(); len(missed) > 0 {
		t.Fatalf("the first setIamPolicy on %v waited %v for the other apply's; the cycles did not overlap", missed, race.timeout)
	}
	total := 0
	for _, svc := range []string{"orders-api", "billing-api"} {
		answers := race.answers(svc)
		total += len(answers)
		if !slices.Contains(answers, "409 ABORTED") {
			t.Errorf("%s: no setIamPolicy answered 409 ABORTED though two cycles wrote with the same etag; answers %v", svc, answers)
		}
	}
	// Every write went through the front, and there were more writes than
	// the 12 members: the refused ones were retried.
	if calls := emu.Calls()["run.v2.services.setIamPolicy"]; calls != total || calls <= 12 {
		t.Errorf("setIamPolicy calls: %d at the emulator, %d through the front; want equal and more than the 12 members", calls, total)
	}
	t.Logf("setIamPolicy answers: orders-api %v, billing-api %v", race.answers("orders-api"), race.answers("billing-api"))
}

// --emulator without a URL starts an emulator inside the command, seeded
// from --seed, with no token to export: plan shows the quickstart's
// accounts and grants (exit 2) and apply makes them (exit 0). Each
// command's emulator ends with it, so apply starts from the seed again.
func TestInProcessEmulatorWithSeed(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	_, file := quickstartCopy(t)
	env := []string{target.TokenEnv + "=", tfprovider.SleepScaleEnv + "=0.02"}
	names := []string{"orders-caller", "billing-caller", "audit-bot"}

	r := runBin(t, env, "plan", "-f", file, "--emulator", "--seed", quickstartSeed())
	if r.code != ExitChanges {
		t.Fatalf("plan: exit %d, want %d\n%s\n%s", r.code, ExitChanges, r.stdout, r.stderr)
	}
	for _, n := range names {
		if want := "+ " + n + "@demo-project.iam.gserviceaccount.com (" + n + ")"; !strings.Contains(r.stdout, want) {
			t.Errorf("plan summary lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{"function resize-image (service resize-image) in demo-project/us-central1",
		"Plan: 3 account(s) to create, 0 to update, 0 to delete; 5 invoker member(s) to add, 0 to remove."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "Started an in-process emulator at http://127.0.0.1:") {
		t.Errorf("plan stderr does not announce the in-process emulator:\n%s", r.stderr)
	}

	r = runBin(t, env, "apply", "-f", file, "--emulator", "--seed", quickstartSeed(), "--auto-approve", "--json")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Target  string `json:"target"`
		Applied bool   `json:"applied"`
		Outputs struct {
			Emails map[string]string `json:"service_account_emails"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.Applied || res.Target != "emulator" || len(res.Outputs.Emails) != len(names) {
		t.Fatalf("apply --json: %v\n%s", err, r.stdout)
	}
	for _, n := range names {
		if got := res.Outputs.Emails[n]; got != n+"@demo-project.iam.gserviceaccount.com" {
			t.Errorf("apply output: %s = %q", n, got)
		}
	}
}

// A bad declaration fails before Terraform runs: the positioned message,
// exit 1, no working directory, no state — and terraform is never started.
func TestBadDeclarationFailsBeforeTerraform(t *testing.T) {
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
	for _, verb := range []string{"plan", "apply", "destroy"} {
		args := []string{verb, "-f", file, "--terraform", fakeTF}
		if verb != "plan" {
			args = append(args, "--auto-approve")
		}
		r := runBin(t, nil, args...)
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1", verb, r.code)
		}
		for _, want := range []string{
			file + `:10:30: grants[1].members[1]: "sa:foo" is not a valid IAM member (want user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers)`,
			file + `:10:40: grants[1].members[2]: "allUsers" makes the target public; set public: true`,
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", verb, want, r.stderr)
			}
		}
	}
	wantNoTerraformRun(t, dir)
}

// badDeclBesideFakeTerraform writes decl as invokers.yaml into a new
// directory, beside a fake terraform that leaves a marker when it runs.
func badDeclBesideFakeTerraform(t *testing.T, decl string) (dir, file, fakeTF string) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "invokers.yaml")
	os.WriteFile(file, []byte(decl), 0o644)
	fakeTF = filepath.Join(dir, "terraform")
	os.WriteFile(fakeTF, []byte("#!/bin/sh\ntouch "+filepath.Join(dir, "terraform-ran")+"\n"), 0o755)
	return dir, file, fakeTF
}

// wantNoTerraformRun fails when the fake terraform of dir ran or a working
// directory was created in dir.
func wantNoTerraformRun(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "terraform-ran")); err == nil {
		t.Error("terraform ran for a bad declaration")
	}
	if _, err := os.Stat(filepath.Join(dir, ".invokerctl")); !os.IsNotExist(err) {
		t.Error("a working directory was created for a bad declaration")
	}
}

// Flags and usage, through the command tree (no terraform needed).
func TestProvisionUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "invokers.yaml")
	os.WriteFile(file, []byte("apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan"}, ExitUsage, "-f FILE is required"},
		{[]string{"plan", "-f", file, "--emulator", "http://127.0.0.1:1"}, ExitUsage, "write --emulator=http://127.0.0.1:1"},
		{[]string{"plan", "-f", file, "--seed", "s.yaml"}, ExitUsage, "--seed needs --emulator"},
		{[]string{"plan", "-f", file, "--emulator=http://127.0.0.1:1/v1/"}, ExitError, "want only a scheme, host and port"},
		{[]string{"apply", "-f", file}, ExitError, "standard input is not a terminal; pass --auto-approve"},
		{[]string{"destroy", "-f", file}, ExitError, "standard input is not a terminal"},
		{[]string{"plan", "-f", filepath.Join(dir, "missing.yaml")}, ExitError, "no such file"},
		{[]string{"plan", "-f", file, "--bogus"}, ExitUsage, "unknown flag"},
	}
	for _, tc := range cases {
		ios, _, _, errOut := iostreams.Test()
		t.Setenv(target.TokenEnv, "")
		code := Run(context.Background(), ios, tc.args)
		if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.want)
		}
	}
	// --emulator with a URL needs the token.
	ios, _, _, errOut := iostreams.Test()
	if code := Run(context.Background(), ios, []string{"plan", "-f", file, "--emulator=http://127.0.0.1:1"}); code != ExitError || !strings.Contains(errOut.String(), target.TokenEnv) {
		t.Errorf("missing token: %d %s", code, errOut.String())
	}
}

// The y/N confirmation: "n" changes nothing, "y" applies; in-process run
// functions with a test terminal.
func TestApplyConfirmation(t *testing.T) {
	needTerraformE2E(t)
	emu := startEmulator(t, quickstartSeed())
	_, file := quickstartCopy(t)
	t.Setenv(tfprovider.SleepScaleEnv, "0.02")
	deps := defaultProvisionDeps()
	deps.isTerminal = func(io.Reader) bool { return true }
	deps.getenv = func(k string) string {
		if k == target.TokenEnv {
			return emu.BootstrapToken()
		}
		return os.Getenv(k)
	}
	deps.providerExecutable = invokerctlBin(t)
	o := &provisionOptions{File: file, Emulator: emu.URL()}

	ios, in, out, _ := iostreams.Test()
	in.WriteString("n\n")
	err := runApply(context.Background(), ios, o, deps)
	if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(out.String(), "Apply these changes? Only 'y' or 'yes' confirms. [y/N]") {
		t.Fatalf("declined: %v\n%s", err, out.String())
	}
	if got := invokers(t, emu, "orders-api"); len(got) != 0 {
		t.Fatalf("declined apply changed orders-api: %v", got)
	}
	ios, in, out, _ = iostreams.Test()
	in.WriteString("yes\n")
	if err := runApply(context.Background(), ios, o, deps); err != nil {
		t.Fatalf("confirmed: %v\n%s", err, out.String())
	}
	if got := invokers(t, emu, "orders-api"); !eq(got, []string{sa("orders-caller")}) {
		t.Fatalf("confirmed apply: orders-api = %v", got)
	}
	// The declaration is still valid config (the test did not mangle it).
	if _, err := config.Load(file); err != nil {
		t.Fatal(err)
	}
}
