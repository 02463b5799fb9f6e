package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	functions "google.golang.org/api/cloudfunctions/v2"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

func TestShellQuoteSurvivesTheShell(t *testing.T) {
	for _, v := range []string{"plain", "with space", "it's", `a"b$c\d`, "", "''"} {
		out, err := exec.Command("sh", "-c", "export X="+shellQuote(v)+`; printf %s "$X"`).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != v {
			t.Errorf("shellQuote(%q) → shell gave %q", v, out)
		}
		if _, got := parseExport(t, "export X="+shellQuote(v)); got != v {
			t.Errorf("parseExport round trip of %q = %q", v, got)
		}
	}
}

func TestEmulatorServeFlagsAndAddresses(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--error-rate", "1.5"}, "--error-rate"},
		{[]string{"--error-code", "500"}, "--error-code"},
		{[]string{"--quota", "-1"}, "--quota"},
		{[]string{"--addr", "nope"}, "--addr"},
		{[]string{"--latency", "-1s"}, "--latency"},
	} {
		r := runInProcess(t, inProcess{}, append([]string{"emulator", "serve"}, c.args...)...)
		if r.Code != cmdutil.ExitUsage || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q", c.args, r.Code, r.Stderr)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:0": true, "[::1]:80": true, "localhost:1": true, "0.0.0.0:0": false, "10.1.2.3:8080": false, ":8080": false} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("isLoopbackAddr(%q) = %v", addr, got)
		}
	}
}

func TestEmulatorServeBadSeedStartsNothing(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("projects: [{id: demo-project}]\nservices:\n  - {project: demo-project, location: us-central1, name: ok-svc}\n  - {project: demo-project, location: us-central1, name: Not_OK}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A non-loopback address warns (and nothing binds, since the seed fails first).
	r := runInProcess(t, inProcess{}, "emulator", "serve", "--addr", "0.0.0.0:0", "--seed", bad)
	if r.Code != cmdutil.ExitError {
		t.Errorf("exit = %d, want %d", r.Code, cmdutil.ExitError)
	}
	if r.Stdout != "" {
		t.Errorf("printed exports despite a bad seed: %s", r.Stdout)
	}
	for _, w := range []string{"warning: --addr 0.0.0.0:0 is not a loopback address", bad, "services[1] (Not_OK)"} {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
		}
	}
}

func TestEmulatorServeInProcessUntilCancelled(t *testing.T) {
	s := serveInProcess(t, "--addr", "127.0.0.1:0", "--project", "other-project", "--token", "fixed-token")
	out, errOut := s.Out, s.ErrOut
	s.waitFor(t, "exports", func() bool { return strings.Contains(out.String(), "GOOGLE_PROJECT") })
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v := parseExport(t, line)
		env[k] = v
	}
	if env["INVOKERCTL_EMULATOR_TOKEN"] != "fixed-token" || env["GOOGLE_PROJECT"] != "other-project" || env["CLOUDSDK_CORE_PROJECT"] != "other-project" {
		t.Errorf("env = %v", env)
	}
	req, _ := http.NewRequest(http.MethodGet, env["INVOKERCTL_EMULATOR_URL"]+"/v1/projects/other-project", nil)
	req.Header.Set("Authorization", "Bearer fixed-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("project get: %d", resp.StatusCode)
	}
	s.stop(t)
	if !strings.Contains(errOut.String(), "stopped") {
		t.Errorf("stderr: %s", errOut)
	}
}

