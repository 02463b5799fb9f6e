package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

func TestPrincipalPermitted(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{Project: "proj"})
	e.Mu.Lock()
	defer e.Mu.Unlock()
	e.St.Groups = map[string][]string{
		"group:outer@example.com":  {"group:Inner@example.com", "user:direct@example.com"},
		"group:inner@example.com":  {"serviceAccount:nested@proj.iam.gserviceaccount.com", "group:outer@example.com"}, // a cycle
		"group:public@example.com": {"allUsers"},
	}
	e.St.Roles["projects/proj/roles/invokerLite"] = &model.CustomRole{Name: "projects/proj/roles/invokerLite", IncludedPermissions: []string{"run.routes.invoke"}, Stage: "GA"}
	e.St.Roles["projects/proj/roles/gone"] = &model.CustomRole{Name: "projects/proj/roles/gone", IncludedPermissions: []string{"run.routes.invoke"}, Deleted: true}
	b := func(role string, members ...string) *model.Binding {
		return &model.Binding{Role: role, Members: members}
	}
	cond := &model.Binding{Role: "roles/run.invoker", Members: []string{"user:cond@example.com"}, Condition: &model.Expr{Expression: "true"}}
	const inv = "run.routes.invoke"
	tests := []struct {
		name      string
		principal string
		perm      string
		bindings  []*model.Binding
		want      bool
	}{
		{"direct user, case-insensitive", "user:Bob@Example.com", inv, []*model.Binding{b("roles/run.invoker", "user:bob@example.com")}, true},
		{"role without the permission", "user:bob@example.com", inv, []*model.Binding{b("roles/viewer", "user:bob@example.com")}, false},
		{"run.servicesInvoker carries invoke", "user:bob@example.com", inv, []*model.Binding{b("roles/run.servicesInvoker", "user:bob@example.com")}, true},
		{"cloudfunctions.invoker does not", "user:bob@example.com", inv, []*model.Binding{b("roles/cloudfunctions.invoker", "user:bob@example.com")}, false},
		{"allUsers, even anonymous", "", inv, []*model.Binding{b("roles/run.invoker", "allUsers")}, true},
		{"allAuthenticatedUsers, authenticated", "serviceAccount:a@proj.iam.gserviceaccount.com", inv, []*model.Binding{b("roles/run.invoker", "allAuthenticatedUsers")}, true},
		{"allAuthenticatedUsers, anonymous", "", inv, []*model.Binding{b("roles/run.invoker", "allAuthenticatedUsers")}, false},
		{"deleted member never matches", "serviceAccount:a@proj.iam.gserviceaccount.com", inv, []*model.Binding{b("roles/run.invoker", "deleted:serviceAccount:a@proj.iam.gserviceaccount.com?uid=1")}, false},
		{"nested group", "serviceAccount:nested@proj.iam.gserviceaccount.com", inv, []*model.Binding{b("roles/run.invoker", "group:outer@example.com")}, true},
		{"group member not in group", "user:stranger@example.com", inv, []*model.Binding{b("roles/run.invoker", "group:outer@example.com")}, false},
		{"groups never contain the public", "user:stranger@example.com", inv, []*model.Binding{b("roles/run.invoker", "group:public@example.com")}, false},
		{"domain matches users", "user:carol@example.com", inv, []*model.Binding{b("roles/run.invoker", "domain:example.com")}, true},
		{"domain does not match accounts", "serviceAccount:x@example.com", inv, []*model.Binding{b("roles/run.invoker", "domain:example.com")}, false},
		{"custom role", "user:bob@example.com", inv, []*model.Binding{b("projects/proj/roles/invokerLite", "user:bob@example.com")}, true},
		{"deleted custom role", "user:bob@example.com", inv, []*model.Binding{b("projects/proj/roles/gone", "user:bob@example.com")}, false},
		{"conditional bindings are not evaluated", "user:cond@example.com", inv, []*model.Binding{cond}, false},
		{"project policy is inherited", "user:owner@example.com", inv, nil, true},
		{"owner has no getOpenIdToken in the data", "user:owner@example.com", "iam.serviceAccounts.getOpenIdToken", nil, false},
	}
	for _, tt := range tests {
		if got := e.PrincipalPermitted(tt.principal, tt.perm, "proj", tt.bindings); got != tt.want {
			t.Errorf("%s: principalPermitted = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPrincipalPermittedAtHonoursPropagation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newTestEmulator(t, core.Options{Project: "proj", PropagationDelay: time.Minute, Now: func() time.Time { return now }})
	e.Mu.Lock()
	defer e.Mu.Unlock()
	var svcPolicy *model.Policy
	if _, aerr := e.SetPolicy(&svcPolicy, core.SetIamPolicyRequest{Policy: &core.WirePolicy{Bindings: []*model.Binding{{Role: "roles/run.invoker", Members: []string{"user:late@example.com"}}}}}); aerr != nil {
		t.Fatal(aerr)
	}
	if e.PrincipalPermittedAt("user:late@example.com", "run.routes.invoke", "proj", now.Add(30*time.Second), svcPolicy) {
		t.Error("grant visible to the data plane before the propagation delay")
	}
	if !e.PrincipalPermittedAt("user:late@example.com", "run.routes.invoke", "proj", now.Add(time.Minute), svcPolicy) {
		t.Error("grant not visible after the propagation delay")
	}
	if !e.PrincipalPermitted("user:late@example.com", "run.routes.invoke", "proj", svcPolicy.Bindings) {
		t.Error("management view should see the grant at once")
	}
}

func TestCustomRolesAPI(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	s := ownerIAM(t, e)
	parent := "projects/" + e.Project()
	created, err := s.Projects.Roles.Create(parent, &iam.CreateRoleRequest{RoleId: "saLister", Role: &iam.Role{
		Title: "SA lister", IncludedPermissions: []string{"iam.serviceAccounts.list"}, Stage: "GA"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if created.Name != parent+"/roles/saLister" || created.Etag == "" {
		t.Fatalf("created role %+v", created)
	}
	_, err = s.Projects.Roles.Create(parent, &iam.CreateRoleRequest{RoleId: "saLister", Role: &iam.Role{}}).Do()
	wantCode(t, err, 409)
	_, err = s.Projects.Roles.Create(parent, &iam.CreateRoleRequest{RoleId: "x", Role: &iam.Role{}}).Do()
	wantCode(t, err, 400)
	_, err = s.Projects.Roles.Create(parent, &iam.CreateRoleRequest{RoleId: "badPerm", Role: &iam.Role{IncludedPermissions: []string{"not a permission"}}}).Do()
	wantCode(t, err, 400)

	got, err := s.Projects.Roles.Get(created.Name).Do()
	if err != nil || !slices.Equal(got.IncludedPermissions, []string{"iam.serviceAccounts.list"}) {
		t.Fatalf("get: %v %+v", err, got)
	}
	basic, err := s.Projects.Roles.List(parent).Do()
	if err != nil || len(basic.Roles) != 1 || basic.Roles[0].IncludedPermissions != nil {
		t.Fatalf("list BASIC: %v %+v", err, basic)
	}
	full, err := s.Projects.Roles.List(parent).View("FULL").Do()
	if err != nil || len(full.Roles[0].IncludedPermissions) != 1 {
		t.Fatalf("list FULL: %v %+v", err, full)
	}

	// Granting the custom role on the project gives an account its permission.
	sa := createSA(t, e, "role-user")
	tok := accessTokenFor(t, e, sa.Email)
	_, err = iamAs(t, e, tok).Projects.ServiceAccounts.List(parent).Do()
	wantCode(t, err, 403)
	grantOnProject(t, e, created.Name, "serviceAccount:"+sa.Email)
	if _, err := iamAs(t, e, tok).Projects.ServiceAccounts.List(parent).Do(); err != nil {
		t.Fatalf("list with the custom role: %v", err)
	}
	// Patch it to lose the permission.
	if _, err := s.Projects.Roles.Patch(created.Name, &iam.Role{IncludedPermissions: []string{"iam.serviceAccounts.get"}}).UpdateMask("includedPermissions").Do(); err != nil {
		t.Fatal(err)
	}
	_, err = iamAs(t, e, tok).Projects.ServiceAccounts.List(parent).Do()
	wantCode(t, err, 403)
	// Delete; binding a deleted or unknown custom role is refused.
	if d, err := s.Projects.Roles.Delete(created.Name).Do(); err != nil || !d.Deleted {
		t.Fatalf("delete: %v %+v", err, d)
	}
	crm := ownerCRM(t, e)
	p, _ := crm.Projects.GetIamPolicy(e.Project(), nil).Do()
	p.Bindings = append(p.Bindings, &crmv1.Binding{Role: parent + "/roles/nope", Members: []string{"user:x@example.com"}})
	_, err = crm.Projects.SetIamPolicy(e.Project(), setReq(p)).Do()
	wantCode(t, err, 400)

	// Predefined roles are readable data.
	inv, err := s.Roles.Get("roles/run.invoker").Do()
	if err != nil || !slices.Contains(inv.IncludedPermissions, "run.routes.invoke") {
		t.Fatalf("roles/run.invoker: %v %+v", err, inv)
	}
	_, err = s.Roles.Get("roles/does.notExist").Do()
	wantCode(t, err, 404)
}

func TestRolesFileOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "roles.json")
	// An owner that may not list accounts.
	if err := os.WriteFile(path, []byte(`{"roles": {"roles/owner": {"title": "Owner", "permissions": ["resourcemanager.projects.get"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newTestEmulator(t, core.Options{RolesFile: path})
	_, err := ownerIAM(t, e).Projects.ServiceAccounts.List("projects/" + e.Project()).Do()
	wantCode(t, err, 403)
	if _, err := ownerCRM(t, e).Projects.Get(e.Project()).Do(); err != nil {
		t.Fatalf("overridden owner keeps what the file gives: %v", err)
	}
	// Roles not in the file keep their embedded definitions.
	if !e.Mgmt.Roles["roles/run.invoker"].Has("run.routes.invoke") {
		t.Fatal("embedded roles lost")
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"roles": {"owner": {}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(core.Options{RolesFile: bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad roles file: %v", err)
	}
}
