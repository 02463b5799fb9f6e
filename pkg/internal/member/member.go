// Package member is invokerctl's one parser of IAM member strings (the
// entries of an allow policy binding's members list). The declaration's
// validation (pkg/config) and the policy matching of verify
// (pkg/internal/iampolicy) both use it, so what a declaration may name and
// what a policy read back is compared with are the same grammar. The JSON
// Schema (pkg/config/invokers.schema.json) and the Terraform module's
// variables.tf spell the same grammar as patterns; a table test in
// pkg/config feeds one set of cases through all three.
//
// The grammar is the one Google documents in "Principal identifiers",
// section "Principal identifiers for allow policies"
// (https://cloud.google.com/iam/docs/principal-identifiers), and in the
// members field of the IAM v1 Binding message
// (https://cloud.google.com/iam/docs/reference/rest/v1/Policy#Binding):
//
//	Kind                   Form
//	allUsers               allUsers                                      anyone on the internet
//	allAuthenticatedUsers  allAuthenticatedUsers                         any Google identity
//	user                   user:EMAIL                                    Google Account
//	group                  group:EMAIL                                   Google group
//	domain                 domain:DOMAIN                                 Workspace / Cloud Identity domain
//	serviceAccount         serviceAccount:EMAIL                          service account
//	serviceAccount         serviceAccount:PROJECT.svc.id.goog[NS/KSA]    Kubernetes service account (GKE)
//	principal              principal://iam.googleapis.com/WFPOOL/subject/SUBJECT
//	principal              principal://iam.googleapis.com/WLPOOL/subject/SUBJECT
//	principalSet           principalSet://iam.googleapis.com/WFPOOL/group/GROUP
//	principalSet           principalSet://iam.googleapis.com/WFPOOL/attribute.NAME/VALUE
//	principalSet           principalSet://iam.googleapis.com/WFPOOL/*
//	principalSet           principalSet://iam.googleapis.com/WLPOOL/group/GROUP
//	principalSet           principalSet://iam.googleapis.com/WLPOOL/attribute.NAME/VALUE
//	principalSet           principalSet://iam.googleapis.com/WLPOOL/*
//	principalSet           principalSet://iam.googleapis.com/WLPOOL/namespace/NS             GKE pods of a namespace
//	principalSet           principalSet://iam.googleapis.com/WLPOOL/kubernetes.cluster/URL   GKE pods of a cluster
//	principalSet           principalSet://cloudresourcemanager.googleapis.com/CONTAINER/NUMBER/type/ServiceAccount
//	deleted                deleted:user:EMAIL?uid=ID, deleted:group:EMAIL?uid=ID, deleted:serviceAccount:EMAIL?uid=ID
//
// where
//
//	EMAIL     RFC 5322 atext local part @ a host name of two or more labels
//	DOMAIN    a host name of two or more labels
//	PROJECT   a project id (6-30 of [a-z0-9-], starting with a letter), optionally
//	          scoped by a domain as domain-scoped projects are: example.com:my-project
//	NS, KSA   a Kubernetes namespace (DNS label) and service account (DNS subdomain)
//	WFPOOL    locations/global/workforcePools/POOL_ID
//	WLPOOL    projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL_ID
//	          (GKE's pool is PROJECT.svc.id.goog)
//	CONTAINER projects, folders or organizations
//	URL       https://container.googleapis.com/v1/projects/...
//	SUBJECT, VALUE   any non-blank text (subjects hold '/' and ':', e.g. ns/NS/sa/KSA)
//
// Two consequences settle what invokerctl's parsers once disagreed on:
// serviceAccount:example.com:my-project.svc.id.goog[ns/ksa] is a member
// (the Kubernetes form of a domain-scoped project), and principal:// or
// principalSet:// on any host other than the two above is not (IAM's
// federation pools and resource sets live there). deleted: members are what
// IAM writes into a policy once a principal is deleted: Parse accepts them
// because policies read back hold them, but they cannot be granted, so a
// declaration refuses them (Member.Grantable). Built-in resource
// identities, whose form varies by resource, are not accepted.
package member

import (
	"fmt"
	"regexp"
	"strings"
)

// Kind is the class of an IAM member.
type Kind string

// Member kinds.
const (
	AllUsers              Kind = "allUsers"
	AllAuthenticatedUsers Kind = "allAuthenticatedUsers"
	User                  Kind = "user"
	ServiceAccount        Kind = "serviceAccount"
	Group                 Kind = "group"
	Domain                Kind = "domain"
	Principal             Kind = "principal"
	PrincipalSet          Kind = "principalSet"
	Deleted               Kind = "deleted"
)

// Want lists the accepted forms, for error messages.
const Want = "user:, serviceAccount:, group:, domain:, principal://, principalSet://, allUsers, allAuthenticatedUsers"

// Member is a parsed IAM member.
type Member struct {
	Kind Kind
	// Value is what follows the kind's prefix: an email, a domain, the
	// Kubernetes service account form, the //-URI of a principal or
	// principal set, or the rest of a deleted: member. Empty for allUsers
	// and allAuthenticatedUsers.
	Value string
	// Raw is the member as given.
	Raw string
}

// Grantable reports whether the member can be granted a role: every kind
// but a deleted principal.
func (m Member) Grantable() bool { return m.Kind != Deleted }

// Error says why a string is not an IAM member. Callers branch on it with
// errors.As.
type Error struct {
	Member string
	// Kind is the kind the prefix names, or "" when the prefix is not one
	// of IAM's.
	Kind   Kind
	Reason string
}

