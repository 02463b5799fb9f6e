package server

import (
	"slices"
	"strings"
	"testing"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	crmv2 "google.golang.org/api/cloudresourcemanager/v2"
	crmv3 "google.golang.org/api/cloudresourcemanager/v3"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

func crm3As(t *testing.T, e *core.Server, token string) *crmv3.Service {
	t.Helper()
	return apiClient(t, e, token, crmv3.NewService)
}

// Folders and organizations through the real v3 client: get, list, search,
// and their policies, with authorization inherited down the hierarchy.
func TestResourceManagerHierarchy(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	owner := crm3As(t, e, e.BootstrapToken())
	org, err := owner.Organizations.Get("organizations/4242").Do()
	if err != nil || org.DisplayName != "example.com" || org.DirectoryCustomerId != "C0abc123" || org.State != "ACTIVE" {
		t.Fatalf("organizations.get: %v %+v", err, org)
	}
	f, err := owner.Folders.Get("folders/200").Do()
	if err != nil || f.Parent != "folders/100" || f.DisplayName != "Payments team" || f.State != "ACTIVE" {
		t.Fatalf("folders.get: %v %+v", err, f)
	}
	kids, err := owner.Folders.List().Parent("organizations/4242").Do()
	if err != nil || len(kids.Folders) != 2 || kids.Folders[0].Name != "folders/100" || kids.Folders[1].Name != "folders/300" {
		t.Fatalf("folders.list: %v %+v", err, kids)
	}
	orgs, err := owner.Organizations.Search().Do()
	if err != nil || len(orgs.Organizations) != 1 {
		t.Fatalf("organizations.search: %v %+v", err, orgs)
	}
	p, err := owner.Projects.Get("projects/pay-proj").Do()
	if err != nil || p.Parent != "folders/200" {
		t.Fatalf("projects.get: %v %+v", err, p)
	}

	// Who may do what: grants on an ancestor count, grants below do not.
	tests := []struct {
		account string
		call    func(s *crmv3.Service) error
		want    int
	}{
		{"folder-admin", func(s *crmv3.Service) error {
			_, err := s.Folders.GetIamPolicy("folders/200", &crmv3.GetIamPolicyRequest{}).Do()
			return err
		}, 0}, // folderAdmin on folders/100
		{"folder-admin", func(s *crmv3.Service) error {
			_, err := s.Folders.GetIamPolicy("folders/300", &crmv3.GetIamPolicyRequest{}).Do()
			return err
		}, 403}, // another branch
		{"folder-admin", func(s *crmv3.Service) error {
			_, err := s.Organizations.GetIamPolicy("organizations/4242", &crmv3.GetIamPolicyRequest{}).Do()
			return err
		}, 403},
		{"team-viewer", func(s *crmv3.Service) error { _, err := s.Folders.Get("folders/200").Do(); return err }, 0},
		{"team-viewer", func(s *crmv3.Service) error { _, err := s.Folders.Get("folders/100").Do(); return err }, 403},
		{"team-viewer", func(s *crmv3.Service) error { _, err := s.Projects.Get("projects/pay-proj").Do(); return err }, 0}, // viewer inherited
		{"team-viewer", func(s *crmv3.Service) error { _, err := s.Projects.Get("projects/ops-proj").Do(); return err }, 403},
		{"team-viewer", func(s *crmv3.Service) error {
			_, err := s.Folders.SetIamPolicy("folders/200", &crmv3.SetIamPolicyRequest{Policy: &crmv3.Policy{}}).Do()
			return err
		}, 403},
		{"nobody-here", func(s *crmv3.Service) error { _, err := s.Organizations.Get("organizations/4242").Do(); return err }, 403},
		{"nobody-here", func(s *crmv3.Service) error { _, err := s.Folders.Get("folders/999").Do(); return err }, 403}, // unknown
		{"nobody-here", func(s *crmv3.Service) error {
			res, err := s.Organizations.Search().Do()
			if err == nil && len(res.Organizations) != 0 {
				t.Errorf("search shows %d organizations to a stranger", len(res.Organizations))
			}
			return err
		}, 0},
	}
	for i, tt := range tests {
		err := tt.call(crm3As(t, e, tokenOf(t, e, tt.account)))
		if tt.want == 0 && err != nil {
			t.Errorf("case %d (%s): %v", i, tt.account, err)
		} else if tt.want != 0 {
			wantCode(t, err, tt.want)
		}
	}

	// A folder policy: read-modify-write with its etag; a stale etag is 409.
	admin := crm3As(t, e, tokenOf(t, e, "folder-admin"))
	pol, err := admin.Folders.GetIamPolicy("folders/200", &crmv3.GetIamPolicyRequest{}).Do()
	if err != nil || pol.Etag == "" || len(pol.Bindings) != 1 {
		t.Fatalf("folder policy: %v %+v", err, pol)
	}
	stale := pol.Etag
	pol.Bindings = append(pol.Bindings, &crmv3.Binding{Role: "roles/cloudasset.viewer", Members: []string{"serviceAccount:nobody-here@audit-proj.iam.gserviceaccount.com"}})
	if _, err := admin.Folders.SetIamPolicy("folders/200", &crmv3.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatalf("folder setIamPolicy: %v", err)
	}
	pol.Etag = stale
	_, err = admin.Folders.SetIamPolicy("folders/200", &crmv3.SetIamPolicyRequest{Policy: pol}).Do()
	wantCode(t, err, 409)
	// The new binding takes effect below the folder at once.
	if _, err := assetAs(t, e, tokenOf(t, e, "nobody-here")).V1.SearchAllIamPolicies("projects/pay-proj").Do(); err != nil {
		t.Errorf("search after the folder grant: %v", err)
	}
	if b, err := e.IAMPolicy("folders/200"); err != nil || !strings.Contains(string(b), "roles/cloudasset.viewer") {
		t.Errorf("IAMPolicy(folders/200): %v %s", err, b)
	}
	orgPol, err := owner.Organizations.GetIamPolicy("organizations/4242", &crmv3.GetIamPolicyRequest{}).Do()
	if err != nil || len(orgPol.Bindings) != 3 { // the seed's two and the bootstrap owner
		t.Errorf("organization policy: %v %+v", err, orgPol)
	}
	for _, name := range []string{"crm.v3.organizations.get", "crm.v3.organizations.search", "crm.v3.organizations.getIamPolicy",
		"crm.v3.folders.get", "crm.v3.folders.list", "crm.v3.folders.getIamPolicy", "crm.v3.folders.setIamPolicy"} {
		if e.Calls()[name] == 0 {
			t.Errorf("counter %s is zero: %v", name, e.Calls())
		}
	}
}

// v1 getAncestry and the v2 folder surface (what gcloud reads).
func TestResourceManagerAncestryAndV2(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	v1 := ownerCRM(t, e)
	tests := []struct {
		project string
		want    []string
	}{
		{"pay-proj", []string{"project/pay-proj", "folder/200", "folder/100", "organization/4242"}},
		{"100000000002", []string{"project/ops-proj", "folder/300", "organization/4242"}},
		{"audit-proj", []string{"project/audit-proj", "organization/4242"}},
	}
	for _, tt := range tests {
		res, err := v1.Projects.GetAncestry(tt.project, &crmv1.GetAncestryRequest{}).Do()
		if err != nil {
			t.Fatalf("getAncestry %s: %v", tt.project, err)
		}
		var got []string
		for _, a := range res.Ancestor {
			got = append(got, a.ResourceId.Type+"/"+a.ResourceId.Id)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("getAncestry %s: %v, want %v", tt.project, got, tt.want)
		}
	}
	asNobody := apiClient(t, e, tokenOf(t, e, "nobody-here"), crmv1.NewService)
	_, err := asNobody.Projects.GetAncestry("pay-proj", &crmv1.GetAncestryRequest{}).Do()
	wantCode(t, err, 403)

	v2 := apiClient(t, e, e.BootstrapToken(), crmv2.NewService)
	f, err := v2.Folders.Get("folders/100").Do()
	if err != nil || f.Parent != "organizations/4242" || f.LifecycleState != "ACTIVE" {
		t.Fatalf("v2 folders.get: %v %+v", err, f)
	}
	pol, err := v2.Folders.GetIamPolicy("folders/100", &crmv2.GetIamPolicyRequest{}).Do()
	if err != nil || len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/resourcemanager.folderAdmin" {
		t.Fatalf("v2 folders.getIamPolicy: %v %+v", err, pol)
	}
	if e.Calls()["crm.v1.projects.getAncestry"] != 4 || e.Calls()["crm.v2.folders.getIamPolicy"] != 1 {
		t.Errorf("counters %v", e.Calls())
	}
}

