package tf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// examplesDir holds the example roots, each calling ../../modules/cloud-run-invokers.
const examplesDir = "../../../terraform/examples"

// examplesSeed is the project the examples are applied to: two services that
// already have an invoker granted outside Terraform, and a function whose
// backing service has another name than the function.
const examplesSeed = `
defaults:
  project: demo-project
  location: us-central1
projects:
  - id: demo-project
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: ["user:oncall@example.com"]
  - name: payments-api
    policy:
      - role: roles/run.invoker
        members: ["user:legacy@example.com"]
functions:
  - name: resize-image
    service: resize-image-svc
    runtime: go125
    entryPoint: Resize
`

func sa(id string) string { return "serviceAccount:" + id + "@demo-project.iam.gserviceaccount.com" }

// Every example root, used as a user of the module alone would use it (its
// own provider block, its own variables; the provider reaches the emulator
// only through GOOGLE_*_CUSTOM_ENDPOINT variables): terraform init, apply,
// a second plan that has nothing to do, destroy. The grants are read back
// through the Cloud Run Admin API v2 after apply and after destroy.
func TestExamples(t *testing.T) {
	o := newOfflineTerraform(t)
	cases := []struct {
		example string
		vars    map[string]any
		// invokers maps a service to its roles/run.invoker members after
		// apply and after destroy.
		applied, destroyed map[string][]string
		// outputs are string outputs the example must report after apply.
		outputs map[string]string
		// tokenCreators maps a created account to the members holding
		// roles/iam.serviceAccountTokenCreator on it after apply.
		tokenCreators map[string][]string
	}{
		{
			example: "simple",
			vars:    map[string]any{"project_id": "demo-project", "service_name": "orders-api"},
			// Member mode: the member granted outside Terraform stays.
			applied:   map[string][]string{"orders-api": {sa("orders-caller"), "user:oncall@example.com"}, "payments-api": {"user:legacy@example.com"}},
			destroyed: map[string][]string{"orders-api": {"user:oncall@example.com"}, "payments-api": {"user:legacy@example.com"}},
			outputs:   map[string]string{"caller_email": "orders-caller@demo-project.iam.gserviceaccount.com"},
		},
		{
			example: "authoritative",
			vars:    map[string]any{"project_id": "demo-project", "service_name": "payments-api", "members": []string{"group:payments-oncall@example.com"}},
			// Binding mode: the member granted outside Terraform is
			// removed, and destroying the binding empties the list; the
			// other service is not touched.
			applied:   map[string][]string{"payments-api": {"group:payments-oncall@example.com", sa("payments-caller")}, "orders-api": {"user:oncall@example.com"}},
			destroyed: map[string][]string{"payments-api": nil, "orders-api": {"user:oncall@example.com"}},
		},
		{
			example: "function",
			vars:    map[string]any{"project_id": "demo-project", "function_name": "resize-image"},
			// The grant lands on the function's backing service.
			applied:   map[string][]string{"resize-image-svc": {sa("function-caller")}},
			destroyed: map[string][]string{"resize-image-svc": nil},
			outputs:   map[string]string{"backing_service": "resize-image-svc"},
		},
		{
			example:       "token-creator",
			vars:          map[string]any{"project_id": "demo-project", "service_name": "orders-api", "smoke_test_member": "user:ci@example.com"},
			applied:       map[string][]string{"orders-api": {sa("smoke-caller"), "user:oncall@example.com"}},
			destroyed:     map[string][]string{"orders-api": {"user:oncall@example.com"}},
			outputs:       map[string]string{"caller_email": "smoke-caller@demo-project.iam.gserviceaccount.com"},
			tokenCreators: map[string][]string{"smoke-caller@demo-project.iam.gserviceaccount.com": {"user:ci@example.com"}},
		},
	}

	// Every example directory has a case, and every case a directory.
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs, names []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	for _, tc := range cases {
		names = append(names, tc.example)
	}
	sort.Strings(names)
	if !slices.Equal(dirs, names) {
		t.Fatalf("example directories %v, test cases %v", dirs, names)
	}

	for _, tc := range cases {
		t.Run(tc.example, func(t *testing.T) {
			t.Parallel()
			emu := newExamplesEmulator(t)
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()

			// The example keeps its place next to the module, so its
			// source = "../../modules/cloud-run-invokers" resolves.
			root := t.TempDir()
			rootDir := filepath.Join("examples", tc.example)
			copyTFFiles(t, filepath.Join(examplesDir, tc.example), filepath.Join(root, rootDir))
			varFile := filepath.Join(root, "example.tfvars.json")
			b, _ := json.Marshal(tc.vars)
			if err := os.WriteFile(varFile, b, 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			tf := o.initRoot(t, ctx, root, rootDir, o.emulatorEnv(t, emu), &log)
			cl := newGoogleClients(t, emu)

			if err := tf.Apply(ctx, tfexec.VarFile(varFile)); err != nil {
				t.Fatalf("terraform apply: %v\n%s", err, log.String())
			}
			cl.checkInvokers(t, "after apply", tc.applied)
			outs, err := tf.Output(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.outputs {
				var got string
				if out, ok := outs[name]; !ok || json.Unmarshal(out.Value, &got) != nil || got != want {
					t.Errorf("output %s = %s, want %q", name, outs[name].Value, want)
				}
			}
			var emails map[string]string
			if err := json.Unmarshal(outs["service_account_emails"].Value, &emails); err != nil || len(emails) == 0 {
				t.Fatalf("output service_account_emails: %s (%v)", outs["service_account_emails"].Value, err)
			}
			for _, email := range emails {
				if !cl.accountExists(t, email) {
					t.Errorf("account %s reported by the example does not exist", email)
				}
				if got, want := cl.tokenCreators(t, email), tc.tokenCreators[email]; !slices.Equal(got, want) {
					t.Errorf("roles/iam.serviceAccountTokenCreator on %s: %v, want %v", email, got, want)
				}
			}

			// Applied state and the real resources agree: nothing to do.
			changes, err := tf.Plan(ctx, tfexec.VarFile(varFile))
			if err != nil {
				t.Fatalf("terraform plan: %v\n%s", err, log.String())
			}
			if changes {
				t.Errorf("the plan after apply has changes (-detailed-exitcode 2):\n%s", log.String())
			}

			if err := tf.Destroy(ctx, tfexec.VarFile(varFile)); err != nil {
				t.Fatalf("terraform destroy: %v\n%s", err, log.String())
			}
			cl.checkInvokers(t, "after destroy", tc.destroyed)
			for _, email := range emails {
				if cl.accountExists(t, email) {
					t.Errorf("account %s is left after destroy", email)
				}
			}
		})
	}
}

// copyTFFiles copies the *.tf files of src into dst.
func copyTFFiles(t *testing.T, src, dst string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(src, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s (%v)", src, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// googleClients are the real Google API clients, pointed at the emulator,
// that read back what Terraform did.
type googleClients struct {
	run *run.Service
	iam *iam.Service
}

func newGoogleClients(t *testing.T, emu *emulator.Emulator) *googleClients {
	t.Helper()
	opts := testutil.EmulatorClientOptions(emu)
	rs, err := run.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	is, err := iam.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &googleClients{run: rs, iam: is}
}

// checkInvokers compares each service's roles/run.invoker members (Run v2
// getIamPolicy) with want.
func (c *googleClients) checkInvokers(t *testing.T, when string, want map[string][]string) {
	t.Helper()
	for service, members := range want {
		got := c.invokers(t, service)
		sort.Strings(got)
		if !slices.Equal(got, members) {
			t.Errorf("%s: roles/run.invoker on %s is %v, want %v", when, service, got, members)
		}
	}
}

// newExamplesEmulator starts an emulator seeded with examplesSeed.
func newExamplesEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	return testutil.StartSeeded(t, examplesSeed)
}

// invokers lists the roles/run.invoker members of services (Run v2
// getIamPolicy), each as often as the policies hold it.
func (c *googleClients) invokers(t *testing.T, services ...string) []string {
	t.Helper()
	var out []string
	for _, s := range services {
		p, err := c.run.Projects.Locations.Services.GetIamPolicy("projects/demo-project/locations/us-central1/services/" + s).Do()
		if err != nil {
			t.Fatalf("getIamPolicy %s: %v", s, err)
		}
		for _, b := range p.Bindings {
			if b.Role == "roles/run.invoker" {
				out = append(out, b.Members...)
			}
		}
	}
	return out
}

// accountExists reports whether IAM knows the service account.
func (c *googleClients) accountExists(t *testing.T, email string) bool {
	t.Helper()
	_, err := c.iam.Projects.ServiceAccounts.Get("projects/-/serviceAccounts/" + email).Do()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return false
	}
	if err != nil {
		t.Fatalf("getting %s: %v", email, err)
	}
	return true
}

// tokenCreators lists the members holding
// roles/iam.serviceAccountTokenCreator on the account, sorted.
func (c *googleClients) tokenCreators(t *testing.T, email string) []string {
	t.Helper()
	p, err := c.iam.Projects.ServiceAccounts.GetIamPolicy("projects/-/serviceAccounts/" + email).Do()
	if err != nil {
		t.Fatalf("getIamPolicy %s: %v", email, err)
	}
	var out []string
	for _, b := range p.Bindings {
		if b.Role == "roles/iam.serviceAccountTokenCreator" {
			out = append(out, b.Members...)
		}
	}
	sort.Strings(out)
	return out
}
