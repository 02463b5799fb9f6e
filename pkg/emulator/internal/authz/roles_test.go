package authz

import (
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

func TestCheckerGrants(t *testing.T) {
	t.Parallel()
	roles, err := LoadRoleTable("")
	if err != nil {
		t.Fatal(err)
	}
	st := model.NewState()
	st.Groups["group:outer@example.com"] = []string{"group:inner@example.com", "allUsers"}
	st.Groups["group:Inner@example.com"] = []string{"user:Bob@example.com"}
	st.Roles["projects/p1/roles/lite"] = &model.CustomRole{Name: "projects/p1/roles/lite", IncludedPermissions: []string{"run.routes.invoke"}}
	st.Roles["projects/p1/roles/off"] = &model.CustomRole{Name: "projects/p1/roles/off", IncludedPermissions: []string{"run.routes.invoke"}, Stage: "DISABLED"}
	c := Checker{Roles: roles, State: st, ProjectID: func(ref string) string {
		if ref == "p1" || ref == "123456789012" {
			return "p1"
		}
		return ""
	}}
	const invoke = "run.routes.invoke"
	bind := func(role string, members ...string) []*model.Binding {
		return []*model.Binding{{Role: role, Members: members}}
	}
	tests := []struct {
		name      string
		principal string
		bindings  []*model.Binding
		want      bool
	}{
		{"allUsers covers the anonymous caller", "", bind("roles/run.invoker", "allUsers"), true},
		{"allAuthenticatedUsers needs a caller", "", bind("roles/run.invoker", "allAuthenticatedUsers"), false},
		{"email case-insensitive", "user:bob@example.com", bind("roles/run.invoker", "user:BOB@example.com"), true},
		{"role without the permission", "user:bob@example.com", bind("roles/iam.serviceAccountUser", "user:bob@example.com"), false},
		{"domain covers users", "user:bob@example.com", bind("roles/run.invoker", "domain:EXAMPLE.com"), true},
		{"domain does not cover accounts", "serviceAccount:sa@example.com", bind("roles/run.invoker", "domain:example.com"), false},
		{"nested groups, key case-insensitive", "user:bob@example.com", bind("roles/run.invoker", "group:outer@example.com"), true},
		{"a group never holds the public", "user:eve@example.com", bind("roles/run.invoker", "group:outer@example.com"), false},
		{"deleted members never match", "user:bob@example.com", bind("roles/run.invoker", "deleted:user:bob@example.com?uid=1"), false},
		{"custom role by project number", "user:bob@example.com", bind("projects/123456789012/roles/lite", "user:bob@example.com"), true},
		{"disabled custom role", "user:bob@example.com", bind("projects/p1/roles/off", "user:bob@example.com"), false},
		{"conditions are not evaluated", "user:bob@example.com", []*model.Binding{{Role: "roles/run.invoker", Members: []string{"user:bob@example.com"}, Condition: &model.Expr{Expression: "true"}}}, false},
	}
	for _, tt := range tests {
		if got := c.Grants(tt.principal, invoke, tt.bindings); got != tt.want {
			t.Errorf("%s: Grants = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The hierarchy and Cloud Asset permissions are added to the shared
// table's roles without dropping what they carried, and the roles the table
// lacks are there.
func TestHierarchyRoles(t *testing.T) {
	t.Parallel()
	roles, err := LoadRoleTable("")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role, permission string
		want             bool
	}{
		{"roles/owner", "run.services.setIamPolicy", true}, // from the shared table
		{"roles/owner", "resourcemanager.folders.setIamPolicy", true},
		{"roles/viewer", "cloudasset.assets.searchAllIamPolicies", true},
		{"roles/viewer", "cloudasset.assets.listIamPolicy", false},
		{"roles/viewer", "resourcemanager.folders.setIamPolicy", false},
		{"roles/cloudasset.viewer", "cloudasset.assets.listResource", true},
		{"roles/cloudasset.viewer", "resourcemanager.folders.get", false},
		{"roles/resourcemanager.folderAdmin", "resourcemanager.projects.setIamPolicy", true}, // from the shared table
		{"roles/resourcemanager.folderAdmin", "resourcemanager.folders.getIamPolicy", true},
		{"roles/resourcemanager.folderAdmin", "cloudasset.assets.searchAllIamPolicies", false},
		{"roles/resourcemanager.organizationViewer", "resourcemanager.organizations.get", true},
		{"roles/run.invoker", "resourcemanager.folders.get", false},
	}
	for _, tt := range tests {
		r := roles[tt.role]
		if r == nil {
			t.Errorf("%s is missing", tt.role)
			continue
		}
		if got := r.Has(tt.permission); got != tt.want {
			t.Errorf("%s has %s: %v, want %v", tt.role, tt.permission, got, tt.want)
		}
	}
}
