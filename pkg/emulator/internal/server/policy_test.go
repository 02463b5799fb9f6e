package server

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	crmv1 "google.golang.org/api/cloudresourcemanager/v1"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// A setIamPolicy member goes through the emulator's member grammar
// (tested in authz); an invalid one is production's 400 INVALID_ARGUMENT.
func TestNormalizeMember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means 400
	}{
		{"user:Alice@Example.COM", "user:alice@example.com"},
		{"deleted:user:A@b.c?uid=9", "deleted:user:a@b.c?uid=9"},
		{"allusers", ""},
		{"user:nobody", ""},
	}
	for _, tt := range tests {
		got, err := core.NormalizeMember(tt.in)
		if tt.want == "" {
			if err == nil || err.Code != 400 || err.Status != "INVALID_ARGUMENT" || !strings.Contains(err.Message, tt.in) {
				t.Errorf("normalizeMember(%q) = %q, %v; want 400", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("normalizeMember(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestSetPolicyRecordsPropagation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := newTestEmulator(t, core.Options{PropagationDelay: time.Minute, Now: func() time.Time { return now }})
	e.Mu.Lock()
	defer e.Mu.Unlock()
	var p *model.Policy
	set := func(member string) {
		t.Helper()
		_, aerr := e.SetPolicy(&p, core.SetIamPolicyRequest{Policy: &core.WirePolicy{Bindings: []*model.Binding{{Role: "roles/run.invoker", Members: []string{member}}}}})
		if aerr != nil {
			t.Fatal(aerr)
		}
	}
	set("user:first@example.com")
	if !p.UpdateTime.Equal(now) || p.PrevBindings != nil {
		t.Fatalf("first set: UpdateTime %v, PrevBindings %v", p.UpdateTime, p.PrevBindings)
	}
	now = now.Add(2 * time.Minute)
	set("user:second@example.com")
	if len(p.PrevBindings) != 1 || p.PrevBindings[0].Members[0] != "user:first@example.com" {
		t.Fatalf("second set: PrevBindings %v", p.PrevBindings)
	}
	if got := p.BindingsAt(now.Add(30*time.Second), time.Minute); got[0].Members[0] != "user:first@example.com" {
		t.Fatalf("data plane during the delay sees %v", got[0].Members)
	}
}

func TestSetIamPolicyStaleEtagIsAborted(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	crm := ownerCRM(t, e)
	p, err := crm.Projects.GetIamPolicy(e.Project(), &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	stale := p.Etag
	raw, err := base64.StdEncoding.DecodeString(stale)
	if err != nil || len(raw) != 8 || base64.StdEncoding.EncodeToString(raw) != stale {
		t.Fatalf("etag %q is not canonical base64 of 8 bytes", stale)
	}
	p.Bindings = append(p.Bindings, &crmv1.Binding{Role: "roles/viewer", Members: []string{"user:a@example.com"}})
	np, err := crm.Projects.SetIamPolicy(e.Project(), &crmv1.SetIamPolicyRequest{Policy: p}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if np.Etag == stale {
		t.Fatal("etag unchanged after a set")
	}
	// A concurrent writer still holding the old etag loses.
	p.Bindings = p.Bindings[:1]
	_, err = crm.Projects.SetIamPolicy(e.Project(), &crmv1.SetIamPolicyRequest{Policy: p}).Do()
	ge := wantCode(t, err, 409)
	if !strings.Contains(string(ge.Body), `"ABORTED"`) {
		t.Fatalf("409 body lacks status ABORTED: %s", ge.Body)
	}
	// No etag: unconditional overwrite.
	p.Etag = ""
	if _, err := crm.Projects.SetIamPolicy(e.Project(), &crmv1.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatalf("set without etag: %v", err)
	}
}

func TestPolicyVersionsAndConditions(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	crm := ownerCRM(t, e)
	proj := e.Project()
	cond := &crmv1.Expr{Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until 2030"}
	owner := &crmv1.Binding{Role: "roles/owner", Members: []string{"user:owner@example.com"}}
	condBinding := &crmv1.Binding{Role: "roles/viewer", Members: []string{"user:temp@example.com"}, Condition: cond}

	_, err := crm.Projects.SetIamPolicy(proj, &crmv1.SetIamPolicyRequest{Policy: &crmv1.Policy{Version: 1, Bindings: []*crmv1.Binding{owner, condBinding}}}).Do()
	wantCode(t, err, 400)
	_, err = crm.Projects.SetIamPolicy(proj, &crmv1.SetIamPolicyRequest{Policy: &crmv1.Policy{Version: 2, Bindings: []*crmv1.Binding{owner}}}).Do()
	wantCode(t, err, 400)
	if _, err := crm.Projects.SetIamPolicy(proj, &crmv1.SetIamPolicyRequest{Policy: &crmv1.Policy{Version: 3, Bindings: []*crmv1.Binding{owner, condBinding}}}).Do(); err != nil {
		t.Fatalf("conditional binding at version 3: %v", err)
	}

	v3, err := crm.Projects.GetIamPolicy(proj, &crmv1.GetIamPolicyRequest{Options: &crmv1.GetPolicyOptions{RequestedPolicyVersion: 3}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version != 3 || len(v3.Bindings) != 2 || v3.Bindings[1].Condition == nil || v3.Bindings[1].Condition.Title != "until 2030" {
		t.Fatalf("v3 view: %+v", v3)
	}
	v1, err := crm.Projects.GetIamPolicy(proj, &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v1.Bindings[1].Condition != nil || !strings.HasPrefix(v1.Bindings[1].Role, "roles/viewer_withcond_") {
		t.Fatalf("v1 view of a conditional policy: version %d, binding %+v", v1.Version, v1.Bindings[1])
	}
	// A version-1 read-modify-write keeps the condition.
	v1.Bindings = append(v1.Bindings, &crmv1.Binding{Role: "roles/editor", Members: []string{"user:new@example.com"}})
	if _, err := crm.Projects.SetIamPolicy(proj, &crmv1.SetIamPolicyRequest{Policy: v1}).Do(); err != nil {
		t.Fatalf("setting the v1 view back: %v", err)
	}
	again, _ := crm.Projects.GetIamPolicy(proj, &crmv1.GetIamPolicyRequest{Options: &crmv1.GetPolicyOptions{RequestedPolicyVersion: 3}}).Do()
	if again.Version != 3 || len(again.Bindings) != 3 || again.Bindings[1].Role != "roles/viewer" || again.Bindings[1].Condition == nil {
		t.Fatalf("condition lost through a v1 round trip: %+v", again.Bindings)
	}
	// An unknown _withcond_ role is refused.
	again.Bindings = append(again.Bindings, &crmv1.Binding{Role: "roles/viewer_withcond_00ff", Members: []string{"user:x@example.com"}})
	_, err = crm.Projects.SetIamPolicy(proj, &crmv1.SetIamPolicyRequest{Policy: again}).Do()
	wantCode(t, err, 400)
	// Without conditions the version is 1 even when 3 is requested.
	e2 := newTestEmulator(t, core.Options{})
	plain, err := ownerCRM(t, e2).Projects.GetIamPolicy(e2.Project(), &crmv1.GetIamPolicyRequest{Options: &crmv1.GetPolicyOptions{RequestedPolicyVersion: 3}}).Do()
	if err != nil || plain.Version != 1 {
		t.Fatalf("unconditional policy version = %v, %v; want 1", plain.Version, err)
	}
}

func TestSetIamPolicyMembersMaskAndMerging(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	crm := ownerCRM(t, e)
	proj := e.Project()
	sa := createSA(t, e, "member-sa")
	set := func(p *crmv1.Policy, mask string) (*crmv1.Policy, error) {
		return crm.Projects.SetIamPolicy(proj, &crmv1.SetIamPolicyRequest{Policy: p, UpdateMask: mask}).Do()
	}
	owner := &crmv1.Binding{Role: "roles/owner", Members: []string{"user:owner@example.com"}}

	tests := []struct {
		name    string
		member  string
		wantErr string
	}{
		{"unknown prefix", "robot:x@example.com", "Invalid member"},
		{"empty", "", "Invalid member"},
		{"missing account of our project", "serviceAccount:ghost@" + proj + ".iam.gserviceaccount.com", "Service account ghost@" + proj + ".iam.gserviceaccount.com does not exist."},
	}
	for _, tt := range tests {
		_, err := set(&crmv1.Policy{Bindings: []*crmv1.Binding{owner, {Role: "roles/viewer", Members: []string{tt.member}}}}, "")
		ge := wantCode(t, err, 400)
		if !strings.Contains(ge.Message, tt.wantErr) {
			t.Errorf("%s: message %q lacks %q", tt.name, ge.Message, tt.wantErr)
		}
	}

	// Members merged per role, normalized and deduplicated; another
	// project's account is not checked.
	got, err := set(&crmv1.Policy{
		Bindings: []*crmv1.Binding{owner,
			{Role: "roles/viewer", Members: []string{"user:A@Example.com", "serviceAccount:" + strings.ToUpper(sa.Email)}},
			{Role: "roles/viewer", Members: []string{"user:a@example.com", "serviceAccount:x@elsewhere.iam.gserviceaccount.com"}},
		},
		AuditConfigs: []*crmv1.AuditConfig{{Service: "allServices", AuditLogConfigs: []*crmv1.AuditLogConfig{{LogType: "DATA_READ"}}}},
	}, "bindings,etag,auditConfigs")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Bindings) != 2 || !slices.Equal(got.Bindings[1].Members, []string{"user:a@example.com", "serviceAccount:" + sa.Email, "serviceAccount:x@elsewhere.iam.gserviceaccount.com"}) {
		t.Fatalf("merged bindings: %+v", got.Bindings[1])
	}
	if len(got.AuditConfigs) != 1 {
		t.Fatalf("auditConfigs not stored: %+v", got.AuditConfigs)
	}
	// The default mask (bindings,etag) keeps stored auditConfigs.
	got, err = set(&crmv1.Policy{Bindings: []*crmv1.Binding{owner}}, "")
	if err != nil || len(got.AuditConfigs) != 1 || len(got.Bindings) != 1 {
		t.Fatalf("default mask: %v %+v", err, got)
	}
	// A mask without bindings leaves them alone.
	got, err = set(&crmv1.Policy{}, "auditConfigs")
	if err != nil || len(got.AuditConfigs) != 0 || len(got.Bindings) != 1 {
		t.Fatalf("auditConfigs-only mask: %v %+v", err, got)
	}
	_, err = set(&crmv1.Policy{}, "bindings,nonsense")
	wantCode(t, err, 400)

	// The existence check can be turned off.
	lax := newTestEmulator(t, core.Options{AllowUnknownServiceAccountMembers: true})
	if _, err := ownerCRM(t, lax).Projects.SetIamPolicy(lax.Project(), &crmv1.SetIamPolicyRequest{Policy: &crmv1.Policy{Bindings: []*crmv1.Binding{owner,
		{Role: "roles/viewer", Members: []string{"serviceAccount:ghost@" + lax.Project() + ".iam.gserviceaccount.com"}}}}}).Do(); err != nil {
		t.Fatalf("with AllowUnknownServiceAccountMembers: %v", err)
	}
}
