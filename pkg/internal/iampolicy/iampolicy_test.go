package iampolicy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	crm "google.golang.org/api/cloudresourcemanager/v1"
	run "google.golang.org/api/run/v2"
)

func TestPredefinedInvokerRoles(t *testing.T) {
	got := Predefined().RolesWith(InvokePermission)
	must := []string{"roles/run.invoker", "roles/run.servicesInvoker", "roles/run.admin", "roles/run.developer", "roles/owner", "roles/editor", "roles/cloudfunctions.admin"}
	mustNot := []string{"roles/viewer", "roles/cloudfunctions.invoker", "roles/iam.serviceAccountTokenCreator"}
	set := map[string]bool{}
	for _, r := range got {
		set[r] = true
	}
	for _, r := range must {
		if !set[r] {
			t.Errorf("%s should carry %s", r, InvokePermission)
		}
	}
	for _, r := range mustNot {
		if set[r] {
			t.Errorf("%s must not carry %s", r, InvokePermission)
		}
	}
}

func TestEffectiveInvokersAndCheck(t *testing.T) {
	ctx := context.Background()
	custom := func(_ context.Context, name string) ([]string, error) {
		if name == "projects/p/roles/caller" {
			return []string{"run.routes.invoke"}, nil
		}
		return nil, errors.New("no such role")
	}
	roles := NewRoleResolver(custom)
	cond := &Condition{Title: "office hours", Expression: "request.time.getHours() < 18"}
	service := &Policy{Bindings: []Binding{
		{Role: "roles/run.invoker", Members: []string{"serviceAccount:Direct@p.iam.gserviceaccount.com", "deleted:serviceAccount:gone@p.iam.gserviceaccount.com?uid=1"}},
		{Role: "roles/cloudfunctions.invoker", Members: []string{"serviceAccount:gen1@p.iam.gserviceaccount.com"}},
		{Role: "roles/run.invoker", Members: []string{"serviceAccount:cond@p.iam.gserviceaccount.com"}, Condition: cond},
		{Role: "projects/p/roles/caller", Members: []string{"serviceAccount:custom@p.iam.gserviceaccount.com"}},
	}}
	project := &Policy{Bindings: []Binding{
		{Role: "roles/run.invoker", Members: []string{"serviceAccount:inherited@p.iam.gserviceaccount.com", "serviceAccount:direct@p.iam.gserviceaccount.com"}},
		{Role: "roles/viewer", Members: []string{"serviceAccount:viewer@p.iam.gserviceaccount.com"}},
	}}
	grants, err := EffectiveInvokers(ctx, roles, InvokePermission, service, project)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		member string
		want   Status
		source Source
	}{
		{"serviceAccount:direct@p.iam.gserviceaccount.com", StatusDirect, SourceService},
		{"serviceAccount:inherited@p.iam.gserviceaccount.com", StatusInherited, SourceProject},
		{"serviceAccount:cond@p.iam.gserviceaccount.com", StatusConditional, SourceService},
		{"serviceAccount:custom@p.iam.gserviceaccount.com", StatusDirect, SourceService},
		{"serviceAccount:gen1@p.iam.gserviceaccount.com", StatusMissing, ""},
		{"serviceAccount:viewer@p.iam.gserviceaccount.com", StatusMissing, ""},
		{"serviceAccount:gone@p.iam.gserviceaccount.com", StatusMissing, ""},
	}
	for _, tt := range tests {
		got, g := Check(tt.member, grants)
		if got != tt.want {
			t.Errorf("Check(%s) = %s, want %s", tt.member, got, tt.want)
			continue
		}
		if tt.source != "" && (g == nil || g.Source != tt.source) {
			t.Errorf("Check(%s) grant = %+v, want source %s", tt.member, g, tt.source)
		}
	}
	if d := DeletedMembers(grants); !reflect.DeepEqual(d, []string{"deleted:serviceAccount:gone@p.iam.gserviceaccount.com?uid=1"}) {
		t.Errorf("DeletedMembers = %v", d)
	}
	if ExposureOf(grants, false).Public() {
		t.Error("service should not be public")
	}
}

