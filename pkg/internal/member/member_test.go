package member

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const (
		wf = "iam.googleapis.com/locations/global/workforcePools/staff-pool"
		wl = "iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool"
	)
	tests := []struct {
		in      string
		kind    Kind
		wantErr string // "" for valid
	}{
		{"allUsers", AllUsers, ""},
		{"allAuthenticatedUsers", AllAuthenticatedUsers, ""},
		{"user:alice@example.com", User, ""},
		{"user:Alice.O'Neil+ops@Example.COM", User, ""},
		{"serviceAccount:sa-1@p.iam.gserviceaccount.com", ServiceAccount, ""},
		{"serviceAccount:my-proj.svc.id.goog[ns/ksa]", ServiceAccount, ""},
		{"serviceAccount:example.com:my-proj.svc.id.goog[ns/ksa.v1]", ServiceAccount, ""},
		{"group:team@example.com", Group, ""},
		{"domain:example.com", Domain, ""},
		{"principal://" + wf + "/subject/raha@altostrat.com", Principal, ""},
		{"principal://" + wl + "/subject/repo:org/app:ref:refs/heads/main", Principal, ""},
		{"principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/my-proj.svc.id.goog/subject/ns/prod/sa/api", Principal, ""},
		{"principalSet://" + wf + "/group/admins@altostrat.com", PrincipalSet, ""},
		{"principalSet://" + wf + "/attribute.department/eng", PrincipalSet, ""},
		{"principalSet://" + wf + "/*", PrincipalSet, ""},
		{"principalSet://" + wl + "/group/deployers", PrincipalSet, ""},
		{"principalSet://" + wl + "/attribute.repository/my-org/my-repo", PrincipalSet, ""},
		{"principalSet://" + wl + "/*", PrincipalSet, ""},
		{"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/my-proj.svc.id.goog/namespace/prod", PrincipalSet, ""},
		{"principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/my-proj.svc.id.goog/kubernetes.cluster/https://container.googleapis.com/v1/projects/my-proj/locations/us-central1/clusters/c1", PrincipalSet, ""},
		{"principalSet://cloudresourcemanager.googleapis.com/projects/123/type/ServiceAccount", PrincipalSet, ""},
		{"deleted:serviceAccount:old@p.iam.gserviceaccount.com?uid=123456789012345678901", Deleted, ""},
		{"deleted:user:alice@example.com?uid=1", Deleted, ""},

		{"allusers", "", "want user:"},
		{"sa:foo", "", "want user:"},
		{"user:", "", "want user:"},
		{"", "", "want user:"},
		{"user:not-an-email", User, "not an email"},
		{"serviceAccount:x", ServiceAccount, "neither a service account email"},
		{"serviceAccount:my-proj.svc.id.goog[ns]", ServiceAccount, "neither a service account email"},
		{"domain:localhost", Domain, "not a domain"},
		{"principal://example.com/x", Principal, "principal://iam.googleapis.com/"},
		{"principal://iam.googleapis.com/x", Principal, "principal://iam.googleapis.com/"},
		{"principal://" + wf + "/subject/", Principal, "principal://iam.googleapis.com/"},
		{"principalSet://" + wf + "/subject/x", PrincipalSet, "principalSet://"},
		{"principalSet://cloudresourcemanager.googleapis.com/projects/p/type/ServiceAccount", PrincipalSet, "principalSet://"},
		{"deleted:bogus:x", Deleted, "deleted:user:"},
		{"deleted:user:alice@example.com", Deleted, "?uid="},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := Parse(tt.in)
			if tt.wantErr != "" {
				var me *Error
				if !errors.As(err, &me) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) err = %v, want an *Error containing %q", tt.in, err, tt.wantErr)
				}
				if me.Kind != tt.kind || me.Member != tt.in {
					t.Fatalf("error kind/member = %q/%q, want %q/%q", me.Kind, me.Member, tt.kind, tt.in)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if m.Kind != tt.kind || m.Raw != tt.in {
				t.Fatalf("kind/raw = %q/%q, want %q/%q", m.Kind, m.Raw, tt.kind, tt.in)
			}
			if m.Grantable() != (tt.kind != Deleted) {
				t.Fatalf("Grantable() = %v for %s", m.Grantable(), tt.kind)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	p := "principal://iam.googleapis.com/locations/global/workforcePools/staff/subject/AbC"
	tests := map[string]string{
		"serviceAccount:SA@P.iam.gserviceaccount.com": "serviceAccount:sa@p.iam.gserviceaccount.com",
		"user:Alice@Example.com":                      "user:alice@example.com",
		"domain:Example.COM":                          "domain:example.com",
		"allUsers":                                    "allUsers",
		p:                                             p, // subjects are case-sensitive
		"bogus":                                       "bogus",
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if !Same("user:A@example.com", "user:a@EXAMPLE.com") || Same("user:a@example.com", "group:a@example.com") {
		t.Error("Same compares the wrong thing")
	}
	if !IsPublic("allUsers") || !IsPublic("allAuthenticatedUsers") || IsPublic("domain:example.com") {
		t.Error("IsPublic is wrong")
	}
	if !IsDeleted("deleted:user:a@example.com?uid=1") || IsDeleted("user:deleted@example.com") {
		t.Error("IsDeleted is wrong")
	}
}

// Normalizing keeps a member valid and of the same kind, and is idempotent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"allUsers", "user:a@b.c", "serviceAccount:x@p.iam.gserviceaccount.com", "deleted:user:a@b.c?uid=1",
		"principal://x", "serviceAccount:example.com:my-proj.svc.id.goog[ns/ksa]", "group:", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse(s)
		if err != nil {
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not an *Error", err)
			}
			return
		}
		n := Normalize(s)
		m2, err := Parse(n)
		if err != nil {
			t.Fatalf("Normalize(%q) = %q does not parse: %v", s, n, err)
		}
		if m2.Kind != m.Kind {
			t.Fatalf("kind changed: %q → %q", m.Kind, m2.Kind)
		}
		if Normalize(n) != n {
			t.Fatalf("Normalize not idempotent on %q", s)
		}
	})
}
