package seed

import (
	"fmt"
	"net/url"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/sts/attrmap"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/sts/oidc"
)

// SeedWorkloadIdentityPool declares a workload identity pool and its OIDC
// providers.
type SeedWorkloadIdentityPool struct {
	Pool        string                         `yaml:"pool" json:"pool"`
	Project     string                         `yaml:"project" json:"project"`
	DisplayName string                         `yaml:"displayName" json:"displayName"`
	Description string                         `yaml:"description" json:"description"`
	Disabled    bool                           `yaml:"disabled" json:"disabled"`
	Providers   []SeedWorkloadIdentityProvider `yaml:"providers" json:"providers"`
}

// SeedWorkloadIdentityProvider declares an OIDC provider of a pool, with
// the real API's field names.
type SeedWorkloadIdentityProvider struct {
	ID                 string            `yaml:"id" json:"id"`
	DisplayName        string            `yaml:"displayName" json:"displayName"`
	Disabled           bool              `yaml:"disabled" json:"disabled"`
	IssuerURI          string            `yaml:"issuerUri" json:"issuerUri"`
	AllowedAudiences   []string          `yaml:"allowedAudiences" json:"allowedAudiences"`
	JWKSJSON           string            `yaml:"jwksJson" json:"jwksJson"`
	AttributeMapping   map[string]string `yaml:"attributeMapping" json:"attributeMapping"`
	AttributeCondition string            `yaml:"attributeCondition" json:"attributeCondition"`
}

// DefaultAttributeMapping is the mapping of a provider that declares none.
var DefaultAttributeMapping = map[string]string{attrmap.Subject: "assertion.sub"}

// Mapping is the provider's attributeMapping, or the default.
func (p SeedWorkloadIdentityProvider) Mapping() map[string]string {
	if len(p.AttributeMapping) == 0 {
		return DefaultAttributeMapping
	}
	return p.AttributeMapping
}

// checkPools checks the workloadIdentityPools entries: ids, a project,
// unique pools per project and providers per pool, and each provider's
// issuer, keys, mapping and condition.
func (s *Seed) checkPools(p *seedProblems, v *seedView) {
	for i, pool := range s.WorkloadIdentityPools {
		ent := seedEntry("workloadIdentityPools", i, pool.Pool)
		proj := s.Project(pool.Project)
		switch {
		case !model.PoolIDRe.MatchString(pool.Pool) || len(pool.Pool) >= 4 && pool.Pool[:4] == "gcp-":
			p.add(ent, "pool %q is not a pool id (4-32 characters: a-z, 0-9, '-'; not starting with gcp-)", pool.Pool)
		case seedDeclared(s.WorkloadIdentityPools[:i], func(o SeedWorkloadIdentityPool) bool {
			return o.Pool == pool.Pool && s.Project(o.Project) == proj
		}):
			p.add(ent, "pool %s is declared twice in project %s", pool.Pool, proj)
		}
		if proj == "" {
			p.add(ent, "project is required (or set defaults.project)")
		} else {
			s.checkProject(p, v, ent, proj)
		}
		if len(pool.Providers) == 0 {
			p.add(ent, "providers: at least one OIDC provider is required")
		}
		for j, pr := range pool.Providers {
			pent := fmt.Sprintf("%s: %s", ent, seedEntry("providers", j, pr.ID))
			if !model.ProviderIDRe.MatchString(pr.ID) {
				p.add(pent, "id %q is not a provider id (4-32 characters: a-z, 0-9, '-')", pr.ID)
			} else if seedDeclared(pool.Providers[:j], func(o SeedWorkloadIdentityProvider) bool { return o.ID == pr.ID }) {
				p.add(pent, "provider %s is declared twice", pr.ID)
			}
			if u, err := url.Parse(pr.IssuerURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				p.add(pent, "issuerUri %q must be the issuer's https:// URL (the tokens' iss)", pr.IssuerURI)
			}
			if _, err := oidc.ParseJWKS(pr.JWKSJSON); err != nil {
				p.add(pent, "%v (the emulator never fetches the issuer's keys)", err)
			}
			if _, err := attrmap.ParseMapping(pr.Mapping()); err != nil {
				p.add(pent, "%v", err)
			}
			if _, err := attrmap.ParseCondition(pr.AttributeCondition); err != nil {
				p.add(pent, "%v", err)
			}
		}
	}
}
