package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	functions "google.golang.org/api/cloudfunctions/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

const exampleSeed = "../../../../examples/emulator-seed.yaml"

func TestSeedExampleFileServesTheDemo(t *testing.T) {
	e, err := New(core.Options{SeedFile: exampleSeed})
	if err != nil {
		t.Fatalf("the shipped example seed does not load: %v", err)
	}
	defer e.Close()
	if e.Project() != "demo-project" {
		t.Errorf("project = %s", e.Project())
	}
	rs := rtRun(t, e, e.BootstrapToken())
	list, err := rs.Projects.Locations.Services.List(rtParent).Do()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.Services {
		names = append(names, s.Name[strings.LastIndexByte(s.Name, '/')+1:])
	}
	if strings.Join(names, ",") != "billing-api,on-upload,orders-api,resize-image" {
		t.Errorf("services = %v", names)
	}
	orders, err := rs.Projects.Locations.Services.Get(rtParent + "/services/orders-api").Do()
	if err != nil {
		t.Fatal(err)
	}
	if orders.Urls[1] != "https://orders-api-123456789012.us-central1.run.app" {
		t.Errorf("orders-api urls = %v", orders.Urls)
	}
	fs, err := functions.NewService(context.Background(), withToken(e, e.BootstrapToken())...)
	if err != nil {
		t.Fatal(err)
	}
	onUpload, err := fs.Projects.Locations.Functions.Get(rtParent + "/functions/on-upload").Do()
	if err != nil {
		t.Fatal(err)
	}
	if onUpload.EventTrigger == nil || onUpload.EventTrigger.EventFilters[0].Value != "demo-project-uploads" {
		t.Errorf("on-upload trigger = %s", mustJSON(onUpload.EventTrigger))
	}
	resize, err := fs.Projects.Locations.Functions.Get(rtParent + "/functions/resize-image").Do()
	if err != nil || resize.EventTrigger != nil {
		t.Fatalf("resize-image: %v %v", resize, err)
	}
	retired, err := ownerIAM(t, e).Projects.ServiceAccounts.Get("projects/-/serviceAccounts/retired-caller@demo-project.iam.gserviceaccount.com").Do()
	if err != nil || !retired.Disabled {
		t.Errorf("retired-caller should exist disabled: %+v %v", retired, err)
	}
	accounts, err := ownerIAM(t, e).Projects.ServiceAccounts.List("projects/demo-project").Do()
	if err != nil || len(accounts.Accounts) != 6 {
		t.Errorf("accounts: %d %v", len(accounts.Accounts), err)
	}

	// Who may call what, as the demo will show.
	call := func(account, service string) int {
		uri := rtURI(t, e, service)
		status, _, _ := rtCall(t, uri, bearer(rtIDToken(t, rtKey(t, e, account), uri)))
		return status
	}
	for _, c := range []struct {
		account, service string
		want             int
	}{
		{"frontend", "orders-api", 200},
		{"frontend", "billing-api", 403},
		{"orders-worker", "billing-api", 200},
		{"uploader", "resize-image", 200},
		{"upload-trigger", "on-upload", 200},
		{"uploader", "on-upload", 403},
		{"batch-jobs", "billing-api", 200}, // group:platform-invokers on the project
		{"batch-jobs", "on-upload", 200},
	} {
		if got := call(c.account, c.service); got != c.want {
			t.Errorf("%s → %s: %d, want %d", c.account, c.service, got, c.want)
		}
	}
	billing := rtURI(t, e, "billing-api")
	status, body, _ := rtCall(t, billing, bearer(rtIDToken(t, rtKey(t, e, "orders-worker"), "https://billing.example.com")))
	rtWant(t, "billing-api custom audience", status, 200, body)
}

