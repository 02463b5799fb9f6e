package server

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	crmv3 "google.golang.org/api/cloudresourcemanager/v3"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

func TestResourceManagerV1(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{Project: "crm-proj", ProjectNumber: "210987654321"})
	crm := ownerCRM(t, e)
	for _, ref := range []string{"crm-proj", "210987654321"} {
		p, err := crm.Projects.Get(ref).Do()
		if err != nil || p.ProjectId != "crm-proj" || p.ProjectNumber != 210987654321 || p.LifecycleState != "ACTIVE" || p.CreateTime == "" {
			t.Fatalf("get %s: %v %+v", ref, err, p)
		}
	}
	_, err := crm.Projects.Get("missing-proj").Do()
	wantCode(t, err, 404)
	_, err = crm.Projects.GetIamPolicy("missing-proj", &crmv1.GetIamPolicyRequest{}).Do()
	wantCode(t, err, 404)

	sa := createSA(t, e, "crm-caller")
	tok := accessTokenFor(t, e, sa.Email)
	asSA, err := crmv1.NewService(context.Background(), withToken(e, tok)...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = asSA.Projects.GetIamPolicy("crm-proj", &crmv1.GetIamPolicyRequest{}).Do()
	wantCode(t, err, 403)
	res, err := asSA.Projects.TestIamPermissions("crm-proj", &crmv1.TestIamPermissionsRequest{Permissions: []string{"resourcemanager.projects.get"}}).Do()
	if err != nil || len(res.Permissions) != 0 {
		t.Fatalf("testIamPermissions before the grant: %v %+v", err, res)
	}
	// An empty answer leaves the field out (proto3 JSON).
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v1/projects/crm-proj:testIamPermissions", strings.NewReader(`{"permissions": ["resourcemanager.projects.get"]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "{}" {
		t.Fatalf("empty testIamPermissions answer: %s", body)
	}
	grantOnProject(t, e, "roles/viewer", "serviceAccount:"+sa.Email)
	res, err = asSA.Projects.TestIamPermissions("crm-proj", &crmv1.TestIamPermissionsRequest{
		Permissions: []string{"resourcemanager.projects.get", "resourcemanager.projects.setIamPolicy"}}).Do()
	if err != nil || !slices.Equal(res.Permissions, []string{"resourcemanager.projects.get"}) {
		t.Fatalf("testIamPermissions after the grant: %v %+v", err, res)
	}
	// A viewer reads the policy but may not set it.
	p, err := asSA.Projects.GetIamPolicy("crm-proj", &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = asSA.Projects.SetIamPolicy("crm-proj", setReq(p)).Do()
	wantCode(t, err, 403)
}

func TestResourceManagerV3(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{Project: "crm3-proj", ProjectNumber: "345678901234"})
	crm, err := crmv3.NewService(context.Background(), withToken(e, e.BootstrapToken())...)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"projects/crm3-proj", "projects/345678901234"} {
		p, err := crm.Projects.Get(ref).Do()
		if err != nil || p.Name != "projects/345678901234" || p.ProjectId != "crm3-proj" || p.State != "ACTIVE" {
			t.Fatalf("v3 get %s: %v %+v", ref, err, p)
		}
	}
	pol, err := crm.Projects.GetIamPolicy("projects/crm3-proj", &crmv3.GetIamPolicyRequest{Options: &crmv3.GetPolicyOptions{RequestedPolicyVersion: 3}}).Do()
	if err != nil || len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/owner" {
		t.Fatalf("v3 getIamPolicy: %v %+v", err, pol)
	}
	pol.Bindings = append(pol.Bindings, &crmv3.Binding{Role: "roles/run.invoker", Members: []string{"allUsers"}})
	set, err := crm.Projects.SetIamPolicy("projects/345678901234", &crmv3.SetIamPolicyRequest{Policy: pol}).Do()
	if err != nil || set.Etag == pol.Etag || len(set.Bindings) != 2 {
		t.Fatalf("v3 setIamPolicy: %v %+v", err, set)
	}
	_, err = crm.Projects.SetIamPolicy("projects/crm3-proj", &crmv3.SetIamPolicyRequest{Policy: pol}).Do()
	wantCode(t, err, 409)
	res, err := crm.Projects.TestIamPermissions("projects/crm3-proj", &crmv3.TestIamPermissionsRequest{Permissions: []string{"run.routes.invoke"}}).Do()
	if err != nil || len(res.Permissions) != 1 {
		t.Fatalf("v3 testIamPermissions: %v %+v", err, res)
	}
	if e.Calls()["crm.v3.projects.setIamPolicy"] != 2 {
		t.Fatalf("counters %v", e.Calls())
	}
}

// A seeded project's parent and labels come back from v1 and v3 get, in
// each version's shape, read by the real clients; a bad parent is refused.
func TestResourceManagerProjectParentAndLabels(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{Project: "crm-parent", Seed: &seed.Seed{Projects: []seed.SeedProject{
		{ID: "crm-parent", Parent: "organizations/4242", Labels: map[string]string{"env": "test"}},
		{ID: "crm-orphan"},
	}}})
	v1 := ownerCRM(t, e)
	v3, err := crmv3.NewService(context.Background(), withToken(e, e.BootstrapToken())...)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id                   string
		wantType, wantID, v3 string
		wantLabel            string
	}{
		{"crm-parent", "organization", "4242", "organizations/4242", "test"},
		{"crm-orphan", "", "", "", ""},
	}
	for _, tt := range tests {
		p1, err := v1.Projects.Get(tt.id).Do()
		if err != nil {
			t.Fatal(err)
		}
		var gotType, gotID string
		if p1.Parent != nil {
			gotType, gotID = p1.Parent.Type, p1.Parent.Id
		}
		if gotType != tt.wantType || gotID != tt.wantID || p1.Labels["env"] != tt.wantLabel {
			t.Errorf("v1 %s: parent %q/%q labels %v", tt.id, gotType, gotID, p1.Labels)
		}
		p3, err := v3.Projects.Get("projects/" + tt.id).Do()
		if err != nil || p3.Parent != tt.v3 || p3.Labels["env"] != tt.wantLabel {
			t.Errorf("v3 %s: %v parent %q labels %v", tt.id, err, p3.Parent, p3.Labels)
		}
	}
	if _, err := seed.ParseSeed([]byte("projects:\n  - id: bad-parent\n    parent: orgs/1\n"), "s.yaml"); err == nil || !strings.Contains(err.Error(), "parent") {
		t.Errorf("bad parent: %v", err)
	}
}
