package audit_test

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	iamcredentials "google.golang.org/api/iamcredentials/v1"

	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// An auditor that may read every policy but one service's: the report
// names that service's policy with the API's denial, marks the service
// incomplete, and the rest of the estate is reported in full. The denial
// is the emulator's own authorization of a real principal's token, not an
// injected fault.
func TestAuditPrincipalWithoutPermission(t *testing.T) {
	const auditor = "auditor@perm-project.iam.gserviceaccount.com"
	emu := testutil.StartSeeded(t, `
defaults: {project: perm-project, location: us-central1}
projects:
  - id: perm-project
    policy:
      - {role: roles/iam.serviceAccountTokenCreator, members: [user:owner@example.com]}
      - {role: projects/perm-project/roles/lister, members: [serviceAccount:`+auditor+`]}
serviceAccounts:
  - accountId: auditor
  - accountId: caller
customRoles:
  - roleId: lister
    title: Lists services and reads the project policy
    permissions: [run.services.list, run.services.get, cloudfunctions.functions.list, resourcemanager.projects.get, resourcemanager.projects.getIamPolicy, iam.roles.get]
  - roleId: policyReader
    title: Reads a service's policy
    permissions: [run.services.getIamPolicy]
services:
  - name: visible-api
    policy:
      - {role: roles/run.invoker, members: [serviceAccount:caller@perm-project.iam.gserviceaccount.com]}
      - {role: projects/perm-project/roles/policyReader, members: [serviceAccount:`+auditor+`]}
  - name: hidden-api
    policy:
      - {role: roles/run.invoker, members: [serviceAccount:caller@perm-project.iam.gserviceaccount.com]}
`)
	ctx := context.Background()
	creds, err := iamcredentials.NewService(ctx, testutil.EmulatorClientOptions(emu)...)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+auditor,
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{gcp.CloudPlatformScope}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	c, err := gcp.New(ctx, gcp.Options{Endpoint: emu.URL(), TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken}),
		Retry: gcp.RetryPolicy{Initial: 1, Max: 1}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&audit.Engine{Clients: c}).Audit(ctx, audit.Scope{Projects: []string{"perm-project"}})
	if err != nil {
		t.Fatal(err)
	}
	const hidden = "projects/perm-project/locations/us-central1/services/hidden-api"
	if len(rep.Errors) != 1 || rep.Errors[0].Resource != hidden || rep.Errors[0].What != "getIamPolicy" || !strings.HasPrefix(rep.Errors[0].Message, "403 ") {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	if len(rep.Services) != 2 {
		t.Fatalf("%d services, want 2", len(rep.Services))
	}
	for _, s := range rep.Services {
		direct := 0
		for _, g := range s.Grants {
			if !g.Path.Inherited() {
				direct++
			}
		}
		switch s.Name {
		case hidden:
			if !s.Incomplete || direct != 0 {
				t.Errorf("hidden-api: incomplete %v, %d direct grants", s.Incomplete, direct)
			}
		default:
			if s.Incomplete || direct != 1 {
				t.Errorf("%s: incomplete %v, %d direct grants (%+v)", s.Name, s.Incomplete, direct, s.Grants)
			}
		}
	}
}
