package audit_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// hierarchySeed puts two projects under one folder, under another folder,
// under an organization, each level granting something.
const hierarchySeed = `
organizations:
  - id: "4242"
    displayName: example.com
    policy: [{role: roles/run.invoker, members: [group:everyone@example.com]}]
folders:
  - id: "10"
    parent: organizations/4242
    displayName: Engineering
    policy: [{role: roles/viewer, members: [group:readers@example.com]}]
  - id: "100"
    parent: folders/10
    displayName: Payments
    policy: [{role: roles/run.servicesInvoker, members: ["serviceAccount:folder-bot@ops-project.iam.gserviceaccount.com"]}]
projects:
  - id: team-a-prod
    parent: folders/100
    policy: [{role: roles/run.invoker, members: [group:project-callers@example.com]}]
  - id: team-b-prod
    parent: folders/100
defaults: {location: us-central1}
services:
  - {name: api-a, project: team-a-prod}
  - {name: api-b, project: team-b-prod}
`

// The real Resource Manager ancestry against the emulator's hierarchy:
// every inherited grant carries the folder or organization it comes from,
// each ancestor is read once however many projects share it, and an
// organization policy that cannot be read is named while the rest stands.
func TestAuditInheritanceThroughResourceManager(t *testing.T) {
	emu := testutil.StartSeeded(t, hierarchySeed)
	c := audittest.Clients(t, emu)
	engine := &audit.Engine{Clients: c, Ancestry: audit.ResourceManager{CRM: c.CRM3}, Workers: 4}
	emu.ResetCalls()
	rep, err := engine.Audit(context.Background(), audit.Scope{Projects: []string{"team-a-prod", "team-b-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	want := []struct {
		service, principal, resource string
		kind                         audit.PathKind
	}{
		{"api-a", "group:project-callers@example.com", "projects/team-a-prod", audit.PathProject},
		{"api-a", "serviceAccount:folder-bot@ops-project.iam.gserviceaccount.com", "folders/100", audit.PathFolder},
		{"api-b", "serviceAccount:folder-bot@ops-project.iam.gserviceaccount.com", "folders/100", audit.PathFolder},
		{"api-a", "group:everyone@example.com", "organizations/4242", audit.PathOrganization},
		{"api-b", "group:everyone@example.com", "organizations/4242", audit.PathOrganization},
	}
	for _, w := range want {
		if !hasGrant(rep, w.service, w.principal, w.resource, w.kind) {
			t.Errorf("no grant of %s to %s through %s %s", w.service, w.principal, w.kind, w.resource)
		}
	}
	if hasGrant(rep, "api-b", "group:project-callers@example.com", "projects/team-a-prod", audit.PathProject) {
		t.Error("team-a-prod's project grant leaked into team-b-prod")
	}
	if hasGrant(rep, "api-a", "group:readers@example.com", "folders/10", audit.PathFolder) {
		t.Error("roles/viewer counted as invoke")
	}
	calls := emu.Calls()
	folderPolicies := calls["crm.v3.folders.getIamPolicy"] + calls["crm.v2.folders.getIamPolicy"]
	if folderPolicies != 2 || calls["crm.v3.organizations.getIamPolicy"] != 1 || calls["crm.v3.folders.get"] != 2 {
		t.Errorf("ancestor reads %v: want each of the 2 folders and the organization read once", calls)
	}

	// The organization's policy refused: named, the services incomplete,
	// the grants below it intact.
	emu.InjectFault(emulator.Fault{Path: "organizations/4242:getIamPolicy", Count: 100, Status: http.StatusForbidden})
	rep, err = engine.Audit(context.Background(), audit.Scope{Projects: []string{"team-a-prod", "team-b-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Resource != "organizations/4242" {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	for _, s := range rep.Services {
		if !s.Incomplete {
			t.Errorf("%s not marked incomplete", s.Name)
		}
	}
	if !hasGrant(rep, "api-a", "serviceAccount:folder-bot@ops-project.iam.gserviceaccount.com", "folders/100", audit.PathFolder) {
		t.Error("the folder grant was lost with the organization's policy")
	}
}

func hasGrant(rep *audit.Report, service, principal, resource string, kind audit.PathKind) bool {
	for _, s := range rep.Services {
		for _, g := range s.Grants {
			if s.ID == service && g.Principal == principal && g.Path.Kind == kind && g.Path.Resource == resource {
				return true
			}
		}
	}
	return false
}
