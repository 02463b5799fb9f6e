// Package authz is the emulator's authorization model: the IAM member
// grammar, the role table (predefined roles from the project's embedded
// table plus custom roles) and the check whether a principal holds a
// permission through a set of policy bindings.
package authz

import (
	"fmt"
	"regexp"
	"strings"
)

// The emulator's member grammar is its own, written from Google's
// documentation (contract §8.3) and kept independent of invokerctl's parser
// on purpose: the emulator is the independent check of what invokerctl
// sends.

// emailRE is the shape of an email address in a member.
var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// MemberError says why a string is not an IAM member.
type MemberError struct {
	Member  string
	Problem string // e.g. "does not name an email address"
}

func (e *MemberError) Error() string { return fmt.Sprintf("member %q %s", e.Member, e.Problem) }

// NormalizeMember validates an IAM member string and returns it in the
// form IAM stores: allUsers and allAuthenticatedUsers as they are (case
// sensitive); user:, serviceAccount:, group: and domain: with the value
// lower-cased; principal:// and principalSet:// kept as given;
// deleted:{user|serviceAccount|group}:{email}?uid={n} with the email
// lower-cased, deleted:principal://… kept. Anything else is a
// *MemberError.
func NormalizeMember(m string) (string, error) {
	bad := func(problem string) (string, error) { return "", &MemberError{Member: m, Problem: problem} }
	switch m {
	case "allUsers", "allAuthenticatedUsers":
		return m, nil
	case "":
		return bad("is empty")
	}
	for _, pre := range []string{"principal://", "principalSet://"} {
		if rest, ok := strings.CutPrefix(m, pre); ok {
			if rest == "" {
				return bad("names no principal")
			}
			return m, nil
		}
	}
	if rest, ok := strings.CutPrefix(m, "deleted:"); ok {
		if strings.HasPrefix(rest, "principal://") {
			return m, nil
		}
		kind, val, _ := strings.Cut(rest, ":")
		email, uid, hasUID := strings.Cut(val, "?uid=")
		if (kind != "user" && kind != "serviceAccount" && kind != "group") || !emailRE.MatchString(email) || !hasUID || uid == "" {
			return bad("is not of the form deleted:serviceAccount:EMAIL?uid=N")
		}
		return "deleted:" + kind + ":" + strings.ToLower(email) + "?uid=" + uid, nil
	}
	kind, val, ok := strings.Cut(m, ":")
	if !ok || strings.TrimSpace(val) == "" || strings.ContainsAny(val, " \t\n") {
		return bad("is not a valid IAM member (user:, serviceAccount:, group:, domain:, allUsers, allAuthenticatedUsers, ...)")
	}
	switch kind {
	case "user", "group":
		if !emailRE.MatchString(val) {
			return bad("does not name an email address")
		}
	case "serviceAccount":
		// Workload identity members ("p.svc.id.goog[ns/ksa]") carry no '@'.
		if !emailRE.MatchString(val) && !strings.Contains(val, ".svc.id.goog[") {
			return bad("does not name an email address")
		}
	case "domain":
		if strings.Contains(val, "@") || !strings.Contains(val, ".") {
			return bad("does not name a domain")
		}
	default:
		return bad(fmt.Sprintf("has an unknown type %q", kind))
	}
	return kind + ":" + strings.ToLower(val), nil
}

// NormalizeMemberOrKeep normalizes m, keeping it unchanged when invalid
// (for configuration values such as the bootstrap principal).
func NormalizeMemberOrKeep(m string) string {
	if n, err := NormalizeMember(m); err == nil {
		return n
	}
	return m
}

// ServiceAccountProject returns the project of a serviceAccount: member of
// a user-managed account (email ending in .iam.gserviceaccount.com) and its
// lower-case email; ok is false for any other member.
func ServiceAccountProject(member string) (project, email string, ok bool) {
	email, ok = strings.CutPrefix(member, "serviceAccount:")
	if !ok {
		return "", "", false
	}
	email = strings.ToLower(email)
	_, domain, _ := strings.Cut(email, "@")
	project, ok = strings.CutSuffix(domain, ".iam.gserviceaccount.com")
	return project, email, ok
}