func writeSeed(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSeedErrorsNameFileEntryAndProblem(t *testing.T) {
	const head = "defaults: {project: demo-project, location: us-central1}\nprojects: [{id: demo-project}]\n"
	cases := []struct {
		name, seed string
		want       []string
	}{
		{"unknown key", head + "services:\n  - name: a-svc\n    colour: red\n", []string{"field colour not found"}},
		{"bad service name", head + "services: [{name: ok-svc}, {name: Bad_Name}]\n", []string{"services[1] (Bad_Name)", "service name \"Bad_Name\""}},
		{"bad ingress", head + "services: [{name: a-svc, ingress: sideways}]\n", []string{"services[0] (a-svc)", "ingress \"sideways\""}},
		{"duplicate service", head + "services: [{name: a-svc}, {name: a-svc}]\n", []string{"services[1] (a-svc)", "declared twice"}},
		{"bad member", head + "services: [{name: a-svc, policy: [{role: roles/run.invoker, members: [bob]}]}]\n",
			[]string{"services[0] (a-svc): policy[0]", "member \"bob\""}},
		{"undeclared account", head + "services: [{name: a-svc, policy: [{role: roles/run.invoker, members: ['serviceAccount:ghost@demo-project.iam.gserviceaccount.com']}]}]\n",
			[]string{"services[0] (a-svc): policy[0]", "ghost@demo-project.iam.gserviceaccount.com does not exist"}},
		{"bad role", head + "services: [{name: a-svc, policy: [{role: invoker, members: [allUsers]}]}]\n", []string{"role \"invoker\""}},
		{"undeclared custom role", head + "services: [{name: a-svc, policy: [{role: projects/demo-project/roles/nope, members: [allUsers]}]}]\n",
			[]string{"custom role projects/demo-project/roles/nope is not declared"}},
		{"short account id", head + "serviceAccounts: [{accountId: abc}]\n", []string{"serviceAccounts[0] (abc)", "6-30 characters"}},
		{"bad number", "projects: [{id: demo-project, number: '12'}]\n", []string{"projects[0] (demo-project)", "12 digits"}},
		{"group name", head + "groups: [{name: not-an-email, members: [allUsers]}]\n", []string{"groups[0] (not-an-email)", "not a group email"}},
		{"trigger without type", head + "functions: [{name: fn-a, eventTrigger: {retryPolicy: RETRY_POLICY_RETRY}}]\n",
			[]string{"functions[0] (fn-a)", "eventTrigger.eventType is required"}},
		{"function over a declared service with its own fields", head + "services: [{name: a-svc}]\nfunctions: [{name: fn-a, service: a-svc, ingress: none}]\n",
			[]string{"functions[0] (fn-a)", "declared in services[0]"}},
		{"response status", head + "services: [{name: a-svc, responseStatus: 42}]\n", []string{"responseStatus 42"}},
		{"empty", "", []string{"empty"}},
		{"two problems at once", head + "services: [{name: A}, {name: b-svc, location: mars}]\n",
			[]string{"services[0] (A)", "services[1] (b-svc)", "location \"mars\""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeSeed(t, "seed.yaml", c.seed)
			// Context-free problems stop LoadSeed; references are resolved
			// when the seed meets the state (New).
			_, err := seed.LoadSeed(path)
			if err == nil {
				var e *core.Server
				if e, err = New(core.Options{SeedFile: path}); err == nil {
					e.Close()
					t.Fatalf("seed accepted:\n%s", c.seed)
				}
			}
			msg := err.Error()
			for _, w := range append([]string{path}, c.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestSeedReferencesCheckedAgainstStateBeforeAnyChange(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	good := writeSeed(t, "good.yaml", "projects: [{id: demo-project, number: '123456789012'}]\nserviceAccounts: [{project: demo-project, accountId: first-one}]\n")
	e, err := New(core.Options{StateFile: state, SeedFile: good})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	// Valid on its own, wrong against the state: the project number differs
	// from the stored one, and the last entry names an unknown project.
	bad := writeSeed(t, "bad.yaml", `
projects: [{id: demo-project, number: "999999999999"}]
serviceAccounts: [{project: demo-project, accountId: second-one}]
services:
  - {project: demo-project, location: us-central1, name: fine-svc}
  - {project: other-project, location: us-central1, name: lost-svc}
`)
	_, err = New(core.Options{StateFile: state, SeedFile: bad})
	if err == nil {
		t.Fatal("New accepted a seed that contradicts the state")
	}
	for _, w := range []string{bad, "projects[0] (demo-project)", "number 123456789012", "services[1] (lost-svc)", `project "other-project" is not declared`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	after, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("a rejected seed changed the state file")
	}
	// Re-applying the good seed on the stored state is harmless: same account.
	e, err = New(core.Options{StateFile: state, SeedFile: good})
	if err != nil {
		t.Fatalf("re-applying a seed over its own state: %v", err)
	}
	defer e.Close()
	sa, err := ownerIAM(t, e).Projects.ServiceAccounts.Get("projects/-/serviceAccounts/first-one@demo-project.iam.gserviceaccount.com").Do()
	if err != nil || !strings.Contains(string(before), sa.UniqueId) {
		t.Errorf("account changed on re-seed: %+v %v", sa, err)
	}
}

func TestSeedJSONAndProgrammatic(t *testing.T) {
	path := writeSeed(t, "seed.json", `{
  "defaults": {"project": "json-project", "location": "europe-west1"},
  "projects": [{"id": "json-project", "number": 111111111111}],
  "serviceAccounts": [{"accountId": "json-caller", "disabled": true}],
  "services": [{"name": "json-svc", "invokerIamDisabled": true}]
}`)
	s, err := seed.LoadSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(core.Options{Seed: s, Project: "json-project"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	svc, err := rtRun(t, e, e.BootstrapToken()).Projects.Locations.Services.Get("projects/json-project/locations/europe-west1/services/json-svc").Do()
	if err != nil {
		t.Fatal(err)
	}
	if !svc.InvokerIamDisabled || svc.Urls[1] != "https://json-svc-111111111111.europe-west1.run.app" {
		t.Errorf("json-svc = %+v", svc)
	}
	sa, err := ownerIAM(t, e).Projects.ServiceAccounts.Get("projects/-/serviceAccounts/json-caller@json-project.iam.gserviceaccount.com").Do()
	if err != nil || !sa.Disabled {
		t.Errorf("json-caller: %+v %v", sa, err)
	}

	// A programmatic seed whose entries use the default project without
	// declaring it: the default project is created for them.
	prog := &seed.Seed{ServiceAccounts: []seed.SeedServiceAccount{{AccountID: "prog-caller"}}, Defaults: seed.SeedDefaults{Project: "demo-project"}}
	e2, err := New(core.Options{Seed: prog})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if _, err := ownerIAM(t, e2).Projects.ServiceAccounts.Get("projects/-/serviceAccounts/prog-caller@demo-project.iam.gserviceaccount.com").Do(); err != nil {
		t.Errorf("prog-caller: %v", err)
	}
	// A programmatic seed is validated too.
	_, err = New(core.Options{Seed: &seed.Seed{Services: []seed.SeedService{{Name: "x"}}}})
	if err == nil || !strings.Contains(err.Error(), "services[0] (x)") {
		t.Errorf("bad programmatic seed: %v", err)
	}
}
