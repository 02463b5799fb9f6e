package audit_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/verify"
)

// declaredSeed: api grants caller; on-upload is an event-driven function whose trigger account
// the seed grants, like a deployment; off is disabled.
const declaredSeed = `defaults: {project: drift-proj, location: us-central1}
projects:
  - id: drift-proj
serviceAccounts:
  - accountId: caller
  - accountId: off-caller
    disabled: true
  - accountId: trigger
services:
  - name: api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:caller@drift-proj.iam.gserviceaccount.com, serviceAccount:off-caller@drift-proj.iam.gserviceaccount.com, allUsers]
functions:
  - name: on-upload
    runtime: go125
    entryPoint: Main
    eventTrigger:
      eventType: google.cloud.storage.object.v1.finalized
      serviceAccountEmail: trigger@drift-proj.iam.gserviceaccount.com
`

func TestDeclaredDrift(t *testing.T) {
	emu := testutil.StartSeeded(t, declaredSeed)
	clients := audittest.Clients(t, emu)
	// bare is created through Run v2, as a re-create does: its policy is
	// empty.
	if _, err := clients.Run.Projects.Locations.Services.Create("projects/drift-proj/locations/us-central1", &run.GoogleCloudRunV2Service{}).ServiceId("bare").Do(); err != nil {
		t.Fatal(err)
	}
	sa := func(id string) string { return "serviceAccount:" + id + "@drift-proj.iam.gserviceaccount.com" }
	svc := func(name string) verify.Target {
		return verify.Target{Project: "drift-proj", Location: "us-central1", Service: name}
	}
	tests := []struct {
		name string
		exps []verify.Expectation
		want []string // "RULE service principal"
		// wantMessage is in some finding's message.
		wantMessage string
	}{
		{"public declared, a disabled account", []verify.Expectation{{Target: svc("api"), Members: []string{sa("caller"), sa("off-caller")}, Public: true}},
			[]string{"INV072 api " + sa("off-caller")}, "is disabled"},
		{"public not declared", []verify.Expectation{{Target: svc("api"), Members: []string{sa("caller"), sa("off-caller")}}},
			[]string{"INV001 api allUsers", "INV072 api " + sa("off-caller")}, ""},
		{"an account that does not exist", []verify.Expectation{{Target: svc("api"), Members: []string{sa("caller"), sa("off-caller"), sa("gone")}, Public: true}},
			[]string{"INV070 api " + sa("gone"), "INV072 api " + sa("off-caller")}, "was deleted"},
		{"a service whose policy is empty, as after a re-create", []verify.Expectation{{Target: svc("bare"), Members: []string{sa("caller")}}},
			[]string{"INV070 bare " + sa("caller")}, "bare (drift-proj/us-central1) was re-created at "},
		{"a disabled account whose grant is missing too", []verify.Expectation{{Target: svc("bare"), Members: []string{sa("off-caller")}}},
			[]string{"INV070 bare " + sa("off-caller"), "INV072 bare " + sa("off-caller")}, "is disabled"},
		{"an event-driven function's trigger account is not click-ops", []verify.Expectation{{Target: verify.Target{Project: "drift-proj", Location: "us-central1", Function: "on-upload"}}},
			nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vrep, err := (&verify.Verifier{Clients: clients}).Verify(context.Background(), tt.exps)
			if err != nil {
				t.Fatal(err)
			}
			rep := audit.DeclaredTargets(vrep)
			accounts, errs := audit.ReadAccounts(context.Background(), clients.IAM, audit.AccountEmails(tt.exps))
			if len(errs) > 0 || len(rep.Errors) > 0 {
				t.Fatalf("read errors: %v %v", errs, rep.Errors)
			}
			findings := audit.DeclaredDrift(rep, audit.Declared{Expectations: tt.exps, Accounts: accounts, Apply: "invokerctl apply -f x.yaml"})
			var got []string
			msgs := ""
			for _, f := range findings {
				got = append(got, f.Rule+" "+f.Service[strings.LastIndexByte(f.Service, '/')+1:]+" "+f.Principal)
				msgs += f.Message + "\n"
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings = %q, want %q\n%s", got, tt.want, msgs)
			}
			if !strings.Contains(msgs, tt.wantMessage) {
				t.Errorf("no finding says %q:\n%s", tt.wantMessage, msgs)
			}
		})
	}
}

// One service named by several expectations is one service of the report,
// and a target that cannot be read is a read error naming it, not a
// target missing.
func TestDeclaredTargets(t *testing.T) {
	emu := testutil.StartSeeded(t, declaredSeed)
	emu.InjectFault(emulator.Fault{Path: "services/on-upload:getIamPolicy", Count: 1000, Status: 403, Message: "denied"})
	exps := []verify.Expectation{
		{Target: verify.Target{Project: "drift-proj", Location: "us-central1", Service: "api"}},
		{Target: verify.Target{Project: "drift-proj", Location: "us-central1", Service: "api"}},
		{Target: verify.Target{Project: "drift-proj", Location: "us-central1", Function: "on-upload"}},
	}
	vrep, err := (&verify.Verifier{Clients: audittest.Clients(t, emu)}).Verify(context.Background(), exps)
	if err != nil {
		t.Fatal(err)
	}
	rep := audit.DeclaredTargets(vrep)
	if len(rep.Services) != 1 || rep.Services[0].ID != "api" || !slices.Equal(rep.Scope, []string{"projects/drift-proj"}) {
		t.Errorf("services %d, scope %v", len(rep.Services), rep.Scope)
	}
	if len(rep.Errors) != 1 || !strings.HasSuffix(rep.Errors[0].Resource, "/functions/on-upload") || !strings.Contains(rep.Errors[0].Message, "403") {
		t.Errorf("errors = %+v", rep.Errors)
	}
	for _, f := range audit.DeclaredDrift(rep, audit.Declared{Expectations: exps}) {
		if strings.Contains(f.Service, "on-upload") {
			t.Errorf("unread target reported: %s", f.Message)
		}
	}
}
