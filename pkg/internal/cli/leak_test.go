package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// The leak test: every command, in every output format, passing and
// failing, runs with known secrets in play — the emulator's owner token,
// every access token and ID token it minted, a key file's private key,
// signed JWT assertions — and none of them may appear in standard output,
// standard error, Terraform's log, or any file under the declaration's
// directory (the Terraform working directory is in it, and so is the
// $GITHUB_STEP_SUMMARY file every row appends to). The one exception
// is the owner token in `emulator serve`'s export lines and --env-file,
// where the user asked for it.
//
// Everything runs in-process (Terraform is a process anyway), against an
// emulator behind the recording front, which sees every token minted.
func TestNoSecretLeaks(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	p := startProofEmu(t, proofQuickstartSeed(t), func(o *emulator.Options) {
		o.MetadataServiceAccount = proofEmail("billing-caller")
	})
	dir, file := quickstartCopy(t)
	work := filepath.Join(dir, "work")
	// Declarations that fail: a grant on a service that does not exist
	// (refused before Terraform changes anything), and a grant verify finds
	// missing.
	gone := proofWrite(t, dir, "gone.yaml", strings.Replace(readFile(t, file), "service: orders-api", "service: gone-api", 1))
	missing := proofWrite(t, dir, "missing.yaml", strings.Replace(readFile(t, file), "members: [orders-caller]\n    invoke:\n      path: /healthz",
		"members: [orders-caller, billing-caller]\n    invoke:\n      path: /healthz", 1))
	invalid := proofWrite(t, dir, "invalid.yaml", strings.Replace(readFile(t, file), "members: [orders-caller]", "members: [nobody-declared]", 1))
	// The user's own secret files live elsewhere: they are inputs.
	secrets := t.TempDir()
	var keyFile, wrongAudience string
	var keySecrets []string
	ensureCredentials := func() {
		if keyFile != "" {
			return
		}
		var key []byte
		keyFile, key = proofKey(t, p.opts(), secrets, proofEmail("orders-caller"))
		keySecrets = privateKeyParts(string(key))
		wrongAudience = proofWrite(t, secrets, "wrong", proofMint(t, p.opts(), proofEmail("orders-caller"), "https://elsewhere.example.com"))
	}
	withKey := func(args ...string) func() ([]string, []string) {
		return func() ([]string, []string) {
			ensureCredentials()
			uri := proofServiceURI(t, p.opts(), "orders-api")
			// (token-env reads the process environment, which a parallel
			// test cannot set: the token goes through a file instead.)
			audit := proofWrite(t, secrets, "audit-"+strings.ReplaceAll(strings.Join(args, "-"), "/", "_"), proofMint(t, p.opts(), proofEmail("audit-bot"), uri))
			return append(args, "--credentials", "orders-caller=key:"+keyFile, "--credentials", "billing-caller=metadata",
					"--credentials", "audit-bot=token-file:"+audit),
				[]string{"GCE_METADATA_HOST=" + p.Host}
		}
	}
	withWrongToken := func(args ...string) func() ([]string, []string) {
		return func() ([]string, []string) {
			ensureCredentials()
			return append(args, "--credentials", "orders-caller=token-file:"+wrongAudience), nil
		}
	}
	plain := func(args ...string) func() ([]string, []string) {
		return func() ([]string, []string) { return args, nil }
	}
	wrongToken := func(f func() ([]string, []string)) func() ([]string, []string) {
		return func() ([]string, []string) {
			args, env := f()
			return args, append(env, target.TokenEnv+"=not-the-owner-token")
		}
	}
	tf := []string{"--workdir", work}
	stepSummary := filepath.Join(dir, "step-summary.md")
	goneTF := []string{"--workdir", filepath.Join(dir, "gone-work")}

	// In order: each row's command runs on the state the rows before left.
	rows := []struct {
		name string
		args func() (args, env []string)
		code int
	}{
		{"plan", plain(append([]string{"plan", "-f", file}, tf...)...), cmdutil.ExitChanges},
		{"plan --json", plain(append([]string{"plan", "-f", file, "--json"}, tf...)...), cmdutil.ExitChanges},
		{"apply --json", plain(append([]string{"apply", "-f", file, "--json", "--auto-approve"}, tf...)...), 0},
		{"apply", plain(append([]string{"apply", "-f", file, "--auto-approve"}, tf...)...), 0},
		{"verify --format table", plain("verify", "-f", file), 0},
		{"verify --format json", plain("verify", "-f", file, "--format", "json"), 0},
		{"verify --format junit", plain("verify", "-f", file, "--format", "junit"), 0},
		{"verify --format markdown", plain("verify", "-f", file, "--format", "markdown"), 0},
		{"invoke --format table", plain("invoke", "-f", file), 0},
		{"invoke --format json", plain("invoke", "-f", file, "--format", "json"), 0},
		{"invoke --format junit", plain("invoke", "-f", file, "--format", "junit"), 0},
		{"invoke --format markdown, key file, metadata and token file", withKey("invoke", "-f", file, "--format", "markdown"), 0},
		{"invoke, key file, metadata and token file", withKey("invoke", "-f", file, "--format", "json"), 0},
		{"run --format table", plain(append([]string{"run", "-f", file, "--auto-approve"}, tf...)...), 0},
		{"run --format json", plain(append([]string{"run", "-f", file, "--auto-approve", "--format", "json"}, tf...)...), 0},
		{"run --format junit, key file", withKey(append([]string{"run", "-f", file, "--auto-approve", "--format", "junit"}, tf...)...), 0},
		{"run --format markdown", plain(append([]string{"run", "-f", file, "--auto-approve", "--format", "markdown"}, tf...)...), 0},
		{"audit --format table", plain("audit", "--project", "demo-project", "-f", file), 0},
		{"audit --format json", plain("audit", "--project", "demo-project", "-f", file, "--format", "json"), 0},
		{"audit --format csv", plain("audit", "--project", "demo-project", "--format", "csv"), 0},
		{"audit --format sarif", plain("audit", "--project", "demo-project", "-f", file, "--format", "sarif"), 0},
		{"audit --format dot", plain("audit", "--project", "demo-project", "--format", "dot"), 0},
		{"audit --format markdown", plain("audit", "--project", "demo-project", "--format", "markdown"), 0},
		{"audit --format html", plain("audit", "--project", "demo-project", "-f", file, "--format", "html"), 0},
		// Errors of each.
		{"audit error (the API refuses the token)", wrongToken(plain("audit", "--project", "demo-project", "--format", "json")), cmdutil.ExitError},
		{"verify error --format table", plain("verify", "-f", missing), cmdutil.ExitVerifyFailed},
		{"verify error --format json", plain("verify", "-f", gone, "--format", "json"), cmdutil.ExitError},
		{"verify error --format junit", plain("verify", "-f", missing, "--format", "junit"), cmdutil.ExitVerifyFailed},
		{"verify error --format markdown", plain("verify", "-f", gone, "--format", "markdown"), cmdutil.ExitError},
		{"invoke error --format table", withWrongToken("invoke", "-f", file), cmdutil.ExitInvokeFailed},
		{"invoke error --format json", withWrongToken("invoke", "-f", file, "--format", "json"), cmdutil.ExitInvokeFailed},
		{"invoke error --format junit", withWrongToken("invoke", "-f", file, "--format", "junit"), cmdutil.ExitInvokeFailed},
		{"invoke error --format markdown", withWrongToken("invoke", "-f", file, "--format", "markdown"), cmdutil.ExitInvokeFailed},
		{"run error --format table", withWrongToken(append([]string{"run", "-f", file, "--auto-approve"}, tf...)...), cmdutil.ExitInvokeFailed},
		{"run error --format junit", withWrongToken(append([]string{"run", "-f", file, "--auto-approve", "--format", "junit"}, tf...)...), cmdutil.ExitInvokeFailed},
		{"run error --format markdown", withWrongToken(append([]string{"run", "-f", file, "--auto-approve", "--format", "markdown"}, tf...)...), cmdutil.ExitInvokeFailed},
		{"destroy error (the API refuses the token)", wrongToken(plain(append([]string{"destroy", "-f", file, "--json", "--auto-approve"}, tf...)...)), cmdutil.ExitError},
		{"destroy --json", plain(append([]string{"destroy", "-f", file, "--json", "--auto-approve"}, tf...)...), 0},
		{"destroy", plain(append([]string{"destroy", "-f", file, "--auto-approve"}, tf...)...), 0},
		// Errors of the provisioning verbs, on a declaration of its own
		// (the same accounts): after the one above is destroyed.
		{"plan error (invalid declaration)", plain(append([]string{"plan", "-f", invalid, "--json"}, goneTF...)...), cmdutil.ExitError},
		{"plan of a grant on a service that does not exist", plain(append([]string{"plan", "-f", gone}, goneTF...)...), cmdutil.ExitError},
		{"apply error", plain(append([]string{"apply", "-f", gone, "--auto-approve"}, goneTF...)...), cmdutil.ExitError},
		{"run error --format json", plain(append([]string{"run", "-f", gone, "--auto-approve", "--format", "json"}, goneTF...)...), cmdutil.ExitError},
		{"destroy of a declaration whose service does not exist", plain(append([]string{"destroy", "-f", gone, "--auto-approve"}, goneTF...)...), 0},
	}
	var outputs []string
	for _, row := range rows {
		args, env := row.args()
		// TF_LOG is set to show it is not obeyed: invokerctl removes
		// terraform-exec's variables from Terraform's environment, so no
		// Terraform log file (with its provider's requests) is written.
		env = append(p.env(env...), "TF_LOG=TRACE", "TF_LOG_PATH="+filepath.Join(dir, "terraform.log"), cmdutil.StepSummaryEnv+"="+stepSummary)
		r := p.runWith(t, inProcess{Env: env, Terraform: true}, args...)
		if r.Code != row.code {
			t.Fatalf("%s: exit %d, want %d\n%s\n%s", row.name, r.Code, row.code, r.Stdout, r.Stderr)
		}
		outputs = append(outputs, r.Stdout, r.Stderr)
	}
	if n := p.jwtsSeen(); n < 8 {
		t.Fatalf("only %d JWTs crossed the emulator's API: the recorder is not seeing the minting", n)
	}
	if len(keySecrets) == 0 {
		t.Fatal("no private key lines to look for")
	}
	secretsInPlay := append(p.Tokens(), keySecrets...)
	for i, o := range outputs {
		proofNoTokenText(t, rows[i/2].name+[]string{" stdout", " stderr"}[i%2], o, secretsInPlay...)
	}
	if files := proofNoTokenFiles(t, dir, secretsInPlay...); files < 10 {
		t.Errorf("looked at only %d files", files)
	}
	for _, verb := range []string{"verify", "invoke", "run"} {
		if heading := "### invokerctl " + verb + ": "; !strings.Contains(readFile(t, stepSummary), heading) {
			t.Errorf("no %q in the step summary: the scan above did not cover %s's", heading, verb)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "terraform.log")); !os.IsNotExist(err) {
		t.Errorf("a Terraform log was written (it is scanned above): %v", err)
	}

	t.Run("demo", func(t *testing.T) {
		for _, format := range []string{"table", "json", "junit"} {
			demoDir := t.TempDir()
			var started []*emulator.Emulator
			start := func(o emulator.Options) (*emulator.Emulator, error) {
				emu, err := emulator.New(o)
				if err == nil {
					started = append(started, emu)
				}
				return emu, err
			}
			r := runInProcess(t, inProcess{Terraform: true, StartEmulator: start},
				"demo", "--format", format, "--dir", demoDir, "--propagation-delay", "0s")
			wantExit(t, r, 0, "demo --format "+format)
			if len(started) != 1 {
				t.Fatalf("demo started %d emulators", len(started))
			}
			// The demo's emulator is not behind the recorder: its owner
			// token is known, and every JWT or access token has a shape.
			owner := started[0].BootstrapToken()
			proofNoTokenText(t, "demo stdout", r.Stdout, owner)
			proofNoTokenText(t, "demo stderr", r.Stderr, owner)
			proofNoTokenFiles(t, demoDir, owner)
		}
	})

	t.Run("emulator serve", func(t *testing.T) {
		for _, envFile := range []bool{false, true} {
			serveLeakCase(t, envFile)
		}
	})
}