// An organization's bindings reach the data plane of every service below
// it: group everyone@ holds roles/run.invoker on organizations/4242.
func TestHierarchyInheritedInvoke(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	e.Mu.Lock()
	e.St.Groups["group:everyone@example.com"] = []string{"serviceAccount:nobody-here@audit-proj.iam.gserviceaccount.com"}
	svc := e.St.Services["projects/pay-proj/locations/us-central1/services/pay-4"]
	tests := []struct {
		principal string
		want      bool
	}{
		{"serviceAccount:nobody-here@audit-proj.iam.gserviceaccount.com", true}, // through the organization's group binding
		{"serviceAccount:pay-caller@audit-proj.iam.gserviceaccount.com", true},  // the service's own binding
		{"serviceAccount:ops-caller@audit-proj.iam.gserviceaccount.com", false},
	}
	for _, tt := range tests {
		if got := e.PrincipalPermittedAt(tt.principal, "run.routes.invoke", "pay-proj", e.Opts.Now(), svc.Policy); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.principal, got, tt.want)
		}
	}
	e.Mu.Unlock()
}

// Seed rules for organizations, folders and project parents, each problem
// reported with its entry.
func TestSeedHierarchyValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error; none: valid
	}{
		{"valid", "organizations: [{id: \"1\"}]\nfolders: [{id: \"2\", parent: organizations/1}, {id: \"3\", parent: folders/2}]\nprojects: [{id: in-folder, parent: folders/3}]\n", nil},
		{"undeclared project parent is a label", "projects: [{id: label-only, parent: organizations/77}]\n", nil},
		{"ids", "organizations: [{id: \"\"}, {id: org-1}, {id: \"0123\"}]\nfolders: [{id: abc, parent: organizations/1}]\n",
			[]string{"organizations[0]: id is required", "organizations[1] (org-1): id \"org-1\" must be the organization number", "organizations[2] (0123)", "folders[0] (abc): id \"abc\" must be the folder number"}},
		{"repeated ids", "organizations: [{id: \"1\"}, {id: \"1\"}]\nfolders: [{id: \"2\", parent: organizations/1}, {id: \"2\", parent: organizations/1}]\n",
			[]string{"organizations[1] (1): organization 1 is declared twice", "folders[1] (2): folder 2 is declared twice"}},
		{"parents", "organizations: [{id: \"1\"}]\nfolders: [{id: \"2\"}, {id: \"3\", parent: orgs/1}]\n",
			[]string{"folders[0] (2): parent is required", "folders[1] (3): parent \"orgs/1\" must be"}},
		{"cycle", "folders: [{id: \"2\", parent: folders/3}, {id: \"3\", parent: folders/2}]\n",
			[]string{"folders[0] (2): folders form a cycle", "folders[1] (3): folders form a cycle"}},
		{"policies", "organizations: [{id: \"1\", policy: [{role: run.invoker, members: [user:a@example.com]}]}]\nfolders: [{id: \"2\", parent: organizations/1, policy: [{role: roles/viewer, members: [bob]}]}]\n",
			[]string{"organizations[0] (1): policy[0]: role \"run.invoker\" must start with roles/", "folders[0] (2): policy[0]:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := seed.ParseSeed([]byte(tt.yaml), "h.yaml")
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("valid seed refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid seed accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), "seed h.yaml: "+w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	// Against a state (what New applies a seed to): a folder may hang under
	// an organization or folder that exists, not under an unknown one.
	e, _ := hierStart(t, core.Options{})
	more, err := seed.ParseSeed([]byte("folders: [{id: \"500\", parent: organizations/4242}, {id: \"501\", parent: folders/99}]\n"), "more.yaml")
	if err != nil {
		t.Fatalf("file-only checks: %v", err)
	}
	err = more.Validate(&seed.State{St: e.St})
	if err == nil || strings.Contains(err.Error(), "folders[0]") || !strings.Contains(err.Error(), "seed more.yaml: folders[1] (501): parent folders/99 is not declared") {
		t.Errorf("against the state: %v", err)
	}
	_, err = New(core.Options{Seed: more})
	if err == nil || !strings.Contains(err.Error(), "folders[0] (500): parent organizations/4242 is not declared") {
		t.Errorf("New with a dangling folder parent: %v", err)
	}
}

// Organizations, folders and their policies survive a restart on the same
// state file; the seed is not needed again.
func TestHierarchyPersists(t *testing.T) {
	t.Parallel()
	s, err := seed.ParseSeed([]byte(hierSeed()), "hierSeed")
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir() + "/state.json"
	e1, err := New(core.Options{Project: "audit-proj", StateFile: state, Seed: s, BootstrapToken: "boot"})
	if err != nil {
		t.Fatal(err)
	}
	before, err := e1.IAMPolicy("folders/200")
	if err != nil {
		t.Fatal(err)
	}
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := newTestEmulator(t, core.Options{Project: "audit-proj", StateFile: state, BootstrapToken: "boot"})
	after, err := e2.IAMPolicy("folders/200")
	if err != nil || string(after) != string(before) {
		t.Fatalf("folder policy after restart: %v %s, before %s", err, after, before)
	}
	res, err := assetAs(t, e2, "boot").V1.SearchAllIamPolicies("folders/100").Query(`policy:"roles/run.invoker"`).Do()
	if err != nil || len(res.Results) != 7 {
		t.Fatalf("search after restart: %v %+v", err, res)
	}
}
