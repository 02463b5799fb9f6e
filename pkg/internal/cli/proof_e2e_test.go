package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	gidtoken "google.golang.org/api/idtoken"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// End-to-end tests of verify, invoke and run: the built invokerctl binary
// as a user runs it, against emulators started by the test (in-process
// behind a recorder of every token that crosses its API, or the binary's
// own `emulator serve`), with real terraform for run. Every command's
// output is checked for token text.

// seedHead is a seed's project, with the bootstrap owner allowed to
// mint every account's ID tokens (as smokeTest.tokenCreator would give it,
// and as an invoke stage needs). Further project bindings may follow it
// directly.
const seedHead = `defaults: {project: demo-project, location: us-central1}
projects:
  - id: demo-project
    policy:
      - role: roles/iam.serviceAccountTokenCreator
        members: [user:owner@example.com]
`

var (
	// proofJWTShape is any JWT (JWS compact form).
	proofJWTShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.`)
	// proofAccessToken is a Google OAuth2 access token.
	proofAccessToken = regexp.MustCompile(`ya29\.[A-Za-z0-9_-]{8,}`)
	// proofTokenText finds whole tokens to record: JWTs and OAuth2
	// access tokens.
	proofTokenText = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|ya29\.[A-Za-z0-9_.-]+`)
)

// proofEmu is an in-process emulator reached through a recording front:
// every token in a request or response of its API (ID tokens minted by
// generateIdToken, the token endpoint and the metadata server, access
// tokens, signed assertions) is kept, so a test can look for them in what
// invokerctl printed and wrote.
type proofEmu struct {
	*emulator.Emulator
	URL  string // the front: what invokerctl is given
	Host string // host:port of the front (for GCE_METADATA_HOST)

	offset atomic.Int64 // added to the emulator's clock

	mu     sync.Mutex
	tokens map[string]bool
}

func startProofEmu(t *testing.T, seedYAML string, tweak func(*emulator.Options)) *proofEmu {
	t.Helper()
	seed, err := emulator.ParseSeed([]byte(seedYAML), t.Name()+"/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := &proofEmu{tokens: map[string]bool{}}
	o := emulator.Options{Seed: seed, Now: func() time.Time { return time.Now().Add(time.Duration(p.offset.Load())) }}
	if tweak != nil {
		tweak(&o)
	}
	emu, err := emulator.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	p.Emulator = emu
	front := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(front.Close)
	p.URL = front.URL
	p.Host = strings.TrimPrefix(front.URL, "http://")
	p.record(emu.BootstrapToken())
	return p
}

type proofRecorder struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (r *proofRecorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (p *proofEmu) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		p.record(tok)
	}
	p.recordIn(string(body))
	rec := &proofRecorder{ResponseWriter: w}
	p.Emulator.ServeHTTP(rec, r)
	p.recordIn(rec.buf.String())
}

func (p *proofEmu) record(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokens[tok] = true
}

func (p *proofEmu) recordIn(s string) {
	for _, m := range proofTokenText.FindAllString(s, -1) {
		p.record(m)
	}
}

// Tokens are every token seen so far, the bootstrap token included.
func (p *proofEmu) Tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.tokens))
	for k := range p.tokens {
		out = append(out, k)
	}
	return out
}

// jwtsSeen counts the recorded JWTs.
func (p *proofEmu) jwtsSeen() int {
	n := 0
	for _, tok := range p.Tokens() {
		if strings.HasPrefix(tok, "eyJ") {
			n++
		}
	}
	return n
}

// opts are Google client options that reach the emulator through the front.
func (p *proofEmu) opts() []option.ClientOption {
	return clientOpts(p.URL, p.BootstrapToken())
}

func clientOpts(url, token string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(url + "/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})),
	}
}

// env is what a user exports to reach p.
func (p *proofEmu) env(extra ...string) []string {
	return append([]string{target.TokenEnv + "=" + p.BootstrapToken(), tfprovider.SleepScaleEnv + "=0.02"}, extra...)
}

// run runs the binary against p and checks its output for token text.
func (p *proofEmu) run(t *testing.T, extraEnv []string, args ...string) cliResult {
	t.Helper()
	r := runBin(t, p.env(extraEnv...), append(args, "--emulator="+p.URL)...)
	proofNoTokenText(t, "stdout of invokerctl "+args[0], r.stdout, p.Tokens()...)
	proofNoTokenText(t, "stderr of invokerctl "+args[0], r.stderr, p.Tokens()...)
	return r
}

// mustRun is run that stops the test unless the binary exits with code.
func (p *proofEmu) mustRun(t *testing.T, code int, extraEnv []string, args ...string) cliResult {
	t.Helper()
	r := p.run(t, extraEnv, args...)
	wantExit(t, r, code, "invokerctl "+strings.Join(args, " "))
	return r
}

// needE2E skips an end-to-end test that needs no terraform under -short.
func needE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end; skipped with -short")
	}
}

// startProofCase starts a parallel end-to-end test without terraform: an
// emulator seeded with seedHead+seedTail and a declaration with declBody.
func startProofCase(t *testing.T, seedTail, declBody string) (*proofEmu, string) {
	t.Helper()
	needE2E(t)
	t.Parallel()
	return startProofEmu(t, seedHead+seedTail, nil), writeDecl(t, declBody)
}

// proofNoTokenText fails when text holds anything JWT-shaped, an access
// token, or one of secrets (whole, or the payload or signature of a JWT).
// Messages never show more than the start of what was found.
func proofNoTokenText(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	if m := proofJWTShape.FindString(text); m != "" {
		t.Errorf("%s holds JWT-shaped text %.16s…", where, m)
	}
	if m := proofAccessToken.FindString(text); m != "" {
		t.Errorf("%s holds an access token %.9s…", where, m)
	}
	for _, s := range secrets {
		parts := []string{s}
		if seg := strings.Split(s, "."); len(seg) == 3 && strings.HasPrefix(s, "eyJ") {
			parts = append(parts, seg[1], seg[2])
		}
		for _, part := range parts {
			if len(part) >= 16 && strings.Contains(text, part) {
				t.Errorf("%s holds token text (%d characters starting %.6s…)", where, len(part), part)
			}
		}
	}
}