// serveLeakCase serves the emulator in-process with --verbose (a log line
// per request), mints an ID token through it and calls a service with it,
// then stops it: the owner token is only in the export lines (stdout, or
// the 0600 env file), the minted token nowhere.
func serveLeakCase(t *testing.T, withEnvFile bool) {
	t.Helper()
	dir := t.TempDir()
	envFile := filepath.Join(dir, "emulator.env")
	seed := proofWrite(t, dir, "seed.yaml", seedHead+"serviceAccounts:\n  - accountId: caller\nservices:\n  - name: billing-api\n")
	args := []string{"--addr", "127.0.0.1:0", "--verbose", "--seed", seed, "--state", filepath.Join(dir, "state.json")}
	if withEnvFile {
		args = append(args, "--env-file", envFile)
	}
	s := serveInProcess(t, args...)
	out, errOut := s.Out, s.ErrOut
	exportsAt := out.String
	if withEnvFile {
		exportsAt = func() string { b, _ := os.ReadFile(envFile); return string(b) }
	}
	s.waitFor(t, "exports", func() bool { return strings.Contains(exportsAt(), "GOOGLE_OAUTH_ACCESS_TOKEN") })
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(exportsAt()), "\n") {
		k, v := parseExport(t, line)
		exports[k] = v
	}
	owner, url := exports["INVOKERCTL_EMULATOR_TOKEN"], exports["INVOKERCTL_EMULATOR_URL"]
	opts := testutil.ClientOptions(url, owner)
	uri := proofServiceURI(t, opts, "billing-api")
	minted := proofMint(t, opts, proofEmail("caller"), uri)
	proofCall(t, uri, minted)
	req, _ := http.NewRequest(http.MethodGet, url+"/v1/projects/demo-project", nil)
	req.Header.Set("Authorization", "Bearer "+owner)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	s.stop(t)
	if !strings.Contains(errOut.String(), "GET") {
		t.Errorf("--verbose logged no request, nothing was scanned:\n%s", errOut)
	}
	proofNoTokenText(t, "emulator serve's log", errOut.String(), owner, minted)
	if withEnvFile {
		proofNoTokenText(t, "emulator serve's stdout with --env-file", out.String(), owner, minted)
	} else {
		proofNoTokenText(t, "emulator serve's stdout", strings.ReplaceAll(out.String(), owner, ""), minted)
	}
	proofNoTokenFiles(t, dir, owner, minted)
}

// privateKeyParts are the lines of a key file's PEM private key long
// enough to recognise, as they would appear if printed.
func privateKeyParts(keyJSON string) []string {
	var parts []string
	for _, line := range strings.Split(strings.ReplaceAll(keyJSON, `\n`, "\n"), "\n") {
		if len(line) >= 40 && !strings.ContainsAny(line, `"{} `) {
			parts = append(parts, line)
		}
	}
	return parts
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
