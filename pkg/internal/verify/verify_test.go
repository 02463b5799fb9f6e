package verify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
	"github.com/invokerctl/invokerctl/pkg/internal/report"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"google.golang.org/api/googleapi"
)

const seedYAML = `
defaults: {project: verify-proj, location: us-central1}
projects:
  - id: verify-proj
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:inherited@verify-proj.iam.gserviceaccount.com]
      - role: roles/cloudfunctions.invoker
        members: [serviceAccount:gen1-caller@verify-proj.iam.gserviceaccount.com]
  - id: other-proj
serviceAccounts:
  - accountId: direct-caller
  - accountId: inherited
  - accountId: gen1-caller
  - accountId: custom-role-caller
  - accountId: fn-caller
  - accountId: trigger-sa
  - {accountId: elsewhere, project: other-proj}
customRoles:
  - {roleId: invokeOnly, title: Invoke only, permissions: [run.routes.invoke]}
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:direct-caller@verify-proj.iam.gserviceaccount.com]
      - role: projects/verify-proj/roles/invokeOnly
        members: [serviceAccount:custom-role-caller@verify-proj.iam.gserviceaccount.com]
  - name: open-api
    policy:
      - role: roles/run.invoker
        members: [allUsers]
  - name: no-iam
    invokerIamDisabled: true
  - name: internal-api
    ingress: INGRESS_TRAFFIC_INTERNAL_ONLY
  - {name: remote-api, project: other-proj, location: europe-west1}
functions:
  - name: resize
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:fn-caller@verify-proj.iam.gserviceaccount.com]
  - name: on-upload
    eventTrigger:
      eventType: google.cloud.storage.object.v1.finalized
      serviceAccountEmail: trigger-sa@verify-proj.iam.gserviceaccount.com
`

func sa(id string) string { return "serviceAccount:" + id + "@verify-proj.iam.gserviceaccount.com" }

func newVerifier(t *testing.T) (*emulator.Emulator, *Verifier) {
	t.Helper()
	e := testutil.StartSeededWith(t, seedYAML, emulator.Options{Project: "verify-proj"})
	return e, &Verifier{Clients: testutil.GCPClients(t, e, gcp.RetryPolicy{})}
}

func svc(name string) Target {
	return Target{Project: "verify-proj", Location: "us-central1", Service: name}
}

func TestVerifyStatuses(t *testing.T) {
	_, v := newVerifier(t)
	tests := []struct {
		name     string
		exp      Expectation
		statuses []iampolicy.Status
		ok       bool
		problem  string // substring of a problem, when !ok
		warning  string
	}{
		{"direct", Expectation{Target: svc("orders-api"), Members: []string{sa("direct-caller")}}, []iampolicy.Status{iampolicy.StatusDirect}, true, "", ""},
		{"inherited from project", Expectation{Target: svc("orders-api"), Members: []string{sa("inherited")}}, []iampolicy.Status{iampolicy.StatusInherited}, true, "", ""},
		{"custom role", Expectation{Target: svc("orders-api"), Members: []string{sa("custom-role-caller")}}, []iampolicy.Status{iampolicy.StatusDirect}, true, "", ""},
		{"missing names member and service", Expectation{Target: svc("orders-api"), Members: []string{sa("fn-caller")}}, []iampolicy.Status{iampolicy.StatusMissing}, false,
			"serviceAccount:fn-caller@verify-proj.iam.gserviceaccount.com cannot invoke projects/verify-proj/locations/us-central1/services/orders-api", ""},
		{"1st-gen role hint", Expectation{Target: svc("orders-api"), Members: []string{sa("gen1-caller")}}, []iampolicy.Status{iampolicy.StatusMissing}, false,
			"roles/cloudfunctions.invoker, which covers only 1st-gen", ""},
		{"public not declared", Expectation{Target: svc("open-api"), Members: []string{sa("direct-caller")}}, []iampolicy.Status{iampolicy.StatusPublic}, false,
			"is public (allUsers) but the declaration does not say public: true", "no grant of its own"},
		{"public declared", Expectation{Target: svc("open-api"), Members: []string{"allUsers"}, Public: true}, []iampolicy.Status{iampolicy.StatusDirect}, true, "", ""},
		{"invoker IAM disabled", Expectation{Target: svc("no-iam"), Members: []string{sa("inherited")}}, []iampolicy.Status{iampolicy.StatusInherited}, false, "invokerIamDisabled", ""},
		{"invoker IAM disabled, no binding, declared public", Expectation{Target: svc("no-iam"), Members: []string{sa("fn-caller")}, Public: true}, []iampolicy.Status{iampolicy.StatusPublic}, true, "", "public (invokerIamDisabled)"},
		{"invoker IAM disabled, no binding, not declared", Expectation{Target: svc("no-iam"), Members: []string{sa("fn-caller")}}, []iampolicy.Status{iampolicy.StatusPublic}, false, "but the declaration does not say public: true", "public (invokerIamDisabled)"},
		{"internal ingress warns", Expectation{Target: svc("internal-api"), Members: []string{sa("inherited")}}, []iampolicy.Status{iampolicy.StatusInherited}, true, "", "INGRESS_TRAFFIC_INTERNAL_ONLY"},
		{"function resolves to its service", Expectation{Target: Target{Project: "verify-proj", Location: "us-central1", Function: "resize"}, Members: []string{sa("fn-caller")}}, []iampolicy.Status{iampolicy.StatusDirect}, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := v.Verify(context.Background(), []Expectation{tt.exp})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Results[0]
			if r.Err != nil {
				t.Fatalf("unexpected error: %v", r.Err)
			}
			for i, want := range tt.statuses {
				if got := r.Members[i].Status; got != want {
					t.Errorf("member %s: %s, want %s", r.Members[i].Member, got, want)
				}
			}
			if r.OK() != tt.ok {
				t.Fatalf("OK = %v, want %v (problems %q)", r.OK(), tt.ok, r.Problems)
			}
			if tt.problem != "" && !strings.Contains(strings.Join(r.Problems, "\n"), tt.problem) {
				t.Errorf("problems %q lack %q", r.Problems, tt.problem)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tt.warning) {
				t.Errorf("warnings %q lack %q", r.Warnings, tt.warning)
			}
		})
	}
}