// proofServe starts `invokerctl emulator serve` and returns its exports.
func proofServe(t *testing.T, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(invokerctlBin(t), append([]string{"emulator", "serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &emuSyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return readExports(t, stdout, stderr)
}

// proofServeEnv is the environment of a user who evaluated the exports.
func proofServeEnv(exports map[string]string, extra ...string) []string {
	env := []string{tfprovider.SleepScaleEnv + "=0.02"}
	for k, v := range exports {
		env = append(env, k+"="+v)
	}
	return append(env, extra...)
}

// proofRunServed runs the binary with a served emulator's exports.
func proofRunServed(t *testing.T, exports map[string]string, extraEnv []string, args ...string) cliResult {
	t.Helper()
	r := runBin(t, proofServeEnv(exports, extraEnv...), append(args, "--emulator="+exports["INVOKERCTL_EMULATOR_URL"])...)
	tok := exports["INVOKERCTL_EMULATOR_TOKEN"]
	proofNoTokenText(t, "stdout of invokerctl "+args[0], r.stdout, tok)
	proofNoTokenText(t, "stderr of invokerctl "+args[0], r.stderr, tok)
	return r
}

func proofWrite(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeDecl writes a declaration for demo-project/us-central1 with body
// into a new directory.
func writeDecl(t *testing.T, body string) string {
	t.Helper()
	return proofWrite(t, t.TempDir(), "invokers.yaml", "apiVersion: invokerctl/v1\nproject: demo-project\nlocation: us-central1\n"+body)
}

func proofEmail(name string) string { return name + "@demo-project.iam.gserviceaccount.com" }

// proofRow is one line of the table report.
type proofRow struct{ stage, target, check, result, detail string }

// proofTable parses the table report: columns are separated by at least
// two spaces.
func proofTable(t *testing.T, out string) (rows []proofRow, summary string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "STAGE ") {
		t.Fatalf("not a table report:\n%s", out)
	}
	sep := regexp.MustCompile(`\s{2,}`)
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		f := sep.Split(strings.TrimRight(l, " "), 5)
		for len(f) < 5 {
			f = append(f, "")
		}
		rows = append(rows, proofRow{f[0], f[1], f[2], f[3], f[4]})
	}
	return rows, lines[len(lines)-1]
}

// proofTally counts rows by result: "3 PASS, 1 SKIP".
func proofTally(rows []proofRow) string {
	n := map[string]int{}
	for _, r := range rows {
		n[r.result]++
	}
	var out []string
	for _, k := range []string{"FAIL", "PASS", "SKIP", "WARN"} {
		if n[k] > 0 {
			out = append(out, fmt.Sprintf("%d %s", n[k], k))
		}
	}
	return strings.Join(out, ", ")
}

// proofFind returns the row of stage whose target starts with target and
// whose check is check.
func proofFind(t *testing.T, rows []proofRow, stage, target, check string) proofRow {
	t.Helper()
	for _, r := range rows {
		if r.stage == stage && strings.HasPrefix(r.target, target) && r.check == check {
			return r
		}
	}
	t.Fatalf("no %s row for %q / %q in %+v", stage, target, check, rows)
	return proofRow{}
}

func proofWant(t *testing.T, rows []proofRow, stage, target, check, result, detail string) {
	t.Helper()
	r := proofFind(t, rows, stage, target, check)
	if r.result != result || !strings.Contains(r.detail, detail) {
		t.Errorf("%s %s %q: %s %q; want %s and %q", stage, target, check, r.result, r.detail, result, detail)
	}
}

// reportDoc is the --format json document, as much as the tests read.
type reportDoc struct {
	OK     bool   `json:"ok"`
	Stage  string `json:"failedStage"`
	Target string `json:"target"`
	Apply  *struct {
		Applied bool `json:"applied"`
	} `json:"apply"`
	Verify []struct {
		Target   string `json:"target"`
		Service  string `json:"service"`
		URI      string `json:"uri"`
		OK       bool   `json:"ok"`
		Function *struct {
			Name        string `json:"name"`
			EventDriven bool   `json:"eventDriven"`
			EventType   string `json:"eventType"`
		} `json:"function"`
		Exposure map[string]any `json:"exposure"`
		Members  []struct {
			Member string `json:"member"`
			Status string `json:"status"`
			Role   string `json:"role"`
			Source string `json:"source"`
		} `json:"members"`
		Problems []string `json:"problems"`
	} `json:"verify"`
	Invoke []struct {
		Check            string `json:"check"`
		Target           string `json:"target"`
		URL              string `json:"url"`
		Caller           string `json:"caller"`
		TokenSource      string `json:"tokenSource"`
		Audience         string `json:"audience"`
		Got              int    `json:"got"`
		Attempts         int    `json:"attempts"`
		PropagationDelay string `json:"propagationDelay"`
		Outcome          string `json:"outcome"`
		Reason           string `json:"reason"`
	} `json:"invoke"`
	Cases []struct {
		Suite, Target, Name, Outcome, Detail string
	} `json:"cases"`
	Counts *report.Counts `json:"counts"`
}

func reportJSON(t *testing.T, r cliResult) reportDoc {
	t.Helper()
	var d reportDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("--format json output does not parse: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return d
}

// serviceURI reads a service's URL through the Run Admin API.
func proofServiceURI(t *testing.T, opts []option.ClientOption, service string) string {
	t.Helper()
	rs, err := run.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := rs.Projects.Locations.Services.Get("projects/demo-project/locations/us-central1/services/" + service).Do()
	if err != nil {
		t.Fatal(err)
	}
	return s.Uri
}

// proofMint mints an ID token for email through IAM Credentials
// generateIdToken, as the bootstrap owner.
func proofMint(t *testing.T, opts []option.ClientOption, email, audience string) string {
	t.Helper()
	ic, err := iamcredentials.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ic.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+email,
		&iamcredentials.GenerateIdTokenRequest{Audience: audience, IncludeEmail: true}).Do()
	if err != nil {
		t.Fatalf("generateIdToken for %s: %v", email, err)
	}
	return resp.Token
}

// proofKey creates a key for email through IAM v1 and writes it, 0600,
// into dir.
func proofKey(t *testing.T, opts []option.ClientOption, dir, email string) (path string, key []byte) {
	t.Helper()
	is, err := iam.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	k, err := is.Projects.ServiceAccounts.Keys.Create("projects/-/serviceAccounts/"+email, &iam.CreateServiceAccountKeyRequest{}).Do()
	if err != nil {
		t.Fatalf("creating a key for %s: %v", email, err)
	}
	key, err = base64.StdEncoding.DecodeString(k.PrivateKeyData)
	if err != nil {
		t.Fatal(err)
	}
	return proofWrite(t, dir, strings.Split(email, "@")[0]+"-key.json", string(key)), key
}

// proofCall calls url with an ID token and returns the status.
func proofCall(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func proofQuickstartSeed(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(quickstartSeed())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The success path: run provisions the quickstart with terraform, verify
// finds every grant, and every caller gets through; the unauthenticated
// and refused-caller probes are refused; the event-driven function is
// skipped.
func TestProofRunSuccessPath(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	p := startProofEmu(t, proofQuickstartSeed(t), nil)
	_, file := quickstartCopy(t)
	r := p.mustRun(t, 0, nil, "run", "-f", file, "--auto-approve")
	rows, summary := proofTable(t, r.stdout)
	for _, g := range []struct{ target, member string }{
		{"service orders-api", "orders-caller"}, {"service billing-api", "orders-caller"}, {"service billing-api", "billing-caller"},
		{"function resize-image", "orders-caller"}, {"function on-upload", "billing-caller"},
	} {
		proofWant(t, rows, "verify", g.target, "grant "+sa(g.member), "PASS", "present-direct via roles/run.invoker on the service")
	}
	for _, target := range []string{"service orders-api", "service billing-api", "function resize-image", "function on-upload"} {
		proofWant(t, rows, "verify", target, "exposure", "PASS", "private")
	}
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "PASS", "GET /healthz → 200 (expected 200)")
	proofWant(t, rows, "invoke", "service orders-api", "refuses "+sa("audit-bot"), "PASS", "GET /healthz → 403 (expected 403)")
	proofWant(t, rows, "invoke", "service orders-api", "refuses unauthenticated", "PASS", "→ 403 (expected 401 or 403)")
	proofWant(t, rows, "invoke", "service billing-api", "invoke as "+sa("billing-caller"), "PASS", "GET / → 200")
	proofWant(t, rows, "invoke", "function resize-image", "invoke as "+sa("orders-caller"), "PASS", "POST / → 200")
	proofWant(t, rows, "invoke", "function on-upload", "invoke as "+sa("billing-caller"), "SKIP", "event-driven")
	if got := proofTally(rows); got != "16 PASS, 2 SKIP" || !strings.Contains(summary, "16 passed") {
		t.Errorf("results: %s; summary %q", got, summary)
	}
	// The stages ran in order, each announced.
	last := -1
	for _, s := range []string{"Stage 1/3: provision", "Apply complete!", "Stage 2/3: verify", "Stage 3/3: invoke"} {
		i := strings.Index(r.stderr, s)
		if i < last {
			t.Errorf("stderr lacks %q after the previous stage:\n%s", s, r.stderr)
		}
		last = i
	}
	// The calls really reached the services: three callers let through,
	// the refused caller and three calls without a token refused.
	c := p.Calls()
	if c["run.dataplane.invoke.ok"] != 3 || c["run.dataplane.invoke.denied"] != 1 || c["run.dataplane.invoke.no_token"] != 3 {
		t.Errorf("data-plane calls: ok %d, denied %d, no_token %d; want 3, 1, 3", c["run.dataplane.invoke.ok"],
			c["run.dataplane.invoke.denied"], c["run.dataplane.invoke.no_token"])
	}
}

// run stops at the first failing stage: a service public by accident
// fails verify (exit 3) after the apply, and nothing is invoked.
func TestProofRunStopsAtVerify(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	p := startProofEmu(t, seedHead+`services:
  - name: www
    policy:
      - role: roles/run.invoker
        members: [allUsers]
`, nil)
	file := writeDecl(t, `serviceAccounts:
  - name: web-caller
grants:
  - service: www
    members: [web-caller]
`)
	r := p.mustRun(t, ExitVerifyFailed, nil, "run", "-f", file, "--auto-approve", "--format", "json")
	d := reportJSON(t, r)
	if d.OK || d.Stage != "verify" || d.Apply == nil || !d.Apply.Applied || len(d.Verify) != 1 || len(d.Invoke) != 0 {
		t.Errorf("run --format json: %s", r.stdout)
	}
	if !strings.Contains(r.stderr, "stage verify failed") || strings.Contains(r.stderr, "Stage 3/3") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if n := p.Calls()["run.dataplane.invoke"]; n != 0 {
		t.Errorf("%d calls to the service after verify failed", n)
	}
}

// The demo, through the binary: the whole pipeline offline, with a
// propagation delay to wait out; exit 0, and no token text in its output
// or its directory.
func TestProofDemo(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	dir := t.TempDir()
	r := runBin(t, []string{tfprovider.SleepScaleEnv + "=0.02"}, "demo", "--dir", dir, "--propagation-delay", "3s")
	wantExit(t, r, 0, "demo")
	rows, _ := proofTable(t, r.stdout)
	if got := proofTally(rows); got != "16 PASS, 2 SKIP" {
		t.Errorf("demo results: %s\n%s", got, r.stdout)
	}
	waited := false
	for _, row := range rows {
		waited = waited || strings.Contains(row.detail, "grant effective after")
	}
	if !waited || !strings.Contains(r.stderr, "waiting for IAM propagation") || !strings.Contains(r.stderr, "Demo complete") {
		t.Errorf("the demo did not show the propagation wait:\n%s\n%s", r.stdout, r.stderr)
	}
	proofNoTokenText(t, "demo stdout", r.stdout)
	proofNoTokenText(t, "demo stderr", r.stderr)
	proofNoTokenFiles(t, dir)
}

// A grant that exists only at the project level is present-inherited, and
// it does let the caller in.
func TestProofVerifyInheritedGrant(t *testing.T) {
	p, file := startProofCase(t, `      - role: roles/run.invoker
        members: [serviceAccount:proj-caller@demo-project.iam.gserviceaccount.com]
serviceAccounts:
  - accountId: proj-caller
  - accountId: direct-caller
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: proj-caller
  - name: direct-caller
grants:
  - service: orders-api
    members: [proj-caller, direct-caller]
`)
	r := p.mustRun(t, 0, nil, "verify", "-f", file)
	rows, _ := proofTable(t, r.stdout)
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("proj-caller"), "PASS", "present-inherited via roles/run.invoker on the project")
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("direct-caller"), "PASS", "present-direct via roles/run.invoker on the service")

	d := reportJSON(t, p.run(t, nil, "verify", "-f", file, "--format", "json"))
	if !d.OK || len(d.Verify) != 1 || len(d.Verify[0].Members) != 2 {
		t.Fatalf("verify --format json: %+v", d)
	}
	if m := d.Verify[0].Members[0]; m.Member != sa("proj-caller") || m.Status != "present-inherited" || m.Role != "roles/run.invoker" || m.Source != "project" {
		t.Errorf("inherited member: %+v", m)
	}
	if m := d.Verify[0].Members[1]; m.Status != "present-direct" || m.Source != "service" {
		t.Errorf("direct member: %+v", m)
	}

	// The data plane agrees: the project binding lets proj-caller in.
	before := p.Calls()["run.dataplane.invoke.ok"]
	r = p.mustRun(t, 0, nil, "invoke", "-f", file)
	rows, _ = proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("proj-caller"), "PASS", "→ 200")
	if n := p.Calls()["run.dataplane.invoke.ok"] - before; n != 1 {
		t.Errorf("%d successful data-plane calls, want 1", n)
	}
}

