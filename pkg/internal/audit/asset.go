package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	cloudasset "google.golang.org/api/cloudasset/v1"
	cloudfunctions "google.golang.org/api/cloudfunctions/v2"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
)

// Asset types the asset engine reads.
const (
	AssetTypeService  = "run.googleapis.com/Service"
	AssetTypeFunction = "cloudfunctions.googleapis.com/Function"
)

// AssetPageSize is the page size the asset engine asks of assets.list: the
// method's maximum.
const AssetPageSize = 1000

// AssetScope is what one asset-engine audit covers.
type AssetScope struct {
	// Parents are "projects/p", "folders/f" or "organizations/o"; every
	// service below each is audited once.
	Parents []string
	// Location limits the audit to one region; "" means every location.
	Location string
}

// assetListing is what Cloud Asset Inventory answered for one parent.
type assetListing struct {
	parent    string
	resources []*cloudasset.Asset
	policies  []*cloudasset.Asset
	// policiesRead: the IAM_POLICY listing came out whole, so a service
	// absent from it has no policy of its own.
	policiesRead bool
}

// AuditAssets is the asset engine: it reads every service and function
// below scope's parents, and their own policies, from Cloud Asset
// Inventory's assets.list (content types RESOURCE and IAM_POLICY, pages of
// AssetPageSize), then each project's, folder's and organization's policy
// on their paths once, through Resource Manager. Each asset carries its
// ancestors, so no parent is read. The calls grow with pages and
// ancestors, not with services: no service policy is read one by one. The
// Report is the one Audit gives for the same services.
func (e *Engine) AuditAssets(ctx context.Context, scope AssetScope) (*Report, error) {
	if e.Clients == nil || e.Clients.Asset == nil {
		return nil, fmt.Errorf("the asset engine needs a Cloud Asset client")
	}
	r := e.newRun(ctx)
	rep := &Report{}
	listings := make([]*assetListing, len(scope.Parents))
	for i, parent := range scope.Parents {
		l := &assetListing{parent: parent}
		listings[i] = l
		rep.Scope = append(rep.Scope, parent)
		r.read(parent, "list assets", func() error {
			var err error
			l.resources, err = r.listAssets(parent, "RESOURCE", AssetTypeService, AssetTypeFunction)
			return err
		})
		r.read(parent, "list IAM policies", func() error {
			var err error
			l.policies, err = r.listAssets(parent, "IAM_POLICY", AssetTypeService)
			l.policiesRead = err == nil
			return err
		})
	}
	r.wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	projects, own, err := r.assetInventory(listings, scope.Location)
	if err != nil {
		return nil, err
	}
	for _, p := range projects {
		r.policy("projects/" + p.id)
		for _, a := range p.ancestors {
			r.policy(a)
		}
	}
	r.wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, p := range projects {
		for _, s := range r.servicesOf(p) {
			r.resolve(s, own[s.Name], p)
			rep.Services = append(rep.Services, s)
		}
	}
	rep.Errors = r.errs
	rep.Sort()
	return rep, nil
}

// listAssets reads every page of parent's assets of contentType and types.
func (r *auditRun) listAssets(parent, contentType string, types ...string) ([]*cloudasset.Asset, error) {
	size := r.e.AssetPageSize
	if size <= 0 {
		size = AssetPageSize
	}
	var out []*cloudasset.Asset
	err := r.e.Clients.Asset.Assets.List(parent).ContentType(contentType).AssetTypes(types...).PageSize(size).
		Context(r.ctx).Pages(r.ctx, func(resp *cloudasset.ListAssetsResponse) error {
		out = append(out, resp.Assets...)
		return nil
	})
	return out, err
}

// assetInventory turns the listings into projects (their services,
// functions and ancestors) and each service's own policy, keyed by service
// name; a service whose policy listing failed has none (nil), so resolve
// marks it incomplete. A service listed under two parents counts once.
func (r *auditRun) assetInventory(listings []*assetListing, location string) ([]*project, map[string]*iampolicy.Policy, error) {
	var projects []*project
	byID := map[string]*project{}
	seen := map[string]bool{}
	own := map[string]*iampolicy.Policy{}
	for _, l := range listings {
		policies := map[string]*iampolicy.Policy{}
		for _, a := range l.policies {
			if a.IamPolicy == nil {
				continue
			}
			pol, err := iampolicy.FromAPI(a.IamPolicy)
			if err != nil {
				return nil, nil, fmt.Errorf("policy of %s: %w", a.Name, err)
			}
			policies[shortName(a.Name)] = pol
		}
		for _, a := range l.resources {
			if a.Resource == nil || len(a.Resource.Data) == 0 {
				continue
			}
			name := shortName(a.Name)
			if seen[name] || (location != "" && segmentAfter(name, "locations") != location) {
				continue
			}
			seen[name] = true
			id := segmentAfter(name, "projects")
			p := byID[id]
			if p == nil {
				p = &project{id: id}
				for _, anc := range a.Ancestors {
					if !strings.HasPrefix(anc, "projects/") {
						p.ancestors = append(p.ancestors, anc)
					}
				}
				byID[id] = p
				projects = append(projects, p)
			}
			switch a.AssetType {
			case AssetTypeService:
				var s run.GoogleCloudRunV2Service
				if err := json.Unmarshal(a.Resource.Data, &s); err != nil {
					return nil, nil, fmt.Errorf("resource data of %s: %w", a.Name, err)
				}
				p.services = append(p.services, &s)
				if pol := policies[name]; pol != nil {
					own[name] = pol
				} else if l.policiesRead {
					own[name] = &iampolicy.Policy{}
				}
			case AssetTypeFunction:
				var f cloudfunctions.Function
				if err := json.Unmarshal(a.Resource.Data, &f); err != nil {
					return nil, nil, fmt.Errorf("resource data of %s: %w", a.Name, err)
				}
				p.functions = append(p.functions, &f)
			}
		}
	}
	return projects, own, nil
}

// shortName is a full resource name without its service host:
// "//run.googleapis.com/projects/p/locations/l/services/s" becomes
// "projects/p/locations/l/services/s".
func shortName(full string) string {
	if rest, ok := strings.CutPrefix(full, "//"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok {
			return after
		}
	}
	return full
}
