package tf

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

func loadQuickstart(t testing.TB) *config.Declaration {
	t.Helper()
	d, err := config.Load("../../../examples/quickstart/invokers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func emuTarget(t testing.TB) target.Target {
	t.Helper()
	tg, err := target.Emulator("http://127.0.0.1:18080", "tok-secret-123")
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestDefaultWorkdir(t *testing.T) {
	a, _ := DefaultWorkdir("/x/invokers.yaml", "demo-project", target.KindGoogle)
	b, _ := DefaultWorkdir("/x/invokers.yaml", "demo-project", target.KindEmulator)
	c, _ := DefaultWorkdir("/y/invokers.yaml", "demo-project", target.KindGoogle)
	a2, _ := DefaultWorkdir("/x/invokers.yaml", "demo-project", target.KindGoogle)
	if a != a2 {
		t.Error("not stable")
	}
	if a == b || a == c {
		t.Errorf("collisions: %s %s %s", a, b, c)
	}
	if !strings.HasPrefix(a, "/x/.invokerctl/demo-project-") {
		t.Errorf("layout: %s", a)
	}
}

func TestVarsFor(t *testing.T) {
	d := loadQuickstart(t)
	d.SmokeTest.TokenCreator = "user:ci@example.com"
	if v := VarsFor(d); v.TokenCreatorMember == nil || *v.TokenCreatorMember != "user:ci@example.com" {
		t.Errorf("token creator: %v", v.TokenCreatorMember)
	}
	d.SmokeTest.TokenCreator = ""
	v := VarsFor(d)
	if v.ProjectID != "demo-project" || len(v.ServiceAccounts) != 3 || len(v.InvokerGrants) != 4 {
		t.Fatalf("%+v", v)
	}
	g := v.InvokerGrants["function/us-central1/resize-image"]
	if g.Function == nil || *g.Function != "resize-image" || g.Service != nil {
		t.Errorf("function grant: %+v", g)
	}
	if g.Members[0] != "serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com" {
		t.Errorf("members not resolved: %v", g.Members)
	}
	b, _ := json.Marshal(v)
	// Every grant carries both target attributes (one null), so the
	// object type is homogeneous.
	if !strings.Contains(string(b), `"service":null`) || !strings.Contains(string(b), `"token_creator_member":null`) {
		t.Errorf("tfvars JSON: %s", b)
	}
}

func TestRootModule(t *testing.T) {
	d := loadQuickstart(t)
	d.Terraform.Backend = &config.Backend{Type: "gcs", Config: map[string]string{"prefix": "p", "bucket": "b"}}

	google, err := RootModule(d, target.Google())
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(google, &root); err != nil {
		t.Fatal(err)
	}
	tfb := root["terraform"].(map[string]any)
	if _, ok := tfb["backend"].(map[string]any)["gcs"]; !ok {
		t.Errorf("google target lacks the backend: %v", tfb)
	}
	prov := root["provider"].(map[string]any)["google"].(map[string]any)
	for k := range prov {
		if strings.HasSuffix(k, "_custom_endpoint") || k == "access_token" {
			t.Errorf("google target has %s", k)
		}
	}
	if got := BackendConfig(d, target.Google()); strings.Join(got, " ") != "bucket=b prefix=p" {
		t.Errorf("backend config: %v", got)
	}

	tg := emuTarget(t)
	emu, _ := RootModule(d, tg)
	if strings.Contains(string(emu), "tok-secret") {
		t.Fatal("the token is written into the root module")
	}
	json.Unmarshal(emu, &root)
	if _, ok := root["terraform"].(map[string]any)["backend"].(map[string]any)["gcs"]; !ok {
		t.Error("emulator target drops the declared gcs backend")
	}
	prov = root["provider"].(map[string]any)["google"].(map[string]any)
	if prov["cloud_run_v2_custom_endpoint"] != "http://127.0.0.1:18080/v2/" || prov["iam_beta_custom_endpoint"] != "http://127.0.0.1:18080/v1/" {
		t.Errorf("emulator endpoints: %v", prov)
	}
	if _, ok := prov["universe_domain"]; ok {
		t.Error("universe_domain would make account emails unknown at plan time")
	}
	if got := BackendConfig(d, tg); strings.Join(got, " ") != "bucket=b prefix=p" {
		t.Errorf("emulator backend config: %v", got)
	}
}

func TestEnv(t *testing.T) {
	base := map[string]string{
		"PATH": "/bin", "TF_LOG": "TRACE", "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
		"GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT": "https://x/", "TF_PLUGIN_CACHE_DIR": "/mine", "NO_PROXY": "corp",
	}
	ws := &Workspace{Dir: "/w", Target: target.Google()}
	env := ws.Env(base, EnvSettings{PluginCacheDir: "/cache"})
	if env["TF_PLUGIN_CACHE_DIR"] != "/mine" || env["GOOGLE_APPLICATION_CREDENTIALS"] != "/k.json" {
		t.Errorf("google env must keep the user's settings: %v", env)
	}
	if _, ok := env["TF_LOG"]; ok {
		t.Error("TF_LOG is terraform-exec's to set")
	}
	if _, ok := env[envCLIConfig]; ok {
		t.Error("google target gets a CLI config")
	}
	delete(base, "TF_PLUGIN_CACHE_DIR")
	if env := ws.Env(base, EnvSettings{PluginCacheDir: "/cache"}); env["TF_PLUGIN_CACHE_DIR"] != "/cache" {
		t.Error("plugin cache not set")
	}

	ws.Target = emuTarget(t)
	env = ws.Env(base, EnvSettings{RefusingProxy: "http://127.0.0.1:9"})
	want := map[string]string{
		"TF_CLI_CONFIG_FILE":        "/w/terraformrc",
		"GOOGLE_OAUTH_ACCESS_TOKEN": "tok-secret-123",
		"GCE_METADATA_HOST":         "127.0.0.1:18080",
		"HTTPS_PROXY":               "http://127.0.0.1:9",
		"NO_PROXY":                  "corp,127.0.0.1",
		"CHECKPOINT_DISABLE":        "1",
		"PATH":                      "/bin",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT", "TF_PLUGIN_CACHE_DIR"} {
		if _, ok := env[k]; ok {
			t.Errorf("emulator env keeps %s", k)
		}
	}
}

func TestPrepare(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wd")
	exe := filepath.Join(t.TempDir(), "invokerctl")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	ws := &Workspace{Dir: dir, Decl: loadQuickstart(t), Target: emuTarget(t), ProviderExecutable: exe}
	// Pretend state and a stale lock file exist.
	os.MkdirAll(dir, 0o700)
	os.WriteFile(ws.Path(StateFile), []byte("{}"), 0o600)
	os.WriteFile(ws.Path(lockFile), []byte("x"), 0o644)
	if err := ws.Prepare(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{RootModuleFile, VarsFile, ModuleDir + "/main.tf", ModuleDir + "/README.md", CLIConfigFile, StateFile} {
		if _, err := os.Stat(ws.Path(f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	fi, _ := os.Stat(ws.Path(CLIConfigFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("CLI config mode %v", fi.Mode().Perm())
	}
	if _, err := os.Stat(ws.Path(lockFile)); !os.IsNotExist(err) {
		t.Error("stale provider lock kept")
	}
	matches, _ := filepath.Glob(ws.Path(MirrorDir + "/registry.terraform.io/hashicorp/google/*/*/terraform-provider-google_v*"))
	if len(matches) != 1 {
		t.Errorf("mirror: %v", matches)
	}
	rc, _ := os.ReadFile(ws.Path(CLIConfigFile))
	if !strings.Contains(string(rc), "filesystem_mirror") {
		t.Errorf("CLI config: %s", rc)
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Mode().IsRegular() && info.Size() < 1<<20 {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), "tok-secret") {
				t.Errorf("token written to %s", p)
			}
		}
		return nil
	})
}

// fakeTF is a stand-in terraform that logs its arguments, one invocation per
// line, and answers version, plan (exit 2: changes), show and output.
func fakeTF(t *testing.T) (exe, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	exe = filepath.Join(dir, "terraform")
	script := `#!/bin/sh
echo "$*" >> "` + log + `"
case "$1" in
version) echo '{"terraform_version":"1.11.4","platform":"linux_amd64","provider_selections":{},"terraform_outdated":false}' ;;
plan) echo "Plan: 1 to add"; exit 2 ;;
show) echo '{"format_version":"1.2","terraform_version":"1.11.4","resource_changes":[{"address":"module.invokers.google_service_account.this[\"a\"]","mode":"managed","type":"google_service_account","name":"this","index":"a","change":{"actions":["create"],"before":null,"after":{"account_id":"abcdef","project":"p1"}}}]}' ;;
output) echo '{"service_account_emails":{"sensitive":false,"type":["map","string"],"value":{"a":"abcdef@p1.iam.gserviceaccount.com"}}}' ;;
esac
exit 0
`
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe, log
}

// The argument lists Terraform receives, through terraform-exec, for each
// step — without running Terraform.
func TestStepArguments(t *testing.T) {
	exe, log := fakeTF(t)
	d := loadQuickstart(t)
	d.Terraform.Backend = &config.Backend{Type: "gcs", Config: map[string]string{"bucket": "b", "prefix": "p"}}
	var out strings.Builder
	r, err := Open(context.Background(), Options{Decl: d, Target: target.Google(), Workdir: filepath.Join(t.TempDir(), "wd"),
		ExecPath: exe, PluginCacheDir: t.TempDir(), Stdout: &out, LockTimeout: "30s"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if err := r.Init(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.Plan(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changes || len(res.Summary.AccountsToCreate) != 1 || res.Summary.AccountsToCreate[0].Email != "abcdef@p1.iam.gserviceaccount.com" {
		t.Errorf("plan result: %+v %+v", res, res.Summary)
	}
	if _, err := r.Plan(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, res.PlanFile); err != nil {
		t.Fatal(err)
	}
	outs, err := r.Outputs(ctx)
	if err != nil || outs.ServiceAccountEmails["a"] != "abcdef@p1.iam.gserviceaccount.com" {
		t.Fatalf("outputs %+v %v", outs, err)
	}
	if strings.Contains(out.String(), "format_version") || strings.Contains(out.String(), "sensitive") {
		t.Errorf("JSON of show/output leaked to the user's stream: %q", out.String())
	}
	if !strings.Contains(out.String(), "Plan: 1 to add") {
		t.Errorf("plan output not streamed: %q", out.String())
	}

	raw, _ := os.ReadFile(log)
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if !strings.HasPrefix(l, "version") {
			calls = append(calls, l)
		}
	}
	plan := r.WS.Path(PlanFile)
	want := []string{
		"init -no-color -input=false -backend=true -get=true -upgrade=false -backend-config=bucket=b -backend-config=prefix=p",
		"plan -no-color -input=false -detailed-exitcode -lock-timeout=30s -out=" + plan + " -lock=true -parallelism=10 -refresh=true",
		"show -json -no-color " + plan,
		"plan -no-color -input=false -detailed-exitcode -lock-timeout=30s -out=" + plan + " -lock=true -parallelism=10 -refresh=true -destroy",
		"show -json -no-color " + plan,
		"apply -no-color -auto-approve -input=false -lock-timeout=30s -lock=true -parallelism=10 -refresh=true " + plan,
		"output -no-color -json",
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("terraform calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
}