// A missing grant fails verify with exit 3, naming the member and the
// service; the grants in force still pass.
func TestProofVerifyMissingGrant(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: direct-caller
  - accountId: lonely-caller
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@demo-project.iam.gserviceaccount.com]
  - name: billing-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@demo-project.iam.gserviceaccount.com]
      - role: roles/run.viewer
        members: [serviceAccount:lonely-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: direct-caller
  - name: lonely-caller
grants:
  - service: orders-api
    members: [direct-caller]
  - service: billing-api
    members: [direct-caller, lonely-caller]
`)
	r := p.mustRun(t, ExitVerifyFailed, nil, "verify", "-f", file)
	rows, summary := proofTable(t, r.stdout)
	proofWant(t, rows, "verify", "service billing-api", "grant "+sa("lonely-caller"), "FAIL",
		sa("lonely-caller")+" cannot invoke projects/demo-project/locations/us-central1/services/billing-api: no binding grants it run.routes.invoke")
	proofWant(t, rows, "verify", "service billing-api", "grant "+sa("direct-caller"), "PASS", "present-direct")
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("direct-caller"), "PASS", "present-direct")
	if got := proofTally(rows); got != "1 FAIL, 4 PASS" || !strings.Contains(summary, "1 failed") {
		t.Errorf("results: %s; summary %q", got, summary)
	}
	if !strings.Contains(r.stderr, "verification failed") {
		t.Errorf("stderr: %s", r.stderr)
	}

	r = p.run(t, nil, "verify", "-f", file, "--format", "json")
	d := reportJSON(t, r)
	if r.code != ExitVerifyFailed || d.OK || d.Stage != "verify" || len(d.Verify) != 2 || !d.Verify[0].OK || d.Verify[1].OK {
		t.Fatalf("verify --format json: exit %d, %+v", r.code, d)
	}
	if m := d.Verify[1].Members[1]; m.Member != sa("lonely-caller") || m.Status != "missing" {
		t.Errorf("missing member: %+v", m)
	}
	if ps := d.Verify[1].Problems; len(ps) != 1 || !strings.Contains(ps[0], sa("lonely-caller")) || !strings.Contains(ps[0], "services/billing-api") {
		t.Errorf("problems: %q", ps)
	}

	// A service that cannot be read is an API failure (exit 1), not a
	// verdict on the policies; the others are still reported.
	editFile(t, file, "  - service: billing-api\n    members: [direct-caller, lonely-caller]\n", "  - service: gone-api\n    members: [direct-caller]\n")
	r = p.run(t, nil, "verify", "-f", file)
	if r.code != ExitError || !strings.Contains(r.stderr, "verification incomplete: the policies of 1 target(s) could not be read") {
		t.Fatalf("verify of a service that does not exist: exit %d, want %d\n%s\n%s", r.code, ExitError, r.stdout, r.stderr)
	}
	rows, _ = proofTable(t, r.stdout)
	proofWant(t, rows, "verify", "service gone-api", "read policies", "FAIL", "services/gone-api")
	proofWant(t, rows, "verify", "service orders-api", "grant "+sa("direct-caller"), "PASS", "present-direct")
}

// A service open to allUsers, or with the invoker check disabled, fails
// verify unless the grant says public: true; declared public, it passes,
// is called without a token and gets no unauthenticated probe.
func TestProofPublicService(t *testing.T) {
	p, undeclared := startProofCase(t, `serviceAccounts:
  - accountId: web-caller
services:
  - name: www
    policy:
      - role: roles/run.invoker
        members: [allUsers]
  - name: open-api
    invokerIamDisabled: true
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:web-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: web-caller
grants:
  - service: www
    members: [web-caller]
  - service: open-api
    members: [web-caller]
`)
	r := p.mustRun(t, ExitVerifyFailed, nil, "verify", "-f", undeclared)
	rows, _ := proofTable(t, r.stdout)
	proofWant(t, rows, "verify", "service www", "exposure", "FAIL", "public: allUsers (not declared public)")
	proofWant(t, rows, "verify", "service open-api", "exposure", "FAIL", "public: invokerIamDisabled (not declared public)")
	proofWant(t, rows, "verify", "service www", "grant "+sa("web-caller"), "WARN", "the service is public")
	// invoke sees it too: a call without a token gets through.
	r = p.mustRun(t, ExitInvokeFailed, nil, "invoke", "-f", undeclared)
	rows, _ = proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "service www", "refuses unauthenticated", "FAIL", "answered 200 to a call without a token, but it is not public by declaration")

	declared := writeDecl(t, `serviceAccounts:
  - name: web-caller
grants:
  - service: www
    public: true
    members: [allUsers]
  - service: open-api
    public: true
    members: [web-caller]
`)
	r = p.mustRun(t, 0, nil, "verify", "-f", declared)
	rows, _ = proofTable(t, r.stdout)
	proofWant(t, rows, "verify", "service www", "exposure", "PASS", "public: allUsers")
	proofWant(t, rows, "verify", "service open-api", "exposure", "PASS", "public: invokerIamDisabled")

	okCalls := p.Calls()["run.dataplane.invoke.ok"]
	r = p.mustRun(t, 0, nil, "invoke", "-f", declared)
	rows, _ = proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "service www", "invoke as anonymous", "PASS", "GET / → 200")
	proofWant(t, rows, "invoke", "service open-api", "invoke as "+sa("web-caller"), "PASS", "GET / → 200")
	if len(rows) != 2 {
		t.Errorf("a public target gets no unauthenticated probe; rows: %+v", rows)
	}
	if n := p.Calls()["run.dataplane.invoke.ok"] - okCalls; n != 2 {
		t.Errorf("%d calls let through, want 2", n)
	}
	// The anonymous call went out without a token.
	d := reportJSON(t, p.run(t, nil, "invoke", "-f", declared, "--format", "json"))
	if inv := d.Invoke[0]; inv.Caller != "anonymous" || inv.TokenSource != "" || inv.Audience != "" || inv.Outcome != "pass" {
		t.Errorf("anonymous call: %+v", inv)
	}
}

// Invoking before a fresh grant has propagated: run waits the 403s out,
// succeeds, and reports the attempts and the delay. A bounded --max-wait
// that is too short fails clearly.
func TestProofPropagationWait(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	t.Run("run waits", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		exports := proofServe(t, "--seed", quickstartSeed(), "--propagation-delay", "3s")
		file := proofWrite(t, dir, "invokers.yaml", `apiVersion: invokerctl/v1
project: demo-project
location: us-central1
serviceAccounts:
  - name: orders-caller
smokeTest:
  tokenCreator: user:owner@example.com
grants:
  - service: orders-api
    members: [orders-caller]
`)
		r := proofRunServed(t, exports, nil, "run", "-f", file, "--auto-approve", "--format", "json", "--max-wait", "90s")
		wantExit(t, r, 0, "run")
		d := reportJSON(t, r)
		if !d.OK || d.Apply == nil || !d.Apply.Applied || len(d.Invoke) != 2 {
			t.Fatalf("run --format json: %s", r.stdout)
		}
		inv := d.Invoke[0]
		if inv.Check != "invoke" || inv.Outcome != "pass" || inv.Attempts < 2 || inv.PropagationDelay == "" {
			t.Fatalf("the call as orders-caller: %+v; want a pass after several attempts, with the propagation delay", inv)
		}
		if delay, err := time.ParseDuration(inv.PropagationDelay); err != nil || delay < 200*time.Millisecond || delay > 60*time.Second {
			t.Errorf("propagationDelay %q", inv.PropagationDelay)
		}
		if !strings.Contains(d.Cases[len(d.Cases)-2].Detail, "grant effective after") {
			t.Errorf("the report case does not give the delay: %+v", d.Cases)
		}
		if !strings.Contains(r.stderr, "waiting for IAM propagation on service orders-api (demo-project/us-central1) as "+sa("orders-caller")) {
			t.Errorf("no progress while waiting:\n%s", r.stderr)
		}
	})
	t.Run("max-wait bounds the wait", func(t *testing.T) {
		t.Parallel()
		p := startProofEmu(t, seedHead+`serviceAccounts:
  - accountId: orders-caller
services:
  - name: orders-api
`, func(o *emulator.Options) { o.PropagationDelay = time.Minute })
		file := writeDecl(t, `serviceAccounts:
  - name: orders-caller
grants:
  - service: orders-api
    members: [orders-caller]
`)
		addInvokerVia(t, p.opts(), "orders-api", sa("orders-caller"))
		// The control plane has it at once...
		p.mustRun(t, 0, nil, "verify", "-f", file)
		// ...the data plane only after a minute: invoke gives up after 2s.
		start := time.Now()
		r := p.mustRun(t, ExitInvokeFailed, nil, "invoke", "-f", file, "--max-wait", "2s", "--format", "json")
		if el := time.Since(start); el > 30*time.Second {
			t.Errorf("invoke took %s with --max-wait 2s", el)
		}
		d := reportJSON(t, r)
		inv := d.Invoke[0]
		if inv.Outcome != "fail" || inv.Got != 403 || inv.Attempts < 2 || !strings.Contains(inv.Reason, "still refused with 403 after 2s") ||
			!strings.Contains(inv.Reason, sa("orders-caller")) {
			t.Errorf("the call as orders-caller: %+v", inv)
		}
		// --max-wait 0 is one attempt, not the 7-minute default.
		start = time.Now()
		r = p.run(t, nil, "invoke", "-f", file, "--max-wait", "0", "--format", "json")
		if el := time.Since(start); r.code != ExitInvokeFailed || el > 20*time.Second {
			t.Fatalf("invoke --max-wait 0: exit %d after %s\n%s", r.code, el, r.stderr)
		}
		if inv := reportJSON(t, r).Invoke[0]; inv.Outcome != "fail" || inv.Attempts != 1 || !strings.Contains(inv.Reason, "still refused with 403") {
			t.Errorf("--max-wait 0: %+v", inv)
		}
	})
}

// A caller without a grant is refused (refusedCaller passes); once it has
// a grant added out of band, invoke fails with exit 4 and says so.
func TestProofRefusedCaller(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: orders-caller
  - accountId: audit-bot
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
`, `serviceAccounts:
  - name: orders-caller
  - name: audit-bot
grants:
  - service: orders-api
    members: [orders-caller]
    invoke:
      refusedCaller: audit-bot
`)
	r := p.mustRun(t, 0, nil, "invoke", "-f", file)
	rows, _ := proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "service orders-api", "refuses "+sa("audit-bot"), "PASS", "GET / → 403 (expected 403)")
	if n := p.Calls()["run.dataplane.invoke.denied"]; n != 1 {
		t.Errorf("%d calls denied by IAM, want 1 (audit-bot's)", n)
	}

	addInvokerVia(t, p.opts(), "orders-api", sa("audit-bot"))
	r = p.mustRun(t, ExitInvokeFailed, nil, "invoke", "-f", file)
	rows, _ = proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "service orders-api", "refuses "+sa("audit-bot"), "FAIL",
		"caller "+sa("audit-bot")+" was allowed (200) but has no declared grant on service orders-api")
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "PASS", "→ 200")
	if !strings.Contains(r.stderr, "invocation failed") {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// A --credentials caller the declaration does not know is a usage error
// before anything runs: run provisions nothing, invoke reads nothing.
func TestProofCredentialsCheckedFirst(t *testing.T) {
	needE2E(t)
	t.Parallel()
	p := startProofEmu(t, proofQuickstartSeed(t), nil)
	dir, file := quickstartCopy(t)
	for _, args := range [][]string{
		{"run", "-f", file, "--auto-approve", "--credentials", "orders-caller=metadata", "--credentials", "ghost=metadata"},
		{"invoke", "-f", file, "--credentials", "ghost=metadata"},
	} {
		r := p.run(t, nil, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, `credentials for "ghost": no service account with that short name in `+file) {
			t.Errorf("%s: exit %d, want %d naming ghost\n%s", args[0], r.code, ExitUsage, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".invokerctl")); !os.IsNotExist(err) {
		t.Errorf("run made a working directory before refusing its flags")
	}
	for k, n := range p.Calls() {
		t.Errorf("the emulator was called (%s ×%d)", k, n)
	}
}

// Explicit tokens that the service would refuse are refused before any
// call, with a message that says why: another audience (both named), an
// expired token, a token of another account.
func TestProofBadTokensRefused(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: orders-caller
  - accountId: billing-caller
services:
  - name: orders-api
    customAudiences: [https://orders.example.com]
    policy:
      - role: roles/run.invoker
        members:
          - serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com
          - serviceAccount:billing-caller@demo-project.iam.gserviceaccount.com
`, `serviceAccounts:
  - name: orders-caller
  - name: billing-caller
grants:
  - service: orders-api
    members: [orders-caller, billing-caller]
`)
	uri := proofServiceURI(t, p.opts(), "orders-api")
	dir := t.TempDir()
	ctx := context.Background()

	// The control: a good token handed over in a file, for one of the
	// service's custom audiences, gets through.
	good := proofWrite(t, dir, "good.jwt", proofMint(t, p.opts(), proofEmail("orders-caller"), "https://orders.example.com"))
	r := p.run(t, nil, "invoke", "-f", file, "--format", "json", "--credentials", "orders-caller=token-file:"+good)
	if d := reportJSON(t, r); r.code != 0 || d.Invoke[0].Outcome != "pass" || d.Invoke[0].Audience != "https://orders.example.com" {
		t.Fatalf("a good token for the custom audience: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A token for another audience, minted with a key through Google's
	// own idtoken library.
	_, key := proofKey(t, p.opts(), dir, proofEmail("orders-caller"))
	ts, err := gidtoken.NewTokenSource(ctx, "https://elsewhere.example.com", option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if got := proofCall(t, uri, wrong.AccessToken); got != http.StatusUnauthorized {
		t.Fatalf("the service answered %d to the wrong-audience token, want 401", got)
	}
	wrongFile := proofWrite(t, dir, "wrong-audience.jwt", wrong.AccessToken+"\n")
	dataPlane := p.Calls()["run.dataplane.invoke"]
	r = p.mustRun(t, ExitInvokeFailed, nil, "invoke", "-f", file, "--credentials", "orders-caller=token-file:"+wrongFile)
	rows, _ := proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "FAIL",
		`the token from token file `+wrongFile+` has audience "https://elsewhere.example.com", but the service accepts only "`+uri+`"`)
	// Refused before the call: only the unauthenticated probe reached the service.
	if n := p.Calls()["run.dataplane.invoke"] - dataPlane; n != 1 {
		t.Errorf("%d data-plane calls, want 1 (the unauthenticated probe)", n)
	}

	// An expired token: minted while the emulator's clock is two hours
	// behind, so it expired an hour ago.
	p.offset.Store(int64(-2 * time.Hour))
	expired := proofMint(t, p.opts(), proofEmail("orders-caller"), uri)
	p.offset.Store(0)
	if got := proofCall(t, uri, expired); got != http.StatusUnauthorized {
		t.Fatalf("the service answered %d to the expired token, want 401", got)
	}
	for _, how := range []struct {
		spec   string
		env    []string
		origin string
	}{
		{"orders-caller=token-env:ORDERS_ID_TOKEN", []string{"ORDERS_ID_TOKEN=" + expired}, "environment variable ORDERS_ID_TOKEN"},
		{"orders-caller=token-file:" + proofWrite(t, dir, "expired.jwt", expired), nil, "token file " + filepath.Join(dir, "expired.jwt")},
	} {
		r = p.mustRun(t, ExitInvokeFailed, how.env, "invoke", "-f", file, "--credentials", how.spec)
		rows, _ = proofTable(t, r.stdout)
		row := proofFind(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"))
		if row.result != "FAIL" || !strings.Contains(row.detail, "the token from "+how.origin+" expired at ") ||
			!strings.Contains(row.detail, "ago); obtain a fresh one") {
			t.Errorf("expired token (%s): %s %q", how.spec, row.result, row.detail)
		}
		proofNoTokenText(t, "output with the expired token", r.stdout+r.stderr, expired)
	}

	// A valid token of billing-caller, who may call orders-api too, handed
	// over as orders-caller's: it would prove billing-caller's grant.
	billing := proofMint(t, p.opts(), proofEmail("billing-caller"), uri)
	r = p.mustRun(t, ExitInvokeFailed, []string{"ORDERS_ID_TOKEN=" + billing}, "invoke", "-f", file, "--credentials", "orders-caller=token-env:ORDERS_ID_TOKEN")
	rows, _ = proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "FAIL",
		"is for "+proofEmail("billing-caller")+", not for the caller "+proofEmail("orders-caller"))
}

// Each of the four token sources makes a real call through the binary,
// against `emulator serve` as a user runs it: impersonation (the default),
// a service-account key, the metadata server, and a token from a file or
// an environment variable. Each caller holds a grant on its own service
// only, so each pass proves the token was its caller's.
func TestProofTokenSources(t *testing.T) {
	needE2E(t)
	t.Parallel()
	dir := t.TempDir()
	names := []string{"imp", "key", "meta", "file", "env"}
	var seed, decl strings.Builder
	seed.WriteString(seedHead + "serviceAccounts:\n")
	decl.WriteString("serviceAccounts:\n")
	for _, n := range names {
		seed.WriteString("  - accountId: " + n + "-caller\n")
		decl.WriteString("  - name: " + n + "-caller\n")
	}
	seed.WriteString("services:\n")
	decl.WriteString("grants:\n")
	for _, n := range names {
		seed.WriteString("  - name: " + n + "-api\n    policy:\n      - role: roles/run.invoker\n        members: [" + sa(n+"-caller") + "]\n")
		decl.WriteString("  - service: " + n + "-api\n    members: [" + n + "-caller]\n")
	}
	seedFile := proofWrite(t, dir, "seed.yaml", seed.String())
	file := writeDecl(t, decl.String())
	exports := proofServe(t, "--seed", seedFile, "--metadata-account", proofEmail("meta-caller"))
	opts := clientOpts(exports["INVOKERCTL_EMULATOR_URL"], exports["INVOKERCTL_EMULATOR_TOKEN"])

	keyFile, _ := proofKey(t, opts, t.TempDir(), proofEmail("key-caller"))
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	fileTok := proofMint(t, opts, proofEmail("file-caller"), proofServiceURI(t, opts, "file-api"))
	tokFile := proofWrite(t, t.TempDir(), "id-token", fileTok)
	envTok := proofMint(t, opts, proofEmail("env-caller"), proofServiceURI(t, opts, "env-api"))
	args := []string{"invoke", "-f", file, "--format", "json",
		"--credentials", "key-caller=key:" + keyFile,
		"--credentials", "meta-caller=metadata",
		"--credentials", "file-caller=token-file:" + tokFile,
		"--credentials", "env-caller=token-env:ENV_CALLER_TOKEN"}
	want := map[string]string{
		"imp":  "impersonation of " + proofEmail("imp-caller"),
		"key":  "service-account key " + keyFile + " (" + proofEmail("key-caller") + ")",
		"meta": "metadata server " + exports["GCE_METADATA_HOST"] + " (attached service account)",
		"file": "token file " + tokFile,
		"env":  "environment variable ENV_CALLER_TOKEN",
	}
	check := func(t *testing.T, r cliResult) {
		t.Helper()
		wantExit(t, r, 0, "invoke")
		d := reportJSON(t, r)
		seen := map[string]bool{}
		for _, inv := range d.Invoke {
			if inv.Check != "invoke" {
				continue
			}
			n := strings.TrimSuffix(strings.TrimPrefix(inv.Caller, "serviceAccount:"), "-caller@demo-project.iam.gserviceaccount.com")
			seen[n] = true
			if inv.Outcome != "pass" || inv.Got != 200 || inv.TokenSource != want[n] || !strings.HasPrefix(inv.Target, "service "+n+"-api ") {
				t.Errorf("%s: %+v; want a pass with token source %q", n, inv, want[n])
			}
		}
		if len(seen) != len(names) {
			t.Errorf("callers invoked: %v", seen)
		}
		proofNoTokenText(t, "invoke output", r.stdout+r.stderr, fileTok, envTok)
	}
	r := proofRunServed(t, exports, []string{"ENV_CALLER_TOKEN=" + envTok}, args...)
	check(t, r)

	// The exports point the metadata source at the emulator; without
	// GCE_METADATA_HOST, the emulator targeted still serves it.
	r = proofRunServed(t, exports, []string{"ENV_CALLER_TOKEN=" + envTok, "GCE_METADATA_HOST="}, args...)
	check(t, r)
}

// A function is verified and called through the Cloud Run service that
// backs it; an event-driven function is skipped with the reason.
func TestProofFunctions(t *testing.T) {
	p, file := startProofCase(t, `serviceAccounts:
  - accountId: fn-caller
  - accountId: upload-trigger
functions:
  - name: resize-image
    runtime: go125
    entryPoint: Resize
    service: resize-backend
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:fn-caller@demo-project.iam.gserviceaccount.com]
  - name: on-upload
    runtime: go125
    entryPoint: OnUpload
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:fn-caller@demo-project.iam.gserviceaccount.com]
    eventTrigger:
      eventType: google.cloud.storage.object.v1.finalized
      serviceAccountEmail: upload-trigger@demo-project.iam.gserviceaccount.com
`, `serviceAccounts:
  - name: fn-caller
grants:
  - function: resize-image
    members: [fn-caller]
    invoke:
      method: POST
      body: '{"width": 64}'
  - function: on-upload
    members: [fn-caller]
`)
	backend := proofServiceURI(t, p.opts(), "resize-backend")
	r := p.mustRun(t, 0, nil, "verify", "-f", file, "--format", "json")
	d := reportJSON(t, r)
	if v := d.Verify[0]; v.Service != "projects/demo-project/locations/us-central1/services/resize-backend" || v.URI != backend ||
		v.Function == nil || !strings.HasSuffix(v.Function.Name, "/functions/resize-image") || v.Function.EventDriven || v.Members[0].Status != "present-direct" {
		t.Errorf("resize-image: %+v", v)
	}
	if v := d.Verify[1]; v.Function == nil || !v.Function.EventDriven || v.Function.EventType != "google.cloud.storage.object.v1.finalized" {
		t.Errorf("on-upload: %+v", v)
	}

	ok := p.Calls()["run.dataplane.invoke.ok"]
	r = p.mustRun(t, 0, nil, "invoke", "-f", file)
	rows, summary := proofTable(t, r.stdout)
	proofWant(t, rows, "invoke", "function resize-image", "invoke as "+sa("fn-caller"), "PASS", "POST / → 200")
	proofWant(t, rows, "invoke", "function resize-image", "refuses unauthenticated", "PASS", "→ 403")
	reason := "event-driven function: only its event source (trigger) can invoke it, so no test call is made"
	proofWant(t, rows, "invoke", "function on-upload", "invoke as "+sa("fn-caller"), "SKIP", reason)
	proofWant(t, rows, "invoke", "function on-upload", "refuses unauthenticated", "SKIP", reason)
	if got := proofTally(rows); got != "2 PASS, 2 SKIP" || !strings.Contains(summary, "2 passed") {
		t.Errorf("results: %s; summary %q", got, summary)
	}
	if n := p.Calls()["run.dataplane.invoke.ok"] - ok; n != 1 {
		t.Errorf("%d successful calls, want 1: resize-image only", n)
	}
	d = reportJSON(t, p.run(t, nil, "invoke", "-f", file, "--format", "json"))
	if inv := d.Invoke[0]; inv.URL != backend || inv.Audience != backend {
		t.Errorf("resize-image was not called at its backing service %s: %+v", backend, inv)
	}
}

type proofJUnit struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Tests int    `xml:"tests,attr"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			Classname string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func proofParseJUnit(t *testing.T, r cliResult) proofJUnit {
	t.Helper()
	var j proofJUnit
	if !strings.HasPrefix(r.stdout, "<?xml") {
		t.Fatalf("--format junit: not an XML document:\n%s\n%s", r.stdout, r.stderr)
	}
	dec := xml.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("--format junit: %v\n%s", err, r.stdout)
	}
	// Nothing but white space after the document.
	if tok, err := dec.Token(); err != io.EOF {
		if cd, ok := tok.(xml.CharData); !ok || strings.TrimSpace(string(cd)) != "" {
			t.Fatalf("--format junit: trailing content %v %v", tok, err)
		}
	}
	return j
}

// --format junit is one well-formed XML document with one test case per
// declared grant member, exposure and invocation check; --format json
// parses.
func TestProofReportFormats(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	p := startProofEmu(t, proofQuickstartSeed(t), nil)
	_, file := quickstartCopy(t)
	r := p.mustRun(t, 0, nil, "run", "-f", file, "--auto-approve", "--format", "junit")
	j := proofParseJUnit(t, r)
	got := map[string][]string{}
	for _, s := range j.Suites {
		if s.Tests != len(s.Cases) {
			t.Errorf("suite %s: tests=%d for %d cases", s.Name, s.Tests, len(s.Cases))
		}
		for _, c := range s.Cases {
			got[s.Name] = append(got[s.Name], c.Classname+": "+c.Name)
			if c.Failure != nil {
				t.Errorf("failure in %s %s: %s", c.Classname, c.Name, c.Failure.Message)
			}
		}
	}
	orders, billing := "service orders-api (demo-project/us-central1)", "service billing-api (demo-project/us-central1)"
	resize, upload := "function resize-image (demo-project/us-central1)", "function on-upload (demo-project/us-central1)"
	want := map[string][]string{
		"verify": {
			orders + ": grant " + sa("orders-caller"), orders + ": exposure",
			billing + ": grant " + sa("orders-caller"), billing + ": grant " + sa("billing-caller"), billing + ": exposure",
			resize + ": grant " + sa("orders-caller"), resize + ": exposure",
			upload + ": grant " + sa("billing-caller"), upload + ": exposure",
		},
		"invoke": {
			orders + ": invoke as " + sa("orders-caller"), orders + ": refuses " + sa("audit-bot"), orders + ": refuses unauthenticated",
			billing + ": invoke as " + sa("billing-caller"), billing + ": refuses unauthenticated",
			resize + ": invoke as " + sa("orders-caller"), resize + ": refuses unauthenticated",
			upload + ": invoke as " + sa("billing-caller"), upload + ": refuses unauthenticated",
		},
	}
	for suite, cases := range want {
		if !eq(got[suite], cases) {
			t.Errorf("suite %s cases:\n%s\nwant:\n%s", suite, strings.Join(got[suite], "\n"), strings.Join(cases, "\n"))
		}
	}
	if len(got) != 2 || j.Tests != 18 || j.Failures != 0 || j.Skipped != 2 {
		t.Errorf("testsuites: tests=%d failures=%d skipped=%d suites=%v", j.Tests, j.Failures, j.Skipped, len(got))
	}

	// JSON of verify and invoke on the provisioned state.
	d := reportJSON(t, p.run(t, nil, "verify", "-f", file, "--format", "json"))
	if !d.OK || d.Target != "emulator" || len(d.Verify) != 4 || len(d.Invoke) != 0 || len(d.Cases) != 9 {
		t.Errorf("verify --format json: ok=%v target=%q verify=%d invoke=%d cases=%d", d.OK, d.Target, len(d.Verify), len(d.Invoke), len(d.Cases))
	}
	d = reportJSON(t, p.run(t, nil, "invoke", "-f", file, "--format", "json"))
	if !d.OK || len(d.Verify) != 0 || len(d.Invoke) != 9 || len(d.Cases) != 9 {
		t.Errorf("invoke --format json: ok=%v verify=%d invoke=%d cases=%d", d.OK, len(d.Verify), len(d.Invoke), len(d.Cases))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(p.run(t, nil, "verify", "-f", file, "--format", "json").stdout), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"file", "project", "target", "ok", "verify", "cases", "counts"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("verify --format json lacks %q", k)
		}
	}
	var counts report.Counts
	if err := json.Unmarshal(raw["counts"], &counts); err != nil || counts != (report.Counts{Pass: 9}) {
		t.Errorf("counts: %s %v", raw["counts"], err)
	}

	// A failing grant is a <failure> naming the member and the service.
	editFile(t, file, "members: [orders-caller]\n    invoke:\n      path: /healthz", "members: [orders-caller, billing-caller]\n    invoke:\n      path: /healthz")
	r = p.mustRun(t, ExitVerifyFailed, nil, "verify", "-f", file, "--format", "junit")
	j = proofParseJUnit(t, r)
	if j.Failures != 1 || j.Tests != 10 {
		t.Errorf("failing verify: tests=%d failures=%d", j.Tests, j.Failures)
	}
	for _, c := range j.Suites[0].Cases {
		if c.Failure != nil && (c.Classname != orders || c.Name != "grant "+sa("billing-caller") ||
			!strings.Contains(c.Failure.Message, sa("billing-caller")+" cannot invoke projects/demo-project/locations/us-central1/services/orders-api")) {
			t.Errorf("failure: %s %s %q", c.Classname, c.Name, c.Failure.Message)
		}
	}
}

