package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/audit"
	"github.com/invokerctl/invokerctl/pkg/internal/audit/audittest"
	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// hierarchySeedWithSibling is hierarchySeed with a project outside folder
// 100, directly under the organization.
const hierarchySeedWithSibling = hierarchySeed + `
  - {name: api-c, project: team-c-prod, ingress: INGRESS_TRAFFIC_INTERNAL_ONLY, customAudiences: [https://c.example.com]}
`

func siblingSeed() string {
	return strings.Replace(hierarchySeedWithSibling, "defaults:", `  - id: team-c-prod
    parent: organizations/4242
defaults:`, 1)
}

// The two engines give the same report on the same estate: the same
// services with the same fields, grants with their paths, exposures,
// findings and drift.
func TestAuditAssetEngineAgreesWithProjectEngine(t *testing.T) {
	tests := []struct {
		name        string
		emu         func(t *testing.T) *emulator.Emulator
		projects    []string
		parents     []string
		declaration string
		wantMin     int // services at least, so an empty agreement fails
	}{
		{
			name: "full estate, every finding",
			emu: func(t *testing.T) *emulator.Emulator {
				return audittest.Start(t, audittest.FullSeed, emulator.Options{})
			},
			projects:    []string{audittest.FullProject},
			parents:     []string{"projects/" + audittest.FullProject},
			declaration: audittest.FullDeclaration,
			wantMin:     5,
		},
		{
			name:     "hierarchy, from the organization",
			emu:      func(t *testing.T) *emulator.Emulator { return testutil.StartSeeded(t, siblingSeed()) },
			projects: []string{"team-a-prod", "team-b-prod", "team-c-prod"},
			parents:  []string{"organizations/4242"},
			wantMin:  3,
		},
		{
			name:     "hierarchy, overlapping scopes count each service once",
			emu:      func(t *testing.T) *emulator.Emulator { return testutil.StartSeeded(t, siblingSeed()) },
			projects: []string{"team-a-prod", "team-b-prod"},
			parents:  []string{"folders/100", "projects/team-a-prod"},
			wantMin:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := tt.emu(t)
			c := audittest.Clients(t, emu)
			byProject, err := (&audit.Engine{Clients: c}).Audit(context.Background(), audit.Scope{Projects: tt.projects})
			if err != nil {
				t.Fatal(err)
			}
			byAsset, err := (&audit.Engine{Clients: c}).AuditAssets(context.Background(), audit.AssetScope{Parents: tt.parents})
			if err != nil {
				t.Fatal(err)
			}
			if len(byAsset.Errors) > 0 || len(byProject.Errors) > 0 {
				t.Fatalf("errors: asset %+v, project %+v", byAsset.Errors, byProject.Errors)
			}
			if len(byProject.Services) < tt.wantMin {
				t.Fatalf("the project engine found %d services, want at least %d", len(byProject.Services), tt.wantMin)
			}
			if tt.declaration != "" {
				audittest.WithFindings(t, byProject, tt.declaration)
				audittest.WithFindings(t, byAsset, tt.declaration)
			} else {
				byProject.Findings = audit.Findings(byProject)
				byAsset.Findings = audit.Findings(byAsset)
				byProject.Sort()
				byAsset.Sort()
			}
			if len(byProject.Findings) == 0 {
				t.Fatal("no findings to compare")
			}
			if got, want := asJSON(t, byAsset.Services), asJSON(t, byProject.Services); got != want {
				t.Errorf("services differ:\nasset engine   %s\nproject engine %s", got, want)
			}
			if got, want := asJSON(t, byAsset.Findings), asJSON(t, byProject.Findings); got != want {
				t.Errorf("findings differ:\nasset engine   %s\nproject engine %s", got, want)
			}
		})
	}
}

