package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// One audit reads each thing once: one list of services and of functions
// and one policy and parent per project, one getIamPolicy per service,
// one read per custom role.
func TestAuditCallCount(t *testing.T) {
	emu := audittest.Start(t, audittest.FullSeed, emulator.Options{})
	emu.ResetCalls()
	rep := audittest.Audit(t, emu, audittest.FullProject)
	calls := testutil.Calls(t, emu.URL(), emu.BootstrapToken())
	want := map[string]int{
		"run.v2.services.list":             1,
		"cloudfunctions.v2.functions.list": 1,
		"crm.v1.projects.getIamPolicy":     1,
		"crm.v3.projects.get":              1,
		"run.v2.services.getIamPolicy":     len(rep.Services),
		"iam.v1.projects.roles.get":        1,
	}
	total := 0
	for k, n := range calls {
		if n > 0 {
			total++
		}
		if want[k] != n {
			t.Errorf("%s: %d calls, want %d", k, n, want[k])
		}
	}
	if total != len(want) {
		t.Errorf("calls %v, want exactly %v", calls, want)
	}
}

// 429s (with Retry-After) and 503s on every kind of read lose no service
// and no grant.
func TestAuditSurvivesThrottling(t *testing.T) {
	want, _ := audittest.Full(t)
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			emu := audittest.Start(t, audittest.FullSeed, emulator.Options{})
			for _, path := range []string{":getIamPolicy", "/services", "/functions", "/roles/invokerLite"} {
				emu.InjectFault(emulator.Fault{Path: path, Count: 3, Status: code, Header: map[string]string{"Retry-After": "0"}})
			}
			emu.FailNext(2, code)
			got := audittest.WithFindings(t, audittest.Audit(t, emu, audittest.FullProject), audittest.FullDeclaration)
			if len(got.Errors) > 0 {
				t.Fatalf("errors: %v", got.Errors)
			}
			if pending := emu.PendingFaults(); len(pending) > 0 {
				t.Fatalf("faults never hit: %+v", pending)
			}
			if g, w := grantsOf(got), grantsOf(want); g != w {
				t.Errorf("grants under %d:\n%s\nwant:\n%s", code, g, w)
			}
			if len(got.Findings) != len(want.Findings) {
				t.Errorf("%d findings, want %d", len(got.Findings), len(want.Findings))
			}
		})
	}
}

func grantsOf(r *audit.Report) string {
	var b strings.Builder
	for _, s := range r.Services {
		for _, g := range s.Grants {
			fmt.Fprintf(&b, "%s %s %s %s\n", s.Name, g.Principal, g.Role, g.Path.Resource)
		}
	}
	return b.String()
}

// ancestry answers for folders and the organization from a table, and
// asks the emulator for projects' parents; it counts its reads.
type ancestry struct {
	rm       audit.ResourceManager
	parents  map[string]string
	policies map[string]*iampolicy.Policy
	// deny: resources whose parent may not be read.
	deny  map[string]bool
	mu    sync.Mutex
	reads map[string]int
}

func (a *ancestry) count(what string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads[what]++
}

func (a *ancestry) Parent(ctx context.Context, r string) (string, error) {
	a.count("parent " + r)
	if a.deny[r] {
		return "", fmt.Errorf("403 permission denied on %s", r)
	}
	if strings.HasPrefix(r, "projects/") {
		return a.rm.Parent(ctx, r)
	}
	return a.parents[r], nil
}

func (a *ancestry) Policy(_ context.Context, r string) (*iampolicy.Policy, error) {
	a.count("policy " + r)
	p, ok := a.policies[r]
	if !ok {
		return nil, fmt.Errorf("403 permission denied on %s", r)
	}
	return p, nil
}

