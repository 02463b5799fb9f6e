package tfprovider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// The tests in this file run the real terraform binary against the provider
// built into the invokerctl executable, installed through InstallMirror and
// CLIConfig exactly as users get it.

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// providerMirror builds invokerctl once per test binary and returns a
// filesystem mirror holding it as hashicorp/google 8.0.0.
func providerMirror(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("terraform tests skipped in -short mode")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform not on PATH")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tfprovider-e2e-")
		if buildErr != nil {
			return
		}
		exe := filepath.Join(buildDir, "invokerctl")
		cmd := exec.Command("go", "build", "-o", exe, "github.com/invokerctl/invokerctl/cmd/invokerctl")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		buildErr = InstallMirror(filepath.Join(buildDir, "mirror"), exe)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "mirror")
}

// tfRunner runs terraform in one working directory.
type tfRunner struct {
	t   *testing.T
	dir string
	env []string
}

func newTFRunner(t *testing.T, mainTF string) *tfRunner {
	mirror := providerMirror(t)
	dir := t.TempDir()
	cli := filepath.Join(dir, ".terraformrc")
	if err := os.WriteFile(cli, []byte(CLIConfig(mirror)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(mainTF), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"TF_CLI_CONFIG_FILE=" + cli,
		"TF_IN_AUTOMATION=1",
		"CHECKPOINT_DISABLE=1",
		"TF_PLUGIN_CACHE_DIR=",
		SleepScaleEnv + "=0",
	}
	// Keep the developer's Google settings out of the run.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GOOGLE_") || strings.HasPrefix(k, "TF_") || strings.HasPrefix(k, "CLOUDSDK_") {
			continue
		}
		env = append(env, kv)
	}
	return &tfRunner{t: t, dir: dir, env: env}
}

// run runs terraform and returns its exit code and combined output; it
// fails the test on codes not in ok.
func (r *tfRunner) run(ok []int, args ...string) (int, string) {
	r.t.Helper()
	cmd := exec.Command("terraform", args...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	for _, c := range ok {
		if c == code {
			return code, out.String()
		}
	}
	r.t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out.String())
	return code, ""
}

func (r *tfRunner) must(args ...string) string {
	r.t.Helper()
	_, out := r.run([]int{0}, args...)
	return out
}

func (r *tfRunner) outputs() map[string]any {
	r.t.Helper()
	var raw map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(r.must("output", "-json")), &raw); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]any{}
	for k, v := range raw {
		out[k] = v.Value
	}
	return out
}

const e2eProvider = `
terraform {
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "8.0.0"
    }
  }
}

variable "endpoint" { type = string }
variable "token" {
  type      = string
  sensitive = true
}
variable "project" { type = string }
variable "display_name" {
  type    = string
  default = "E2E caller"
}

provider "google" {
  project                          = var.project
  region                           = "us-central1"
  access_token                     = var.token
  cloud_run_v2_custom_endpoint     = "${var.endpoint}/v2/"
  iam_custom_endpoint              = "${var.endpoint}/v1/"
  iam_beta_custom_endpoint         = "${var.endpoint}/v1/"
  iam_credentials_custom_endpoint  = "${var.endpoint}/v1/"
  resource_manager_custom_endpoint = "${var.endpoint}/v1/"
  cloudfunctions2_custom_endpoint  = "${var.endpoint}/v2/"
}
`