// A folder scope sees its subtree only; the organization sees all.
func TestAuditAssetEngineScope(t *testing.T) {
	emu := testutil.StartSeeded(t, siblingSeed())
	engine := &audit.Engine{Clients: audittest.Clients(t, emu)}
	tests := []struct {
		parents  []string
		location string
		want     []string
	}{
		{parents: []string{"folders/100"}, want: []string{"api-a", "api-b"}},
		{parents: []string{"folders/10"}, want: []string{"api-a", "api-b"}},
		{parents: []string{"organizations/4242"}, want: []string{"api-a", "api-b", "api-c"}},
		{parents: []string{"projects/team-c-prod"}, want: []string{"api-c"}},
		{parents: []string{"organizations/4242"}, location: "europe-west1", want: nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.parents, ",")+"@"+tt.location, func(t *testing.T) {
			rep, err := engine.AuditAssets(context.Background(), audit.AssetScope{Parents: tt.parents, Location: tt.location})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range rep.Services {
				got = append(got, s.ID)
			}
			if !slices.Equal(got, tt.want) || len(rep.Errors) > 0 {
				t.Errorf("services %v (errors %+v), want %v", got, rep.Errors, tt.want)
			}
		})
	}
}

// manyServicesSeed is n services spread over projects p0…p{k-1} under one
// folder of one organization, each service with a policy of its own.
func manyServicesSeed(projects, services int) string {
	var b strings.Builder
	b.WriteString("organizations:\n  - id: \"77\"\n    policy: [{role: roles/run.invoker, members: [group:org@example.com]}]\n")
	b.WriteString("folders:\n  - {id: \"700\", parent: organizations/77}\nprojects:\n")
	for p := range projects {
		fmt.Fprintf(&b, "  - {id: scale-p%d, parent: folders/700}\n", p)
	}
	b.WriteString("defaults: {location: us-central1}\nservices:\n")
	for i := range services {
		fmt.Fprintf(&b, "  - {name: svc-%03d, project: scale-p%d, policy: [{role: roles/run.invoker, members: [\"user:u%d@example.com\"]}]}\n", i, i%projects, i)
	}
	return b.String()
}

