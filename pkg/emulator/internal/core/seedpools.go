package core

import (
	"fmt"
	"maps"
	"slices"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

// seedPoolsLocked creates the seed's workload identity pools that do not
// exist yet (named with their project's number), with their providers;
// a provider without allowedAudiences accepts Google's default audience,
// its full name with an https: prefix. The seed is validated. Called with
// e.Mu held.
func (e *Server) seedPoolsLocked(s *seed.Seed) error {
	for _, sp := range s.WorkloadIdentityPools {
		id, number := s.Project(sp.Project), ""
		if id == e.Opts.Project {
			number = e.Opts.ProjectNumber
		}
		p, err := e.ensureProjectLocked(id, number)
		if err != nil {
			return fmt.Errorf("seed %s: workload identity pool %s: %w", s.Name(), sp.Pool, err)
		}
		name := model.PoolName(p.Number, sp.Pool)
		if e.St.WorkloadIdentityPools == nil {
			e.St.WorkloadIdentityPools = map[string]*model.WorkloadIdentityPool{}
		}
		if e.St.WorkloadIdentityPools[name] != nil {
			continue
		}
		pool := &model.WorkloadIdentityPool{Name: name, ProjectID: p.ID, DisplayName: sp.DisplayName,
			Description: sp.Description, Disabled: sp.Disabled, Providers: map[string]*model.WorkloadIdentityProvider{}}
		for _, sv := range sp.Providers {
			pname := name + "/providers/" + sv.ID
			auds := slices.Clone(sv.AllowedAudiences)
			if len(auds) == 0 {
				auds = []string{"https:" + model.IAMHost + pname}
			}
			pool.Providers[sv.ID] = &model.WorkloadIdentityProvider{Name: pname, DisplayName: sv.DisplayName,
				Disabled: sv.Disabled, AttributeMapping: maps.Clone(sv.Mapping()), AttributeCondition: sv.AttributeCondition,
				IssuerURI: sv.IssuerURI, AllowedAudiences: auds, JWKSJSON: sv.JWKSJSON}
		}
		e.St.WorkloadIdentityPools[name] = pool
	}
	return nil
}