const e2eModule = e2eProvider + `
resource "google_service_account" "caller" {
  account_id   = "e2e-caller"
  display_name = var.display_name
}

data "google_cloud_run_v2_service" "svc" {
  name = "svc"
}

resource "google_cloud_run_v2_service_iam_member" "caller" {
  name     = data.google_cloud_run_v2_service.svc.name
  location = "us-central1"
  role     = "roles/run.invoker"
  member   = google_service_account.caller.member
}

resource "google_cloud_run_v2_service_iam_binding" "devs" {
  name    = "projects/${var.project}/locations/us-central1/services/svc"
  role    = "roles/run.developer"
  members = ["user:Dev@Example.com"]
}

data "google_iam_policy" "wanted" {
  binding {
    role    = "roles/run.invoker"
    members = [google_service_account.caller.member]
  }
}

data "google_project" "this" {}

data "google_service_account" "caller" {
  account_id = google_service_account.caller.account_id
}

data "google_cloud_run_v2_service_iam_policy" "after" {
  name       = "svc"
  location   = "us-central1"
  depends_on = [google_cloud_run_v2_service_iam_member.caller, google_cloud_run_v2_service_iam_binding.devs]
}

output "uri" { value = data.google_cloud_run_v2_service.svc.uri }
output "generation" { value = data.google_cloud_run_v2_service.svc.generation }
output "member_id" { value = google_cloud_run_v2_service_iam_member.caller.id }
output "binding_id" { value = google_cloud_run_v2_service_iam_binding.devs.id }
output "email" { value = google_service_account.caller.email }
output "ds_email" { value = data.google_service_account.caller.email }
output "project_number" { value = data.google_project.this.number }
output "wanted" { value = data.google_iam_policy.wanted.policy_data }
output "policy" { value = data.google_cloud_run_v2_service_iam_policy.after.policy_data }
`

func tfVars(endpoint, token, project string, extra ...string) []string {
	return append([]string{"-var", "endpoint=" + endpoint, "-var", "token=" + token, "-var", "project=" + project}, extra...)
}

func TestTerraformSchemaMatchesSubset(t *testing.T) {
	r := newTFRunner(t, e2eProvider)
	r.must("init", "-input=false", "-no-color")
	var got struct {
		ProviderSchemas map[string]json.RawMessage `json:"provider_schemas"`
	}
	if err := json.Unmarshal([]byte(r.must("providers", "schema", "-json")), &got); err != nil {
		t.Fatal(err)
	}
	var gotGoogle, want map[string]any
	if err := json.Unmarshal(got.ProviderSchemas["registry.terraform.io/hashicorp/google"], &gotGoogle); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(schemaJSON, &want); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"provider", "resource_schemas", "data_source_schemas"} {
		if !reflect.DeepEqual(gotGoogle[k], want[k]) {
			t.Errorf("terraform providers schema -json: %s differs from the v8.0.0 subset", k)
		}
	}
}

// lifecycle runs init, apply, a no-op plan, an in-place update, and destroy.
// Applies go through saved plans so that inject (called with "apply" and
// "update") lands faults in the apply phase proper, on the writes. check is
// called after the first apply and after destroy.
func lifecycle(t *testing.T, endpoint, token, project string, inject func(phase string), checkApplied func(out map[string]any), checkDestroyed func()) {
	r := newTFRunner(t, e2eModule)
	vars := tfVars(endpoint, token, project)
	r.must("init", "-input=false", "-no-color")
	r.must(append([]string{"plan", "-out=apply.tfplan", "-input=false", "-no-color"}, vars...)...)
	if inject != nil {
		inject("apply")
	}
	applyOut := r.must("apply", "-input=false", "-no-color", "apply.tfplan")
	t.Logf("first apply:\n%s", applyOut)
	checkApplied(r.outputs())

	// Nothing to do on a second plan: ids, names, member casing all settle.
	if code, out := r.run([]int{0, 2}, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...); code != 0 {
		t.Fatalf("second plan is not empty:\n%s", out)
	}

	// Import: forget the member and the account, import them back by the
	// ids users would type, and the plan is still empty.
	email := "e2e-caller@" + project + ".iam.gserviceaccount.com"
	r.must("state", "rm", "-no-color", "google_cloud_run_v2_service_iam_member.caller", "google_service_account.caller")
	r.must(append([]string{"import", "-input=false", "-no-color"}, append(vars, "google_service_account.caller", project+"/"+email)...)...)
	r.must(append([]string{"import", "-input=false", "-no-color"}, append(vars, "google_cloud_run_v2_service_iam_member.caller",
		"projects/"+project+"/locations/us-central1/services/svc roles/run.invoker serviceAccount:"+email)...)...)
	if code, out := r.run([]int{0, 2}, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...); code != 0 {
		t.Fatalf("plan after import is not empty:\n%s", out)
	}

	// In-place update of the account.
	upd := tfVars(endpoint, token, project, "-var", "display_name=Renamed caller")
	code, out := r.run([]int{2}, append([]string{"plan", "-detailed-exitcode", "-out=update.tfplan", "-input=false", "-no-color"}, upd...)...)
	if code != 2 || !strings.Contains(out, "1 to change, 0 to destroy") {
		t.Fatalf("display_name change should be one in-place update:\n%s", out)
	}
	if inject != nil {
		inject("update")
	}
	r.must("apply", "-input=false", "-no-color", "update.tfplan")
	if code, out := r.run([]int{0, 2}, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, upd...)...); code != 0 {
		t.Fatalf("plan after update is not empty:\n%s", out)
	}

	r.must(append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, upd...)...)
	checkDestroyed()
}

