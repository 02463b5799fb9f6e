package iampolicy

import (
	"fmt"
	"regexp"
	"strings"
)

// Special members.
const (
	AllUsers              = "allUsers"
	AllAuthenticatedUsers = "allAuthenticatedUsers"
)

// MemberKind is the prefix class of an IAM member string.
type MemberKind string

// Member kinds.
const (
	KindAllUsers       MemberKind = "allUsers"
	KindAllAuth        MemberKind = "allAuthenticatedUsers"
	KindUser           MemberKind = "user"
	KindServiceAccount MemberKind = "serviceAccount"
	KindGroup          MemberKind = "group"
	KindDomain         MemberKind = "domain"
	KindPrincipal      MemberKind = "principal"
	KindPrincipalSet   MemberKind = "principalSet"
	KindDeleted        MemberKind = "deleted"
)

// Member is a parsed IAM member.
type Member struct {
	Kind  MemberKind
	Value string // email, domain, principal URI or deleted: remainder
	Raw   string
}

var (
	emailRE  = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	domainRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	// Workload identity pool members: serviceAccount:PROJECT.svc.id.goog[ns/ksa].
	wiRE = regexp.MustCompile(`^[a-z][a-z0-9-]*\.svc\.id\.goog\[[^/\]]+/[^/\]]+\]$`)
)

// ParseMember parses and validates an IAM member string. The grammar is the
// one IAM accepts in policy bindings.
func ParseMember(s string) (Member, error) {
	switch s {
	case AllUsers:
		return Member{Kind: KindAllUsers, Raw: s}, nil
	case AllAuthenticatedUsers:
		return Member{Kind: KindAllAuth, Raw: s}, nil
	}
	if strings.HasPrefix(s, "principal://") {
		return Member{Kind: KindPrincipal, Value: strings.TrimPrefix(s, "principal:"), Raw: s}, nil
	}
	if strings.HasPrefix(s, "principalSet://") {
		return Member{Kind: KindPrincipalSet, Value: strings.TrimPrefix(s, "principalSet:"), Raw: s}, nil
	}
	prefix, value, ok := strings.Cut(s, ":")
	if !ok || value == "" {
		return Member{}, fmt.Errorf("%q is not a valid IAM member (want user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers or allAuthenticatedUsers)", s)
	}
	m := Member{Kind: MemberKind(prefix), Value: value, Raw: s}
	switch m.Kind {
	case KindUser, KindGroup:
		if !emailRE.MatchString(value) {
			return Member{}, fmt.Errorf("%q: %q is not an email address", s, value)
		}
	case KindServiceAccount:
		if !emailRE.MatchString(value) && !wiRE.MatchString(value) {
			return Member{}, fmt.Errorf("%q: %q is not a service account email", s, value)
		}
	case KindDomain:
		if !domainRE.MatchString(value) {
			return Member{}, fmt.Errorf("%q: %q is not a domain", s, value)
		}
	case KindDeleted:
		inner, _, _ := strings.Cut(value, "?uid=")
		if _, err := ParseMember(inner); err != nil {
			return Member{}, fmt.Errorf("%q: deleted member: %w", s, err)
		}
	default:
		return Member{}, fmt.Errorf("%q is not a valid IAM member (want user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers or allAuthenticatedUsers)", s)
	}
	return m, nil
}

// Normalize returns the canonical form IAM stores: the value part of user,
// serviceAccount, group and domain members lower-cased; everything else as
// given. Invalid members are returned unchanged.
func Normalize(s string) string {
	m, err := ParseMember(s)
	if err != nil {
		return s
	}
	switch m.Kind {
	case KindUser, KindServiceAccount, KindGroup, KindDomain:
		return string(m.Kind) + ":" + strings.ToLower(m.Value)
	}
	return s
}

// IsPublic reports whether member grants access to anyone (allUsers) or to
// anyone with a Google identity (allAuthenticatedUsers).
func IsPublic(member string) bool {
	return member == AllUsers || member == AllAuthenticatedUsers
}

// IsDeleted reports whether member names a deleted principal.
func IsDeleted(member string) bool { return strings.HasPrefix(member, "deleted:") }

// SameMember reports whether two member strings name the same principal
// (case-insensitively where IAM is).
func SameMember(a, b string) bool { return Normalize(a) == Normalize(b) }