// The asset engine's calls, from the emulator's counters: Cloud Asset
// calls are the pages of the two listings, Resource Manager reads one
// policy per project, folder and organization, and no service policy is
// read one by one — however many services there are.
func TestAuditAssetEngineCallCount(t *testing.T) {
	tests := []struct {
		name               string
		projects, services int
		pageSize           int64
		wantAssetCalls     int
	}{
		{name: "30 services in 3 projects, max page", projects: 3, services: 30, wantAssetCalls: 2},
		{name: "300 services in 3 projects, max page", projects: 3, services: 300, wantAssetCalls: 2},
		{name: "30 services in 3 projects, pages of 10", projects: 3, services: 30, pageSize: 10, wantAssetCalls: 6},
		{name: "30 services in 3 projects, pages of 7", projects: 3, services: 30, pageSize: 7, wantAssetCalls: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := testutil.StartSeeded(t, manyServicesSeed(tt.projects, tt.services))
			engine := &audit.Engine{Clients: audittest.Clients(t, emu), AssetPageSize: tt.pageSize}
			emu.ResetCalls()
			rep, err := engine.AuditAssets(context.Background(), audit.AssetScope{Parents: []string{"organizations/77"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Services) != tt.services || len(rep.Errors) > 0 {
				t.Fatalf("%d services (errors %+v), want %d", len(rep.Services), rep.Errors, tt.services)
			}
			for _, s := range rep.Services {
				own := slices.ContainsFunc(s.Grants, func(g audit.Grant) bool {
					return g.Path.Kind == audit.PathService && strings.HasPrefix(g.Principal, "user:u")
				})
				org := slices.ContainsFunc(s.Grants, func(g audit.Grant) bool {
					return g.Path.Resource == "organizations/77" && g.Principal == "group:org@example.com"
				})
				if !own || !org {
					t.Fatalf("%s: grants %+v, want its own and the organization's", s.Name, s.Grants)
				}
			}
			calls := emu.Calls()
			want := map[string]int{
				"cloudasset.v1.assets.list":         tt.wantAssetCalls,
				"run.v2.services.getIamPolicy":      0,
				"crm.v1.projects.getIamPolicy":      tt.projects,
				"crm.v3.folders.getIamPolicy":       1,
				"crm.v3.organizations.getIamPolicy": 1,
				"crm.v3.projects.get":               0,
				"crm.v3.folders.get":                0,
			}
			for name, n := range want {
				if calls[name] != n {
					t.Errorf("%s: %d calls, want %d (all: %v)", name, calls[name], n, calls)
				}
			}
		})
	}
}

// A burst of 429s with Retry-After on the listings is waited out (the
// wait the server asks for) and no service is lost.
func TestAuditAssetEngineWaitsOut429(t *testing.T) {
	emu := testutil.StartSeeded(t, manyServicesSeed(3, 30))
	var mu sync.Mutex
	var waits []time.Duration
	c, err := gcp.New(context.Background(), gcp.Options{Endpoint: emu.URL(),
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: emu.BootstrapToken()}),
		Retry: gcp.RetryPolicy{Sleep: func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, d)
			return nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	emu.InjectFault(emulator.Fault{Path: "/assets", Count: 4, Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "7"}})
	rep, err := (&audit.Engine{Clients: c, AssetPageSize: 10}).AuditAssets(context.Background(), audit.AssetScope{Parents: []string{"folders/700"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Services) != 30 || len(rep.Errors) > 0 {
		t.Fatalf("%d services, errors %+v: want all 30 and none", len(rep.Services), rep.Errors)
	}
	if len(emu.PendingFaults()) != 0 {
		t.Fatal("the 429s were not all served")
	}
	if len(waits) != 4 || slices.ContainsFunc(waits, func(d time.Duration) bool { return d != 7*time.Second }) {
		t.Errorf("waits %v, want four of Retry-After's 7s", waits)
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A listing the caller may not read is named in the report with the
// scope it was asked on. Without the policies listing every service is
// still there, marked incomplete, with its inherited grants; without the
// resources listing no service can be reported.
func TestAuditAssetEngineUnreadableListing(t *testing.T) {
	const denied = "Permission 'cloudasset.assets.listResource' denied on resource"
	tests := []struct {
		name     string
		refusals int // of the two listings' calls, whichever come first
	}{
		{name: "one listing refused", refusals: 1},
		{name: "both listings refused", refusals: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := testutil.StartSeeded(t, manyServicesSeed(3, 30))
			emu.InjectFault(emulator.Fault{Path: "/folders/700/assets", Count: tt.refusals, Status: http.StatusForbidden, Message: denied})
			rep, err := (&audit.Engine{Clients: audittest.Clients(t, emu)}).AuditAssets(context.Background(), audit.AssetScope{Parents: []string{"folders/700"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Errors) != tt.refusals {
				t.Fatalf("errors %+v, want %d", rep.Errors, tt.refusals)
			}
			whats := map[string]bool{}
			for _, e := range rep.Errors {
				whats[e.What] = true
				if e.Resource != "folders/700" || !strings.Contains(e.Message, "403") || !strings.Contains(e.Message, denied) {
					t.Errorf("error %+v does not name the scope and the denial", e)
				}
			}
			switch {
			case whats["list assets"]:
				if len(rep.Services) != 0 {
					t.Errorf("%d services reported without the resources listing", len(rep.Services))
				}
			case whats["list IAM policies"]:
				if len(rep.Services) != 30 {
					t.Fatalf("%d services, want all 30", len(rep.Services))
				}
				for _, s := range rep.Services {
					org := slices.ContainsFunc(s.Grants, func(g audit.Grant) bool { return g.Path.Resource == "organizations/77" })
					if !s.Incomplete || !org {
						t.Errorf("%s: incomplete %v, inherited grant %v: want both", s.Name, s.Incomplete, org)
					}
				}
			default:
				t.Fatalf("errors %+v name neither listing", rep.Errors)
			}
		})
	}
}