// TestEmulatorServeProcess runs the built binary as a user does: start it,
// evaluate its exports, use every endpoint family with real clients (and
// gcloud when installed), then SIGTERM it.
func TestEmulatorServeProcess(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state.json")
	served := startServe(t, "--seed", emuExampleSeed(), "--state", state)
	env, stderr := served.exports, served.stderr
	for _, k := range emuExportNames {
		if env[k] == "" {
			t.Errorf("missing export %s", k)
		}
	}
	base := env["INVOKERCTL_EMULATOR_URL"]
	token := env["INVOKERCTL_EMULATOR_TOKEN"]
	for k, want := range map[string]string{
		"GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT":    base + "/v2/",
		"GOOGLE_IAM_BETA_CUSTOM_ENDPOINT":        base + "/v1/",
		"GOOGLE_CLOUDFUNCTIONS2_CUSTOM_ENDPOINT": base + "/v2/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN":    base + "/",
		"GCE_METADATA_HOST":                      strings.TrimPrefix(base, "http://"),
		"CLOUDSDK_CORE_PROJECT":                  "demo-project",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	ctx := context.Background()
	static := option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	// Go clients take the root URL; the provider-style values end in the version.
	root := func(v string) option.ClientOption {
		return option.WithEndpoint(strings.TrimSuffix(strings.TrimSuffix(v, "v1/"), "v2/"))
	}

	t.Run("run", func(t *testing.T) {
		rs, err := run.NewService(ctx, root(env["GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT"]), static)
		if err != nil {
			t.Fatal(err)
		}
		list, err := rs.Projects.Locations.Services.List("projects/demo-project/locations/us-central1").Do()
		if err != nil || len(list.Services) != 4 {
			t.Fatalf("services: %v %v", list, err)
		}
	})
	t.Run("functions", func(t *testing.T) {
		fs, err := functions.NewService(ctx, root(env["GOOGLE_CLOUDFUNCTIONS2_CUSTOM_ENDPOINT"]), static)
		if err != nil {
			t.Fatal(err)
		}
		list, err := fs.Projects.Locations.Functions.List("projects/demo-project/locations/-").Do()
		if err != nil || len(list.Functions) != 2 {
			t.Fatalf("functions: %v %v", list, err)
		}
	})
	t.Run("iam key, idtoken and the data plane", func(t *testing.T) {
		is, err := iam.NewService(ctx, root(env["GOOGLE_IAM_BETA_CUSTOM_ENDPOINT"]), static)
		if err != nil {
			t.Fatal(err)
		}
		k, err := is.Projects.ServiceAccounts.Keys.Create("projects/-/serviceAccounts/frontend@demo-project.iam.gserviceaccount.com", &iam.CreateServiceAccountKeyRequest{}).Do()
		if err != nil {
			t.Fatal(err)
		}
		key, _ := base64.StdEncoding.DecodeString(k.PrivateKeyData)
		rs, _ := run.NewService(ctx, root(env["GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT"]), static)
		svc, err := rs.Projects.Locations.Services.Get("projects/demo-project/locations/us-central1/services/orders-api").Do()
		if err != nil {
			t.Fatal(err)
		}
		client, err := idtoken.NewClient(ctx, svc.Uri, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(svc.Uri + "/orders")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"caller": "serviceAccount:frontend@demo-project.iam.gserviceaccount.com"`) {
			t.Errorf("orders-api: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+env["GCE_METADATA_HOST"]+"/computeMetadata/v1/project/project-id", nil)
		req.Header.Set("Metadata-Flavor", "Google")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "demo-project" {
			t.Errorf("metadata project-id: %d %q", resp.StatusCode, b)
		}
	})
	t.Run("gcloud", func(t *testing.T) { emuGcloud(t, env) })

	exited, err := served.stop(20 * time.Second)
	if !exited {
		t.Fatalf("no exit after SIGTERM; stderr: %s", stderr)
	}
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr: %s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "invokerctl emulator: stopped") {
		t.Errorf("stderr: %s", stderr)
	}
	if strings.Contains(stderr.String(), token) {
		t.Errorf("the bootstrap token was logged")
	}
	// The state was saved: the seeded service and the key created above.
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	var st struct {
		Services        map[string]json.RawMessage `json:"services"`
		ServiceAccounts map[string]struct {
			Keys map[string]json.RawMessage `json:"keys"`
		} `json:"serviceAccounts"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Services["projects/demo-project/locations/us-central1/services/orders-api"] == nil ||
		len(st.ServiceAccounts["frontend@demo-project.iam.gserviceaccount.com"].Keys) == 0 {
		t.Errorf("state file lacks the seeded service or the created key")
	}
}

// emuGcloud runs gcloud 528 against the served emulator (skipped without gcloud).
func emuGcloud(t *testing.T, env map[string]string) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not on PATH: skipping the gcloud checks")
	}
	cfg := t.TempDir()
	// The token file the emulator exported: private, and holding its token.
	tokFile := env["CLOUDSDK_AUTH_ACCESS_TOKEN_FILE"]
	fi, err := os.Stat(tokFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("exported token file %s: %v (mode %v), want 0600", tokFile, err, fi)
	}
	if b, _ := os.ReadFile(tokFile); string(b) != env["INVOKERCTL_EMULATOR_TOKEN"] {
		t.Fatalf("exported token file does not hold the bootstrap token")
	}
	var base []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CLOUDSDK_") || strings.HasPrefix(k, "GOOGLE_") || k == "GCE_METADATA_HOST" || strings.HasSuffix(strings.ToLower(k), "_proxy") {
			continue
		}
		base = append(base, kv)
	}
	base = append(base,
		"CLOUDSDK_CONFIG="+cfg,
		"CLOUDSDK_AUTH_ACCESS_TOKEN_FILE="+tokFile,
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
	)
	for _, k := range []string{"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN", "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS", "CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER", "CLOUDSDK_CORE_PROJECT"} {
		base = append(base, k+"="+env[k])
	}
	gc := func(extra []string, args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, gcloud, args...)
		cmd.Env = append(slices.Clone(base), extra...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gcloud %v: %v\n%s", args, err, stderr.String())
		}
		return out
	}

	var accounts []struct {
		Email string `json:"email"`
	}
	if err := json.Unmarshal(gc(nil, "iam", "service-accounts", "list", "--project", "demo-project", "--format=json"), &accounts); err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 6 || !slices.ContainsFunc(accounts, func(a struct {
		Email string `json:"email"`
	}) bool {
		return a.Email == "frontend@demo-project.iam.gserviceaccount.com"
	}) {
		t.Errorf("gcloud iam service-accounts list: %+v", accounts)
	}

	var pol struct {
		Etag     string `json:"etag"`
		Bindings []struct {
			Role    string   `json:"role"`
			Members []string `json:"members"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal(gc(nil, "run", "services", "get-iam-policy", "orders-api", "--region", "us-central1", "--format=json"), &pol); err != nil {
		t.Fatal(err)
	}
	if len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/run.invoker" ||
		!slices.Contains(pol.Bindings[0].Members, "serviceAccount:frontend@demo-project.iam.gserviceaccount.com") || pol.Etag == "" {
		t.Errorf("gcloud run services get-iam-policy: %+v", pol)
	}

	// add-iam-policy-binding: GET then POST with the etag (v1 IAM paths).
	gc(nil, "run", "services", "add-iam-policy-binding", "orders-api", "--region", "us-central1",
		"--member=serviceAccount:batch-jobs@demo-project.iam.gserviceaccount.com", "--role=roles/run.invoker", "--format=json")
	if err := json.Unmarshal(gc(nil, "run", "services", "get-iam-policy", "orders-api", "--region", "us-central1", "--format=json"), &pol); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(pol.Bindings[0].Members, ","), "batch-jobs@") {
		t.Errorf("after add-iam-policy-binding: %+v", pol)
	}

	// The regional Knative surface, through the emulator as an HTTP proxy.
	port := env["INVOKERCTL_EMULATOR_URL"][strings.LastIndexByte(env["INVOKERCTL_EMULATOR_URL"], ':')+1:]
	var ksvc struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Status struct {
			URL string `json:"url"`
		} `json:"status"`
	}
	out := gc([]string{"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN=http://run.emu:" + port + "/", "CLOUDSDK_PROXY_TYPE=http",
		"CLOUDSDK_PROXY_ADDRESS=127.0.0.1", "CLOUDSDK_PROXY_PORT=" + port},
		"run", "services", "describe", "orders-api", "--region", "us-central1", "--format=json")
	if err := json.Unmarshal(out, &ksvc); err != nil {
		t.Fatalf("describe: %v: %s", err, out)
	}
	if ksvc.Metadata.Name != "orders-api" || !strings.HasPrefix(ksvc.Status.URL, "http://127.0.0.1:") {
		t.Errorf("gcloud run services describe: %s", out)
	}
}