func TestVerifyFunctionDetails(t *testing.T) {
	_, v := newVerifier(t)
	rep, err := v.Verify(context.Background(), []Expectation{
		{Target: Target{Project: "verify-proj", Location: "us-central1", Function: "on-upload"}, Members: []string{sa("trigger-sa")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.Err != nil || r.Function == nil || !r.Function.EventDriven || r.Function.EventType == "" {
		t.Fatalf("function = %+v err %v", r.Function, r.Err)
	}
	if !strings.HasPrefix(r.ServiceName, "projects/verify-proj/locations/us-central1/services/") || r.URI == "" {
		t.Errorf("service %q uri %q", r.ServiceName, r.URI)
	}
}

func TestVerifyDeletedMemberAndMissingService(t *testing.T) {
	e, v := newVerifier(t)
	ctx := context.Background()
	// Delete an account that holds a direct grant: IAM rewrites the member
	// to deleted:serviceAccount:...?uid=...
	if _, err := v.Clients.IAM.Projects.ServiceAccounts.Delete("projects/verify-proj/serviceAccounts/direct-caller@verify-proj.iam.gserviceaccount.com").Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	_ = e
	rep, err := v.Verify(ctx, []Expectation{
		{Target: svc("orders-api"), Members: []string{sa("direct-caller")}},
		{Target: svc("ghost-api"), Members: []string{sa("direct-caller")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.OK() || len(r.DeletedMembers) != 1 || !strings.HasPrefix(r.DeletedMembers[0], "deleted:serviceAccount:direct-caller@") {
		t.Fatalf("deleted members %v, problems %v", r.DeletedMembers, r.Problems)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "principal was deleted") {
		t.Errorf("warnings %q", r.Warnings)
	}
	ghost := rep.Results[1]
	if ghost.Err == nil || !isNotFound(ghost.Err) || !strings.Contains(ghost.Err.Error(), "ghost-api") {
		t.Fatalf("ghost err = %v", ghost.Err)
	}
	if rep.OK() {
		t.Error("report should fail")
	}
	cases := rep.Cases()
	var fails int
	for _, c := range cases {
		if c.Outcome == report.Fail {
			fails++
		}
	}
	if fails != 2 {
		t.Errorf("%d failing cases, want 2: %+v", fails, cases)
	}
}

// One getIamPolicy per distinct service and one project policy read per
// project, whatever the number of grants.
func TestVerifyCallCounts(t *testing.T) {
	e, v := newVerifier(t)
	var exps []Expectation
	for i := 0; i < 5; i++ {
		exps = append(exps,
			Expectation{Target: svc("orders-api"), Members: []string{sa("direct-caller"), sa("inherited")}},
			Expectation{Target: svc("internal-api"), Members: []string{sa("inherited")}},
			Expectation{Target: Target{Project: "other-proj", Location: "europe-west1", Service: "remote-api"}, Members: []string{"serviceAccount:elsewhere@other-proj.iam.gserviceaccount.com"}},
			Expectation{Target: svc("orders-api"), Members: []string{sa("custom-role-caller")}},
		)
	}
	e.ResetCalls()
	if _, err := v.Verify(context.Background(), exps); err != nil {
		t.Fatal(err)
	}
	calls := e.Calls()
	want := map[string]int{
		"run.v2.services.getIamPolicy":    3,
		"run.v2.services.get":             3,
		"crm.v1.projects.getIamPolicy":    2,
		"iam.v1.projects.roles.get":       1,
		"run.v2.services.setIamPolicy":    0,
		"crm.v1.projects.setIamPolicy":    0,
		"cloudfunctions.v2.functions.get": 0,
	}
	for k, n := range want {
		if calls[k] != n {
			t.Errorf("%s called %d times, want %d (all: %v)", k, calls[k], n, calls)
		}
	}
}

// 429 and 503 from the API are retried (honouring Retry-After) and the
// verification still completes.
func TestVerifyRetriesTransientErrors(t *testing.T) {
	e, _ := newVerifier(t)
	clients := testutil.GCPClients(t, e, gcp.RetryPolicy{Initial: 1, Max: 2})
	v := &Verifier{Clients: clients}
	for _, code := range []int{503, 429} {
		e.ResetCalls()
		e.FailNext(3, code)
		rep, err := v.Verify(context.Background(), []Expectation{{Target: svc("orders-api"), Members: []string{sa("direct-caller")}}})
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Results[0]; r.Err != nil || !r.OK() {
			t.Fatalf("after %d burst: err %v problems %v", code, r.Err, r.Problems)
		}
	}
}

// isNotFound reports whether err is a 404 from a Google API.
func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == 404
}