func TestPublicExposure(t *testing.T) {
	ctx := context.Background()
	roles := NewRoleResolver(nil)
	tests := []struct {
		name     string
		members  []string
		disabled bool
		public   bool
		status   Status
	}{
		{"allUsers", []string{"allUsers"}, false, true, StatusPublic},
		{"allAuthenticatedUsers", []string{"allAuthenticatedUsers"}, false, true, StatusPublic},
		{"invoker IAM disabled", nil, true, true, StatusMissing},
		{"private", []string{"user:x@example.com"}, false, false, StatusMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Policy{Bindings: []Binding{{Role: "roles/run.invoker", Members: tt.members}}}
			grants, err := EffectiveInvokers(ctx, roles, InvokePermission, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := ExposureOf(grants, tt.disabled).Public(); got != tt.public {
				t.Errorf("Public() = %v, want %v", got, tt.public)
			}
			if st, _ := Check("serviceAccount:a@p.iam.gserviceaccount.com", grants); st != tt.status {
				t.Errorf("Check = %s, want %s", st, tt.status)
			}
		})
	}
}

func TestCustomRoleErrorsAndCache(t *testing.T) {
	calls := 0
	roles := NewRoleResolver(func(_ context.Context, name string) ([]string, error) {
		calls++
		if name == "projects/p/roles/broken" {
			return nil, errors.New("403 denied")
		}
		return []string{"run.routes.invoke"}, nil
	})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if ok, err := roles.Has(ctx, "projects/p/roles/ok", InvokePermission); err != nil || !ok {
			t.Fatalf("Has = %v, %v", ok, err)
		}
	}
	if calls != 1 {
		t.Errorf("custom role fetched %d times, want 1", calls)
	}
	if _, err := roles.Has(ctx, "projects/p/roles/broken", InvokePermission); err == nil || !strings.Contains(err.Error(), "projects/p/roles/broken") {
		t.Errorf("want error naming the role, got %v", err)
	}
	if _, err := NewRoleResolver(nil).Has(ctx, "organizations/1/roles/x", InvokePermission); err == nil {
		t.Error("custom role without getter should fail")
	}
}

// The Run v2 and Resource Manager v1 copies of IAM's Policy convert alike,
// conditions included.
func TestFromAPI(t *testing.T) {
	want := &Policy{Etag: "BwX=", Bindings: []Binding{
		{Role: "roles/run.invoker", Members: []string{"user:a@example.com"}},
		{Role: "roles/run.invoker", Members: []string{"group:g@example.com"}, Condition: &Condition{Title: "t", Description: "d", Expression: "request.time < timestamp('2030-01-01T00:00:00Z')"}},
	}}
	fromRun, err := FromAPI(&run.GoogleIamV1Policy{Etag: "BwX=", Bindings: []*run.GoogleIamV1Binding{
		{Role: "roles/run.invoker", Members: []string{"user:a@example.com"}},
		{Role: "roles/run.invoker", Members: []string{"group:g@example.com"}, Condition: &run.GoogleTypeExpr{Title: "t", Description: "d", Expression: want.Bindings[1].Condition.Expression, Location: "ignored"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fromCRM, err := FromAPI(&crm.Policy{Etag: "BwX=", Version: 3, Bindings: []*crm.Binding{
		{Role: "roles/run.invoker", Members: []string{"user:a@example.com"}},
		{Role: "roles/run.invoker", Members: []string{"group:g@example.com"}, Condition: &crm.Expr{Title: "t", Description: "d", Expression: want.Bindings[1].Condition.Expression}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*Policy{"run": fromRun, "crm": fromCRM} {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
	if _, err := FromAPI(func() {}); err == nil {
		t.Error("a value without a JSON form converted")
	}
}
