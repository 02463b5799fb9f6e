package tfprovider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// readDS runs ReadDataSource through the protocol and decodes the state.
func readDS(t *testing.T, p *provider, typ string, cfg map[string]any) (map[string]any, []*tfprotov5.Diagnostic) {
	t.Helper()
	s := p.schemas.DataSources[typ]
	dv, err := encode(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.ReadDataSource(context.Background(), &tfprotov5.ReadDataSourceRequest{TypeName: typ, Config: dv})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Diagnostics) > 0 {
		return nil, resp.Diagnostics
	}
	st, err := decode(s, resp.State)
	if err != nil {
		t.Fatal(err)
	}
	return st, nil
}

func TestCloudRunV2ServiceDataSource(t *testing.T) {
	f := newTestGoogle(t, "")
	f.addService("us-central1", "svc")
	p, _ := newTestProvider(t, f, nil)
	st, diags := readDS(t, p, "google_cloud_run_v2_service", map[string]any{"name": "svc"})
	if diags != nil {
		t.Fatalf("%s: %s", diags[0].Summary, diags[0].Detail)
	}
	if got := f.requests(); len(got) != 1 || got[0] != "GET /v2/projects/proj-1/locations/us-central1/services/svc" {
		t.Errorf("requests = %q, want exactly one GET", got)
	}
	// The values the emulator holds, read through its API.
	api := f.service("projects/proj-1/locations/us-central1/services/svc")
	if api["uri"] == "" || api["uid"] == "" || api["generation"] == "" {
		t.Fatalf("emulator service = %v", api)
	}
	checks := map[string]any{
		"id":                  "projects/proj-1/locations/us-central1/services/svc",
		"location":            "us-central1", // from the provider region
		"project":             "proj-1",
		"uri":                 api["uri"],
		"generation":          api["generation"],
		"observed_generation": api["observedGeneration"],
		"ingress":             "INGRESS_TRAFFIC_ALL",
		"uid":                 api["uid"],
	}
	for k, want := range checks {
		if st[k] != want {
			t.Errorf("%s = %#v, want %#v", k, st[k], want)
		}
	}
	if urls, _ := st["urls"].([]any); len(urls) != 2 || len(urls) != len(api["urls"].([]any)) {
		t.Errorf("urls = %v", st["urls"])
	}
	tmpl := firstBlock(st, "template")
	if tmpl == nil || tmpl["service_account"] != "runner@proj-1.iam.gserviceaccount.com" {
		t.Fatalf("template = %v", st["template"])
	}
	if sc := firstBlock(tmpl, "scaling"); sc == nil || sc["max_instance_count"].(interface{ String() string }).String() != "100" {
		t.Errorf("template.scaling = %v", tmpl["scaling"])
	}
	c := firstBlock(tmpl, "containers")
	if c == nil || c["image"] != "us-docker.pkg.dev/cloudrun/container/hello" {
		t.Errorf("containers = %v", tmpl["containers"])
	}
	if tc := firstBlock(st, "terminal_condition"); tc == nil || tc["state"] != "CONDITION_SUCCEEDED" {
		t.Errorf("terminal_condition = %v", st["terminal_condition"])
	}
	if l, _ := st["labels"].(map[string]any); l["team"] != "a" {
		t.Errorf("labels = %v", st["labels"])
	}

	_, diags = readDS(t, p, "google_cloud_run_v2_service", map[string]any{"name": "nope", "location": "us-central1"})
	if diags == nil || !strings.Contains(diags[0].Summary, "projects/proj-1/locations/us-central1/services/nope not found") {
		t.Errorf("missing service diagnostics = %v", diags)
	}
}

func TestCloudFunctions2DataSource(t *testing.T) {
	f := newTestGoogle(t, "")
	f.addFunction("europe-west1", "fn")
	backing := f.service("projects/proj-1/locations/europe-west1/services/fn")
	p, _ := newTestProvider(t, f, nil)
	st, diags := readDS(t, p, "google_cloudfunctions2_function", map[string]any{"name": "fn", "location": "europe-west1"})
	if diags != nil {
		t.Fatalf("%s: %s", diags[0].Summary, diags[0].Detail)
	}
	sc := firstBlock(st, "service_config")
	if sc == nil || sc["service"] != "projects/proj-1/locations/europe-west1/services/fn" || sc["uri"] != backing["uri"] {
		t.Errorf("service_config = %v", st["service_config"])
	}
	if st["environment"] != "GEN_2" || st["state"] != "ACTIVE" || st["id"] != "projects/proj-1/locations/europe-west1/functions/fn" {
		t.Errorf("state = %v", st)
	}
}

