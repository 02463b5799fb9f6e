package model

import (
	"regexp"
	"strings"
)

// Workload Identity Federation: pools of external identities, their OIDC
// providers, and what the emulator remembers of each federated subject.

// WorkloadIdentityPool is an IAM workload identity pool
// (projects/{number}/locations/global/workloadIdentityPools/{pool}).
type WorkloadIdentityPool struct {
	Name        string `json:"name"`
	ProjectID   string `json:"projectId"`
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
	// Providers by provider id.
	Providers map[string]*WorkloadIdentityProvider `json:"providers,omitempty"`
}

// WorkloadIdentityProvider is an OIDC provider of a pool; its fields are
// the real API's (attributeMapping, attributeCondition, oidc.issuerUri,
// oidc.allowedAudiences, oidc.jwksJson).
type WorkloadIdentityProvider struct {
	Name               string            `json:"name"` // {pool name}/providers/{id}
	DisplayName        string            `json:"displayName,omitempty"`
	Disabled           bool              `json:"disabled,omitempty"`
	AttributeMapping   map[string]string `json:"attributeMapping,omitempty"`
	AttributeCondition string            `json:"attributeCondition,omitempty"`
	IssuerURI          string            `json:"issuerUri"`
	AllowedAudiences   []string          `json:"allowedAudiences,omitempty"`
	JWKSJSON           string            `json:"jwksJson"`
}

// FederatedSubject is what the emulator keeps of a federated principal
// (principal://iam.googleapis.com/{pool}/subject/{sub}) from its latest
// token exchange: the attributes principalSet:// members are matched on.
type FederatedSubject struct {
	Pool       string            `json:"pool"`
	Attributes map[string]string `json:"attributes,omitempty"` // "repository" for attribute.repository
	Groups     []string          `json:"groups,omitempty"`     // google.groups
}

// IAMHost prefixes the principal identifiers of federated identities.
const IAMHost = "//iam.googleapis.com/"

// Name shapes of pools and providers (the real API's: 4-32 characters,
// lower case letters, digits and hyphens; "gcp-" is reserved).
var (
	PoolIDRe     = regexp.MustCompile(`^[a-z0-9][-a-z0-9]{2,30}[a-z0-9]$`)
	ProviderIDRe = regexp.MustCompile(`^[a-z0-9][-a-z0-9]{2,30}[a-z0-9]$`)
)

// PoolName is the resource name of a pool of the project numbered number.
func PoolName(number, pool string) string {
	return "projects/" + number + "/locations/global/workloadIdentityPools/" + pool
}

// PoolOfPrincipal returns the pool name a principal:// or principalSet://
// identifier belongs to and what follows it ("subject/SUB", "*",
// "attribute.NAME/VALUE", "group/G"); ok is false for anything else.
func PoolOfPrincipal(id string) (pool, rest string, ok bool) {
	for _, pre := range []string{"principal:" + IAMHost, "principalSet:" + IAMHost} {
		if tail, found := strings.CutPrefix(id, pre); found {
			segs := strings.SplitN(tail, "/", 7)
			if len(segs) < 7 || segs[0] != "projects" || segs[2] != "locations" || segs[4] != "workloadIdentityPools" {
				return "", "", false
			}
			return strings.Join(segs[:6], "/"), segs[6], true
		}
	}
	return "", "", false
}
