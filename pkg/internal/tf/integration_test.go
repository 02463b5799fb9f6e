package tf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// invokerctlBinary is the invokerctl executable, built once per test run;
// it serves the offline provider when Terraform starts it from the mirror.
func invokerctlBinary(t testing.TB) string { return testutil.Binary(t) }

func needTerraform(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs terraform; skipped with -short")
	}
	p, err := Find(context.Background(), FindOptions{NoDownload: true})
	if err != nil {
		t.Skipf("no terraform: %v", err)
	}
	return p
}

// The module is `terraform fmt` clean and `terraform validate` passes with
// the offline build of the provider (the real schema).
func TestModuleFmtAndValidate(t *testing.T) {
	tfPath := needTerraform(t)
	ctx := context.Background()

	moduleDir, _ := filepath.Abs("../../../terraform/modules/cloud-run-invokers")
	tfm, err := tfexec.NewTerraform(moduleDir, tfPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf"} {
		src, err := os.ReadFile(filepath.Join(moduleDir, f))
		if err != nil {
			t.Fatal(err)
		}
		formatted, err := tfm.FormatString(ctx, string(src))
		if err != nil {
			t.Fatal(err)
		}
		if formatted != string(src) {
			t.Errorf("%s is not terraform fmt clean", f)
		}
	}

	// validate needs the provider: lay out the module with the mirror.
	dir := t.TempDir()
	if err := copyModule(dir); err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(t.TempDir(), "mirror")
	if err := tfprovider.InstallMirror(mirror, invokerctlBinary(t)); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	os.WriteFile(rc, []byte(tfprovider.CLIConfig(mirror)), 0o600)
	tfv, _ := tfexec.NewTerraform(dir, tfPath)
	env := environMap(os.Environ())
	env["TF_CLI_CONFIG_FILE"] = rc
	env["CHECKPOINT_DISABLE"] = "1"
	if err := tfv.SetEnv(tfexec.CleanEnv(env)); err != nil {
		t.Fatal(err)
	}
	if err := tfv.Init(ctx, tfexec.Backend(false)); err != nil {
		t.Fatal(err)
	}
	res, err := tfv.Validate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.ErrorCount+res.WarningCount > 0 {
		for _, d := range res.Diagnostics {
			t.Errorf("module: %s: %s: %s", d.Severity, d.Summary, d.Detail)
		}
	}

	// The root module generated for Google (partial gcs backend, no
	// endpoints) is valid too; the provider comes from the mirror only
	// because this machine cannot reach the registry.
	d := loadQuickstart(t)
	d.Terraform.Backend = &config.Backend{Type: "gcs", Config: map[string]string{"bucket": "b"}}
	ws := &Workspace{Dir: t.TempDir(), Decl: d, Target: target.Google()}
	if err := ws.Prepare(); err != nil {
		t.Fatal(err)
	}
	tfr, _ := tfexec.NewTerraform(ws.Dir, tfPath)
	if err := tfr.SetEnv(tfexec.CleanEnv(env)); err != nil {
		t.Fatal(err)
	}
	if err := tfr.Init(ctx, tfexec.Backend(false)); err != nil {
		t.Fatal(err)
	}
	if res, err = tfr.Validate(ctx); err != nil {
		t.Fatal(err)
	}
	if !res.Valid || res.ErrorCount+res.WarningCount > 0 {
		for _, d := range res.Diagnostics {
			t.Errorf("root module: %s: %s: %s", d.Severity, d.Summary, d.Detail)
		}
	}
}

// A plan of the quickstart against the emulator: init through the mirror,
// plan, show -json, summary. Nothing is applied here (the CLI tests do).
func TestPlanQuickstartAgainstEmulator(t *testing.T) {
	tfPath := needTerraform(t)
	bin := invokerctlBinary(t)
	t.Setenv(tfprovider.SleepScaleEnv, "0")
	emu := testutil.StartEmulator(t, emulator.Options{SeedFile: "../../../examples/quickstart/seed.yaml"})
	tg, err := target.Emulator(emu.URL(), emu.BootstrapToken())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out strings.Builder
	r, err := Open(ctx, Options{Decl: loadQuickstart(t), Target: tg, Workdir: filepath.Join(t.TempDir(), "wd"),
		ExecPath: tfPath, ProviderExecutable: bin, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Init(ctx); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	res, err := r.Plan(ctx, false)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := res.Summary
	if !res.Changes || len(s.AccountsToCreate) != 3 || len(s.AccountsToDelete) != 0 {
		t.Fatalf("summary: %+v", s)
	}
	m := func(n string) string { return "serviceAccount:" + n + "@demo-project.iam.gserviceaccount.com" }
	got := map[string]string{}
	for _, sc := range s.Services {
		got[sc.Service+"/"+sc.Function] = strings.Join(sc.Add, ",")
		if len(sc.Remove) != 0 {
			t.Errorf("%s: removes %v", sc.Service, sc.Remove)
		}
	}
	want := map[string]string{
		"orders-api/":               m("orders-caller"),
		"billing-api/":              m("billing-caller") + "," + m("orders-caller"),
		"resize-image/resize-image": m("orders-caller"),
		"on-upload/on-upload":       m("billing-caller"),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: adds %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	var rendered strings.Builder
	s.Render(&rendered)
	if !strings.Contains(rendered.String(), "function resize-image (service resize-image)") || !strings.Contains(rendered.String(), "Plan: 3 account(s) to create") {
		t.Errorf("rendered:\n%s", rendered.String())
	}
	if strings.Contains(out.String(), emu.BootstrapToken()) {
		t.Error("terraform output shows the token")
	}
}
