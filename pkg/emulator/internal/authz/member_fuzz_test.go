package authz

import (
	"errors"
	"testing"
)

// FuzzNormalizeMember: the emulator's IAM member parser never panics,
// refuses with a *MemberError naming the input, and its normal form is a
// fixed point (normalizing it again changes nothing), so a member stored
// once compares equal to the same member sent again.
func FuzzNormalizeMember(f *testing.F) {
	for _, m := range []string{"allUsers", "user:A@Example.com", "serviceAccount:p.svc.id.goog[ns/ksa]", "domain:example.com",
		"deleted:serviceAccount:X@p.iam.gserviceaccount.com?uid=123", "principal://iam.googleapis.com/x", "group:", "user: a@b.co"} {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, m string) {
		n, err := NormalizeMember(m)
		if err != nil {
			var me *MemberError
			if !errors.As(err, &me) || me.Member != m || n != "" {
				t.Fatalf("NormalizeMember(%q) = %q, %v: want a *MemberError naming the input", m, n, err)
			}
			return
		}
		again, err := NormalizeMember(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeMember(%q) = %q, but NormalizeMember(%q) = %q, %v", m, n, n, again, err)
		}
	})
}