func checkOutputs(t *testing.T, out map[string]any, project, number string) {
	t.Helper()
	email := "e2e-caller@" + project + ".iam.gserviceaccount.com"
	svc := "projects/" + project + "/locations/us-central1/services/svc"
	want := map[string]any{
		"email":          email,
		"ds_email":       email,
		"member_id":      svc + "/roles/run.invoker/serviceAccount:" + email,
		"binding_id":     svc + "/roles/run.developer",
		"project_number": number,
		"wanted":         `{"bindings":[{"members":["serviceAccount:` + email + `"],"role":"roles/run.invoker"}]}`,
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %#v, want %#v", k, out[k], v)
		}
	}
	if s, _ := out["uri"].(string); !strings.HasPrefix(s, "http") {
		t.Errorf("uri = %#v", out["uri"])
	}
	if s, _ := out["generation"].(string); s == "" {
		t.Errorf("generation = %#v", out["generation"])
	}
	pol, _ := out["policy"].(string)
	if !strings.Contains(pol, `"serviceAccount:`+email+`"`) || !strings.Contains(strings.ToLower(pol), `"user:dev@example.com"`) {
		t.Errorf("policy after apply = %s", pol)
	}
}

// TestTerraformLifecycleTargetedFaults runs the same lifecycle against the
// emulator with faults aimed at single calls: a burst of 503s on the policy
// writes and 429s with Retry-After on the account update.
func TestTerraformLifecycleTargetedFaults(t *testing.T) {
	providerMirror(t) // skips in -short mode before starting anything
	f := newTestGoogle(t, "e2e-token")
	full := f.addService("us-central1", "svc")
	lifecycle(t, f.url(), "e2e-token", f.project,
		func(phase string) {
			if phase == "apply" {
				// A burst of 503s on the policy writes in the middle of apply.
				f.fail("POST", ":setIamPolicy", 3, 503, nil)
			} else {
				// Throttling on the account update, with Retry-After.
				f.fail("PATCH", "e2e-caller@proj-1.iam.gserviceaccount.com", 2, 429, map[string]string{"Retry-After": "1"})
			}
		},
		func(out map[string]any) {
			checkOutputs(t, out, f.project, f.number)
		},
		func() {
			if pol := f.policy(full); len(pol.Bindings) != 0 {
				t.Errorf("policy after destroy = %+v", pol.Bindings)
			}
			if accounts := f.call("GET", "/v1/projects/"+f.project+"/serviceAccounts", nil)["accounts"]; accounts != nil {
				t.Errorf("accounts after destroy = %v", accounts)
			}
		})
	// The burst was consumed and retried, not surfaced.
	if pending := f.e.PendingFaults(); len(pending) != 0 {
		t.Errorf("faults not consumed: %+v", pending)
	}
}