func (e *Error) Error() string {
	if e.Kind == "" {
		return fmt.Sprintf("%q is not a valid IAM member (want %s)", e.Member, Want)
	}
	return fmt.Sprintf("%q is not a valid IAM member: %s", e.Member, e.Reason)
}

// The pieces of the grammar. Each is anchored where it is used.
const (
	// RFC 5322 atext local part, DNS host name with at least two labels.
	emailPat  = "[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@" + domainPat
	domainPat = `[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+`
	// A project id, optionally scoped by a domain (example.com:my-project).
	projectPat = `(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]`
	// Kubernetes namespace (DNS label) and service account (DNS subdomain).
	namespacePat = `[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?`
	ksaPat       = `[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?`
	kubernetesSA = projectPat + `\.svc\.id\.goog\[` + namespacePat + `/` + ksaPat + `\]`

	poolPat      = `[a-z0-9](?:[a-z0-9.:-]*[a-z0-9])?`
	workforce    = `locations/global/workforcePools/` + poolPat
	workload     = `projects/[0-9]+/locations/global/workloadIdentityPools/` + poolPat
	poolSetAlts  = `group/[^/\s]+|attribute\.[A-Za-z0-9_]+/\S+|\*`
	principalPat = `//iam\.googleapis\.com/(?:` + workforce + `|` + workload + `)/subject/\S+`
	principalSet = `//(?:iam\.googleapis\.com/(?:` + workforce + `/(?:` + poolSetAlts + `)` +
		`|` + workload + `/(?:` + poolSetAlts + `|namespace/` + namespacePat +
		`|kubernetes\.cluster/https://container\.googleapis\.com/v1/projects/\S+))` +
		`|cloudresourcemanager\.googleapis\.com/(?:projects|folders|organizations)/[0-9]+/type/ServiceAccount)`
)

var (
	emailRe        = regexp.MustCompile(`^` + emailPat + `$`)
	domainRe       = regexp.MustCompile(`^` + domainPat + `$`)
	kubernetesSARe = regexp.MustCompile(`^` + kubernetesSA + `$`)
	principalRe    = regexp.MustCompile(`^` + principalPat + `$`)
	principalSetRe = regexp.MustCompile(`^` + principalSet + `$`)
	deletedRe      = regexp.MustCompile(`^(user|group|serviceAccount):(` + emailPat + `)\?uid=[0-9]+$`)
)

// Parse parses and validates an IAM member string against the grammar in
// the package doc. The error is an *Error.
func Parse(s string) (Member, error) {
	switch Kind(s) {
	case AllUsers, AllAuthenticatedUsers:
		return Member{Kind: Kind(s), Raw: s}, nil
	}
	prefix, value, ok := strings.Cut(s, ":")
	if !ok || value == "" {
		return Member{}, &Error{Member: s}
	}
	m := Member{Kind: Kind(prefix), Value: value, Raw: s}
	fail := func(format string, args ...any) (Member, error) {
		return Member{}, &Error{Member: s, Kind: m.Kind, Reason: fmt.Sprintf(format, args...)}
	}
	switch m.Kind {
	case User, Group:
		if !emailRe.MatchString(value) {
			return fail("%q is not an email address", value)
		}
	case ServiceAccount:
		if !emailRe.MatchString(value) && !kubernetesSARe.MatchString(value) {
			return fail("%q is neither a service account email nor PROJECT_ID.svc.id.goog[NAMESPACE/KSA]", value)
		}
	case Domain:
		if !domainRe.MatchString(value) {
			return fail("%q is not a domain name", value)
		}
	case Principal:
		if !principalRe.MatchString(value) {
			return fail("want principal://iam.googleapis.com/ followed by a workforce or workload identity pool and /subject/SUBJECT")
		}
	case PrincipalSet:
		if !principalSetRe.MatchString(value) {
			return fail("want principalSet://iam.googleapis.com/ followed by a workforce or workload identity pool and /group/, /attribute.NAME/, /* (or a GKE namespace or cluster), or principalSet://cloudresourcemanager.googleapis.com/.../type/ServiceAccount")
		}
	case Deleted:
		if !deletedRe.MatchString(value) {
			return fail("want deleted:user:, deleted:group: or deleted:serviceAccount: followed by an email and ?uid=ID")
		}
	default:
		return Member{}, &Error{Member: s}
	}
	return m, nil
}

// Valid reports whether s parses as an IAM member.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// Normalize returns the form IAM stores: the value of user, serviceAccount,
// group and domain members lower-cased (IAM compares them
// case-insensitively); every other member, and anything that does not
// parse, is returned as given.
func Normalize(s string) string {
	m, err := Parse(s)
	if err != nil {
		return s
	}
	switch m.Kind {
	case User, ServiceAccount, Group, Domain:
		return string(m.Kind) + ":" + strings.ToLower(m.Value)
	}
	return s
}

// Same reports whether two member strings name the same principal.
func Same(a, b string) bool { return Normalize(a) == Normalize(b) }

// IsPublic reports whether s grants access to anyone (allUsers) or to anyone
// with a Google identity (allAuthenticatedUsers).
func IsPublic(s string) bool {
	return s == string(AllUsers) || s == string(AllAuthenticatedUsers)
}

// IsDeleted reports whether s names a deleted principal.
func IsDeleted(s string) bool { return strings.HasPrefix(s, string(Deleted)+":") }