// No token text anywhere: not in what any command prints (in any format,
// passing or failing, with every token source), not in the files of the
// declaration's directory (the working directory, the Terraform state,
// the plan), and not in the emulator token.
func TestProofNoTokenText(t *testing.T) {
	needTerraformE2E(t)
	t.Parallel()
	p := startProofEmu(t, proofQuickstartSeed(t), func(o *emulator.Options) {
		o.MetadataServiceAccount = proofEmail("billing-caller")
	})
	dir, file := quickstartCopy(t)
	var outputs []string
	do := func(env []string, code int, args ...string) {
		t.Helper()
		r := p.mustRun(t, code, env, args...)
		outputs = append(outputs, r.stdout, r.stderr)
	}
	do(nil, 0, "run", "-f", file, "--auto-approve", "--format", "json")
	uri := proofServiceURI(t, p.opts(), "orders-api")
	secrets := t.TempDir() // outside the declaration's directory
	keyFile, _ := proofKey(t, p.opts(), secrets, proofEmail("orders-caller"))
	wrong := proofWrite(t, secrets, "wrong", proofMint(t, p.opts(), proofEmail("orders-caller"), "https://elsewhere.example.com"))
	audit := proofMint(t, p.opts(), proofEmail("audit-bot"), uri)
	// Passing, with a key, the metadata server and an environment variable.
	do([]string{"AUDIT_TOKEN=" + audit, "GCE_METADATA_HOST=" + p.Host}, 0, "invoke", "-f", file,
		"--credentials", "orders-caller=key:"+keyFile, "--credentials", "billing-caller=metadata", "--credentials", "audit-bot=token-env:AUDIT_TOKEN")
	// Failing, in every format, with a token for another audience.
	for _, format := range []string{"table", "json", "junit"} {
		do(nil, ExitInvokeFailed, "invoke", "-f", file, "--format", format, "--credentials", "orders-caller=token-file:"+wrong)
	}
	do(nil, 0, "verify", "-f", file, "--format", "junit")
	do(nil, 0, "run", "-f", file, "--auto-approve")

	tokens := p.Tokens()
	if n := p.jwtsSeen(); n < 8 {
		t.Fatalf("only %d JWTs crossed the emulator's API: the recorder is not seeing the minting", n)
	}
	for _, o := range outputs {
		proofNoTokenText(t, "command output", o, tokens...)
	}
	if files := proofNoTokenFiles(t, dir, tokens...); files < 5 {
		t.Errorf("looked at only %d files", files)
	}
	states, _ := filepath.Glob(filepath.Join(dir, ".invokerctl", "*", "terraform.tfstate"))
	if len(states) != 1 {
		t.Errorf("states %v", states)
	}
}

// proofNoTokenFiles checks every file under dir but executables (the
// offline provider, invokerctl itself, whose code names token formats) and
// returns how many it read.
func proofNoTokenFiles(t *testing.T, dir string, tokens ...string) int {
	t.Helper()
	var files int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if fi, err := d.Info(); err != nil || fi.Mode().Perm()&0o111 != 0 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		proofNoTokenText(t, path, string(b), tokens...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
