package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/internal/member"
)

// The special members that make a target public.
const (
	AllUsers              = string(member.AllUsers)
	AllAuthenticatedUsers = string(member.AllAuthenticatedUsers)
)

// MemberKind classifies an IAM member a declaration may name ("user",
// "serviceAccount", "group", "domain", "principal", "principalSet",
// "allUsers" or "allAuthenticatedUsers"); it returns "" for anything else,
// including deleted: members, which cannot be granted.
func MemberKind(m string) string {
	p, err := member.Parse(m)
	if err != nil || !p.Grantable() {
		return ""
	}
	return string(p.Kind)
}

// IsPublicMember reports whether m grants access to everyone.
func IsPublicMember(m string) bool { return member.IsPublic(m) }

// NormalizeMember lower-cases the value of user, serviceAccount, group and
// domain members, as IAM stores them; other members are returned unchanged.
func NormalizeMember(m string) string { return member.Normalize(m) }

// isShortName reports whether m is written as a short account name rather
// than an IAM member: no prefix, and not one of the special members.
func isShortName(m string) bool {
	return !strings.Contains(m, ":") && !IsPublicMember(m)
}

// checkMember checks a member as written in a declaration: either a short
// account name (short is true; whether it is declared is checked by the
// caller) or an IAM member that can be granted. The error is the message
// for the field.
func checkMember(m string) (short bool, err error) {
	if isShortName(m) {
		if !shortNameRe.MatchString(m) {
			return true, fmt.Errorf("%q is not a valid IAM member (want %s) nor a short account name", m, member.Want)
		}
		return true, nil
	}
	p, err := member.Parse(m)
	var me *member.Error
	switch {
	case errors.As(err, &me):
		return false, me
	case err != nil:
		return false, err
	case !p.Grantable():
		return false, fmt.Errorf("%q names a deleted principal: IAM shows these in policies, but only a live identity can be granted", m)
	}
	return false, nil
}