func TestProjectAndServiceAccountDataSources(t *testing.T) {
	f := newTestGoogle(t, "")
	p, _ := newTestProvider(t, f, nil)
	st, diags := readDS(t, p, "google_project", map[string]any{})
	if diags != nil {
		t.Fatalf("%s: %s", diags[0].Summary, diags[0].Detail)
	}
	if st["number"] != "123456789012" || st["project_id"] != "proj-1" || st["org_id"] != "4242" || st["id"] != "projects/proj-1" {
		t.Errorf("project = %v", st)
	}
	if _, diags := readDS(t, p, "google_project", map[string]any{"project_id": "missing"}); diags == nil || !strings.Contains(diags[0].Summary, "not found or not in ACTIVE state") {
		t.Errorf("missing project diagnostics = %v", diags)
	}

	if _, err := p.resources["google_service_account"].create(context.Background(), p, saPlan("invoker-one")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"invoker-one", "invoker-one@proj-1.iam.gserviceaccount.com", "projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com"} {
		f.resetLog()
		st, diags := readDS(t, p, "google_service_account", map[string]any{"account_id": id})
		if diags != nil {
			t.Fatalf("%s: %s", diags[0].Summary, diags[0].Detail)
		}
		if st["email"] != "invoker-one@proj-1.iam.gserviceaccount.com" || st["member"] != "serviceAccount:invoker-one@proj-1.iam.gserviceaccount.com" || st["display_name"] != "Invoker" {
			t.Errorf("%s: state = %v", id, st)
		}
		if id != "projects/proj-1/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com" {
			if got := f.requests(); got[0] != "GET /v1/projects/-/serviceAccounts/invoker-one@proj-1.iam.gserviceaccount.com" {
				t.Errorf("%s: request = %s", id, got[0])
			}
		}
	}
}

func TestIamPolicyDataSource(t *testing.T) {
	f := newTestGoogle(t, "")
	p, _ := newTestProvider(t, f, nil)
	cfg := map[string]any{
		"binding": []any{
			map[string]any{"role": "roles/run.invoker", "members": []any{"user:b@example.com", "allUsers"}, "condition": []any{}},
			map[string]any{"role": "roles/run.admin", "members": []any{"user:admin@example.com"}, "condition": []any{}},
			map[string]any{"role": "roles/run.invoker", "members": []any{"user:a@example.com"}, "condition": []any{}},
			map[string]any{"role": "roles/run.invoker", "members": []any{"user:c@example.com"}, "condition": []any{map[string]any{"title": "t", "expression": "true"}}},
		},
		"audit_config": []any{},
	}
	st, diags := readDS(t, p, "google_iam_policy", cfg)
	if diags != nil {
		t.Fatal(diags[0].Summary)
	}
	want := `{"bindings":[{"members":["user:admin@example.com"],"role":"roles/run.admin"},{"members":["allUsers","user:a@example.com","user:b@example.com"],"role":"roles/run.invoker"},{"condition":{"expression":"true","title":"t"},"members":["user:c@example.com"],"role":"roles/run.invoker"}]}`
	if st["policy_data"] != want {
		t.Errorf("policy_data =\n %s\nwant\n %s", st["policy_data"], want)
	}
	if st["id"] == "" || st["id"] == nil {
		t.Error("id not set")
	}
	if len(f.requests()) != 0 {
		t.Error("google_iam_policy must not call any API")
	}
}

func TestCloudRunV2ServiceIamPolicyDataSource(t *testing.T) {
	f := newTestGoogle(t, "")
	full := f.addService("us-central1", "svc")
	p, _ := newTestProvider(t, f, nil)
	if _, err := runMember(t, p, memberPlan(full, "allUsers")); err != nil {
		t.Fatal(err)
	}
	st, diags := readDS(t, p, "google_cloud_run_v2_service_iam_policy", map[string]any{"name": "svc", "location": "us-central1"})
	if diags != nil {
		t.Fatal(diags[0].Summary)
	}
	if st["policy_data"] != `{"bindings":[{"members":["allUsers"],"role":"roles/run.invoker"}]}` || st["etag"] == "" || st["name"] != full {
		t.Errorf("state = %v", st)
	}
}

func TestSnakeToCamel(t *testing.T) {
	for in, want := range map[string]string{
		"max_instance_request_concurrency": "maxInstanceRequestConcurrency",
		"uri":                              "uri",
		"service_config":                   "serviceConfig",
	} {
		if got := snakeToCamel(in); got != want {
			t.Errorf("snakeToCamel(%q) = %q, want %q", in, got, want)
		}
	}
}