// Grants inherited from the project, a folder and the organization each
// carry their path; two projects under one folder read it once; a
// conditional grant keeps its condition.
func TestAuditInheritance(t *testing.T) {
	emu := testutil.StartSeeded(t, `
defaults: {location: us-central1}
projects:
  - id: team-a-prod
    parent: folders/100
    policy: [{role: roles/run.invoker, members: [group:project-callers@example.com]}]
  - id: team-b-prod
    parent: folders/100
services:
  - {name: api-a, project: team-a-prod}
  - {name: api-b, project: team-b-prod}
`)
	c := audittest.Clients(t, emu)
	// A conditional binding, set through the Run API like any client would.
	name := "projects/team-a-prod/locations/us-central1/services/api-a"
	cond := &run.GoogleTypeExpr{Title: "until 2030", Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`}
	if _, err := c.Run.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: &run.GoogleIamV1Policy{Version: 3,
		Bindings: []*run.GoogleIamV1Binding{{Role: "roles/run.invoker", Members: []string{"user:temp@example.com"}, Condition: cond}}}}).Do(); err != nil {
		t.Fatal(err)
	}
	anc := &ancestry{rm: audit.ResourceManager{CRM: c.CRM3}, reads: map[string]int{},
		parents: map[string]string{"folders/100": "folders/10", "folders/10": "organizations/1"},
		policies: map[string]*iampolicy.Policy{
			"folders/100":     {Bindings: []iampolicy.Binding{{Role: "roles/run.servicesInvoker", Members: []string{"serviceAccount:folder-bot@ops-project.iam.gserviceaccount.com"}}}},
			"folders/10":      {Bindings: []iampolicy.Binding{{Role: "roles/viewer", Members: []string{"group:readers@example.com"}}}},
			"organizations/1": {Bindings: []iampolicy.Binding{{Role: "roles/owner", Members: []string{"group:admins@example.com"}}}},
		}}
	rep, err := (&audit.Engine{Clients: c, Ancestry: anc, Workers: 4}).Audit(context.Background(), audit.Scope{Projects: []string{"team-a-prod", "team-b-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("errors: %v", rep.Errors)
	}
	for what, n := range anc.reads {
		if n != 1 {
			t.Errorf("%s read %d times", what, n)
		}
	}
	tests := []struct {
		service, principal string
		kind               audit.PathKind
		resource           string
		conditional        bool
	}{
		{"api-a", "group:project-callers@example.com", audit.PathProject, "projects/team-a-prod", false},
		{"api-a", "serviceAccount:folder-bot@ops-project.iam.gserviceaccount.com", audit.PathFolder, "folders/100", false},
		{"api-b", "serviceAccount:folder-bot@ops-project.iam.gserviceaccount.com", audit.PathFolder, "folders/100", false},
		{"api-a", "group:admins@example.com", audit.PathOrganization, "organizations/1", false},
		{"api-a", "user:temp@example.com", audit.PathService, name, true},
	}
	for _, tt := range tests {
		found := false
		for _, s := range rep.Services {
			for _, g := range s.Grants {
				if s.ID == tt.service && g.Principal == tt.principal && g.Path.Kind == tt.kind && g.Path.Resource == tt.resource && g.Conditional() == tt.conditional {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("no grant of %s to %s through %s %s (conditional %v)", tt.service, tt.principal, tt.kind, tt.resource, tt.conditional)
		}
	}
	for _, s := range rep.Services {
		for _, g := range s.Grants {
			if g.Principal == "group:readers@example.com" {
				t.Errorf("roles/viewer counted as invoke on %s", s.Name)
			}
			if s.ID == "api-b" && g.Principal == "group:project-callers@example.com" {
				t.Error("team-a-prod's project grant leaked into team-b-prod")
			}
		}
	}
	// The folder-level invoker grant is a finding on both services.
	n := 0
	for _, f := range audit.Findings(rep) {
		if f.Rule == audit.RuleAncestorInvoke.ID && f.Path.Resource == "folders/100" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d folder-level INV010 findings, want 2", n)
	}

	// An unreadable organization policy: named, the services marked
	// incomplete, the rest of the report intact.
	delete(anc.policies, "organizations/1")
	rep, err = (&audit.Engine{Clients: c, Ancestry: anc}).Audit(context.Background(), audit.Scope{Projects: []string{"team-a-prod", "team-b-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Resource != "organizations/1" || !strings.Contains(rep.Errors[0].Message, "permission denied") {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	for _, s := range rep.Services {
		if !s.Incomplete || len(s.Grants) == 0 {
			t.Errorf("%s: incomplete %v, %d grants", s.Name, s.Incomplete, len(s.Grants))
		}
	}

	// A folder whose parent may not be read: the error names the folder,
	// and the grants up to it stand.
	anc.policies["organizations/1"] = &iampolicy.Policy{}
	anc.deny = map[string]bool{"folders/10": true}
	rep, err = (&audit.Engine{Clients: c, Ancestry: anc}).Audit(context.Background(), audit.Scope{Projects: []string{"team-a-prod", "team-b-prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Resource != "folders/10" || rep.Errors[0].What != "get parent" {
		t.Fatalf("errors: %+v", rep.Errors)
	}
	for _, s := range rep.Services {
		folder := false
		for _, g := range s.Grants {
			folder = folder || g.Path.Resource == "folders/100"
		}
		if !s.Incomplete || !folder {
			t.Errorf("%s: incomplete %v, folder grant %v", s.Name, s.Incomplete, folder)
		}
	}
}
