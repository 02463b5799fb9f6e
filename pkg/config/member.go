package config

import (
	"regexp"
	"strings"
)

// Member kinds accepted in grants, as IAM spells their prefixes.
const (
	AllUsers              = "allUsers"
	AllAuthenticatedUsers = "allAuthenticatedUsers"
)

// memberWant is the list of accepted forms quoted in error messages.
const memberWant = "want user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers"

var (
	emailRe  = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	domainRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	// serviceAccount:{project}.svc.id.goog[{namespace}/{ksa}] (GKE workload identity).
	workloadIdentityRe = regexp.MustCompile(`^[a-z][a-z0-9.:-]*\.svc\.id\.goog\[[a-z0-9-]{1,63}/[a-z0-9.-]{1,253}\]$`)
	principalRe        = regexp.MustCompile(`^principal(Set)?://iam\.googleapis\.com/[A-Za-z0-9._~%!$&'()*+,;=:@/-]+$`)
	shortNameRe        = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)
)

// MemberKind classifies an IAM member string; it returns "" for a string that
// is not a valid member.
func MemberKind(m string) string {
	switch m {
	case AllUsers, AllAuthenticatedUsers:
		return m
	}
	if principalRe.MatchString(m) {
		if strings.HasPrefix(m, "principalSet://") {
			return "principalSet"
		}
		return "principal"
	}
	prefix, value, ok := strings.Cut(m, ":")
	if !ok || value == "" || len(m) > 512 {
		return ""
	}
	switch prefix {
	case "user", "group":
		if emailRe.MatchString(value) {
			return prefix
		}
	case "serviceAccount":
		if emailRe.MatchString(value) || workloadIdentityRe.MatchString(value) {
			return prefix
		}
	case "domain":
		if domainRe.MatchString(value) {
			return prefix
		}
	}
	return ""
}

// IsPublicMember reports whether m grants access to everyone.
func IsPublicMember(m string) bool { return m == AllUsers || m == AllAuthenticatedUsers }

// NormalizeMember lower-cases the value of user, serviceAccount, group and
// domain members, as IAM stores them; other members are returned unchanged.
func NormalizeMember(m string) string {
	prefix, value, ok := strings.Cut(m, ":")
	if !ok {
		return m
	}
	switch prefix {
	case "user", "serviceAccount", "group", "domain":
		return prefix + ":" + strings.ToLower(value)
	}
	return m
}

// isShortName reports whether m is written as a short account name rather
// than an IAM member: no prefix, and not one of the special members.
func isShortName(m string) bool {
	return !strings.Contains(m, ":") && !IsPublicMember(m)
}
