package tf

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validationRoot calls the module with its inputs passed through from
// variables (so each case is a -var-file), and a provider that can reach
// nothing: a plan that got past the validations and called an API would
// fail with a different error.
const validationRoot = `variable "project_id" {
  type    = string
  default = "demo-project"
}

variable "service_accounts" {
  type    = any
  default = {}
}

variable "invoker_grants" {
  type    = any
  default = {}
}

variable "token_creator_member" {
  type    = string
  default = null
}

provider "google" {
  access_token                     = "unused"
  cloud_run_v2_custom_endpoint     = "http://127.0.0.1:1/v2/"
  cloudfunctions2_custom_endpoint  = "http://127.0.0.1:1/v2/"
  iam_custom_endpoint              = "http://127.0.0.1:1/v1/"
  iam_credentials_custom_endpoint  = "http://127.0.0.1:1/v1/"
  resource_manager_custom_endpoint = "http://127.0.0.1:1/v1/"
}

module "invokers" {
  source               = "./modules/cloud-run-invokers"
  project_id           = var.project_id
  service_accounts     = var.service_accounts
  invoker_grants       = var.invoker_grants
  token_creator_member = var.token_creator_member
}
`

// tfDiagnostic is one diagnostic of `terraform plan -json`.
type tfDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
}

// validationPlan runs `terraform plan -json` in dir with vars as a var
// file and returns the exit code, the error diagnostics and the number of
// resources the plan would add.
func validationPlan(t *testing.T, tfPath, dir string, env []string, vars string) (code int, errs []tfDiagnostic, add int) {
	t.Helper()
	varFile := filepath.Join(t.TempDir(), "case.tfvars.json")
	if err := os.WriteFile(varFile, []byte(vars), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tfPath, "plan", "-json", "-input=false", "-lock=false", "-refresh=false", "-var-file="+varFile)
	cmd.Dir = dir
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("terraform plan: %v\n%s", err, errOut.String())
		}
		code = ee.ExitCode()
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Type       string       `json:"type"`
			Diagnostic tfDiagnostic `json:"diagnostic"`
			Changes    struct {
				Add int `json:"add"`
			} `json:"changes"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			t.Fatalf("terraform plan -json printed a line that is not JSON: %s", sc.Text())
		}
		switch {
		case line.Type == "diagnostic" && line.Diagnostic.Severity == "error":
			errs = append(errs, line.Diagnostic)
		case line.Type == "change_summary":
			add = line.Changes.Add
		}
	}
	if errOut.Len() > 0 && code == 0 {
		t.Logf("terraform stderr: %s", errOut.String())
	}
	return code, errs, add
}

// The module's variable validations refuse bad inputs at plan time, each
// with its own message, before the provider is asked anything: a real
// terraform plan of a root module that calls the module, one -var-file
// per case.
func TestModuleVariableValidations(t *testing.T) {
	o := newOfflineTerraform(t)
	tfPath, env := o.path, envList(o.env)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(validationRoot), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	o.initRoot(t, context.Background(), dir, ".", o.env, &log)

	// The control: good inputs pass every validation and plan (one account,
	// two members), so a refusal below is the validation's doing.
	t.Run("valid inputs", func(t *testing.T) {
		t.Parallel()
		code, errs, add := validationPlan(t, tfPath, dir, env, `{
  "service_accounts": {"orders-caller": {"account_id": "orders-caller"}},
  "invoker_grants": {"service/us-central1/orders-api": {"service": "orders-api", "location": "us-central1",
    "members": ["orders-caller", "user:oncall@example.com"]}},
  "token_creator_member": "user:owner@example.com"
}`)
		if code != 0 || len(errs) != 0 || add != 4 {
			t.Fatalf("plan of valid inputs: exit %d, %d to add (want 4), errors %+v", code, add, errs)
		}
	})

	const (
		msgAccountID   = "Each account_id must be 6-30 characters and match ^[a-z]([-a-z0-9]*[a-z0-9])$."
		msgUniqueIDs   = "account_id values must be unique."
		msgShortNames  = "service_accounts keys (short names) must be lower-case letters, digits and hyphens, starting with a letter."
		msgOneTarget   = "Each grant sets exactly one of service or function."
		msgLocation    = "Each grant location must be a region such as us-central1."
		msgMembers     = "Each grant needs at least one member, each listed once."
		msgMemberShape = "Members must be IAM members (user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers) or keys of service_accounts."
		msgProject     = "project_id must be a project id: 6-30 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
		msgTokenMember = "token_creator_member must be a single identity (user:, group:, serviceAccount:, domain:, principal://, principalSet://), never allUsers or allAuthenticatedUsers."
	)
	grant := func(fields string) string {
		return `{"invoker_grants": {"g": {` + fields + `}}}`
	}
	cases := []struct {
		name, vars, want string
	}{
		{"account_id with an upper-case letter", `{"service_accounts": {"a": {"account_id": "Orders_Caller"}}}`, msgAccountID},
		{"account_id too short", `{"service_accounts": {"a": {"account_id": "abc"}}}`, msgAccountID},
		{"account_id ending with a hyphen", `{"service_accounts": {"a": {"account_id": "orders-caller-"}}}`, msgAccountID},
		{"duplicate account ids", `{"service_accounts": {"a": {"account_id": "orders-caller"}, "b": {"account_id": "orders-caller"}}}`, msgUniqueIDs},
		{"bad short name", `{"service_accounts": {"Orders": {"account_id": "orders-caller"}}}`, msgShortNames},
		{"both service and function", grant(`"service": "orders-api", "function": "resize-image", "location": "us-central1", "members": ["user:a@example.com"]`), msgOneTarget},
		{"neither service nor function", grant(`"location": "us-central1", "members": ["user:a@example.com"]`), msgOneTarget},
		{"bad location", grant(`"service": "orders-api", "location": "uscentral1", "members": ["user:a@example.com"]`), msgLocation},
		{"zone for a location", grant(`"service": "orders-api", "location": "us-central1-a", "members": ["user:a@example.com"]`), msgLocation},
		{"empty members", grant(`"service": "orders-api", "location": "us-central1", "members": []`), msgMembers},
		{"duplicate members", grant(`"service": "orders-api", "location": "us-central1", "members": ["user:a@example.com", "user:a@example.com"]`), msgMembers},
		{"bad member", grant(`"service": "orders-api", "location": "us-central1", "members": ["sa:foo"]`), msgMemberShape},
		{"bad project id", `{"project_id": "Demo"}`, msgProject},
		{"public token creator", `{"token_creator_member": "allUsers"}`, msgTokenMember},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, errs, _ := validationPlan(t, tfPath, dir, env, tc.vars)
			if code != 1 {
				t.Errorf("plan: exit %d, want 1", code)
			}
			// Exactly one error: this validation's, checked by the module's
			// rule (not the provider, not an API call).
			if len(errs) != 1 || errs[0].Summary != "Invalid value for variable" || !strings.HasPrefix(errs[0].Detail, tc.want) ||
				!strings.Contains(errs[0].Detail, "This was checked by the validation rule at modules/cloud-run-invokers/variables.tf:") {
				t.Errorf("want the one error %q from modules/cloud-run-invokers/variables.tf; got %+v", tc.want, errs)
			}
		})
	}
}
