package authz

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeMember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" means invalid
		problem  string // part of the problem for invalid members
	}{
		{in: "allUsers", want: "allUsers"},
		{in: "allAuthenticatedUsers", want: "allAuthenticatedUsers"},
		{in: "allusers", problem: "not a valid IAM member"},
		{in: "user:Alice@Example.COM", want: "user:alice@example.com"},
		{in: "serviceAccount:SA@P.iam.gserviceaccount.com", want: "serviceAccount:sa@p.iam.gserviceaccount.com"},
		{in: "serviceAccount:p.svc.id.goog[ns/ksa]", want: "serviceAccount:p.svc.id.goog[ns/ksa]"},
		{in: "group:Team@Example.com", want: "group:team@example.com"},
		{in: "domain:Example.COM", want: "domain:example.com"},
		{in: "principal://iam.googleapis.com/locations/global/workforcePools/P/subject/Bob", want: "principal://iam.googleapis.com/locations/global/workforcePools/P/subject/Bob"},
		{in: "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/P/group/G", want: "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/P/group/G"},
		{in: "deleted:serviceAccount:SA@p.iam.gserviceaccount.com?uid=123", want: "deleted:serviceAccount:sa@p.iam.gserviceaccount.com?uid=123"},
		{in: "deleted:user:a@b.c?uid=9", want: "deleted:user:a@b.c?uid=9"},
		{in: "deleted:serviceAccount:sa@p.iam.gserviceaccount.com", problem: "deleted:serviceAccount:EMAIL?uid=N"},
		{in: "", problem: "empty"},
		{in: "principal://", problem: "names no principal"},
		{in: "user:", problem: "not a valid IAM member"},
		{in: "user:nobody", problem: "email address"},
		{in: "user:a@nodot", problem: "email address"},
		{in: "User:a@b.c", problem: `unknown type "User"`},
		{in: "robot:a@b.c", problem: `unknown type "robot"`},
		{in: "a@b.c", problem: "not a valid IAM member"},
		{in: "domain:nodot", problem: "does not name a domain"},
		{in: "domain:a@b.c", problem: "does not name a domain"},
	}
	for _, tt := range tests {
		got, err := NormalizeMember(tt.in)
		if tt.want == "" {
			var me *MemberError
			if !errors.As(err, &me) || me.Member != tt.in || !strings.Contains(me.Problem, tt.problem) {
				t.Errorf("NormalizeMember(%q) = %q, %v; want a MemberError about %q", tt.in, got, err, tt.problem)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeMember(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if NormalizeMemberOrKeep(tt.in) != tt.want {
			t.Errorf("NormalizeMemberOrKeep(%q) = %q", tt.in, NormalizeMemberOrKeep(tt.in))
		}
	}
}

func TestServiceAccountProject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, project, email string
		ok                 bool
	}{
		{"serviceAccount:A@Proj-1.iam.gserviceaccount.com", "proj-1", "a@proj-1.iam.gserviceaccount.com", true},
		{"serviceAccount:123-compute@developer.gserviceaccount.com", "", "", false},
		{"user:a@proj-1.iam.gserviceaccount.com", "", "", false},
	}
	for _, tt := range tests {
		p, e, ok := ServiceAccountProject(tt.in)
		if ok != tt.ok || (ok && (p != tt.project || e != tt.email)) {
			t.Errorf("ServiceAccountProject(%q) = %q %q %v", tt.in, p, e, ok)
		}
	}
}
