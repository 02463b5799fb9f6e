package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	cloudfunctions "google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/googleapi"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
	"github.com/invokerctl/invokerctl/pkg/internal/member"
	"github.com/invokerctl/invokerctl/pkg/internal/once"
)

// DefaultWorkers bounds the reads in flight when Engine.Workers is zero.
const DefaultWorkers = 16

// Scope is what one project-engine audit covers.
type Scope struct {
	Projects []string // project ids
	// Location limits the audit to one region; "" means every location.
	Location string
}

// Engine audits with either engine: Audit is the project engine,
// AuditAssets the asset engine (asset.go); both give the same Report.
//
// The project engine reads the Admin APIs directly. Per
// project it lists services (Run Admin v2, locations/- or the location)
// and functions (Cloud Functions v2), reads the project's policy
// (Resource Manager v1) and its ancestry; then one getIamPolicy per
// service and one policy read per distinct folder or organization. No
// resource is read twice.
type Engine struct {
	Clients *gcp.Clients
	// Ancestry reads parents and folder/organization policies; nil means
	// ResourceManager over Clients.CRM3.
	Ancestry Ancestry
	// Roles resolves roles to permissions; nil means the predefined table
	// with custom roles read through IAM v1.
	Roles *iampolicy.RoleResolver
	// Workers bounds the reads in flight; default DefaultWorkers.
	Workers int
	// AssetPageSize is the page size of the asset engine's listings;
	// default AssetPageSize, the method's maximum.
	AssetPageSize int64
	// Progress, when set, is told how many reads are done of those known
	// so far (called from many goroutines, one at a time).
	Progress func(done, total int)
}

// auditRun is the state of one Audit call.
type auditRun struct {
	e        *Engine
	ctx      context.Context
	ancestry Ancestry
	roles    *iampolicy.RoleResolver
	sem      chan struct{}
	wg       sync.WaitGroup

	mu          sync.Mutex
	errs        []*ReadError
	done, total int

	parents  once.Map[string]
	policies once.Map[*iampolicy.Policy]
}

// project is what the inventory of one project found.
type project struct {
	id        string
	services  []*run.GoogleCloudRunV2Service
	functions []*cloudfunctions.Function
	ancestors []string
	// ancestryErr: the chain above the project is cut short.
	ancestryErr bool
}

// Audit reads every service of scope and who can invoke it. Resources that
// cannot be read are listed in Report.Errors (and their services marked
// Incomplete); Audit fails only when ctx ends. Findings are not computed
// here: see Findings and Drift.
func (e *Engine) Audit(ctx context.Context, scope Scope) (*Report, error) {
	r := e.newRun(ctx)
	loc := scope.Location
	if loc == "" {
		loc = "-"
	}
	rep := &Report{}
	projects := make([]*project, len(scope.Projects))
	for i, id := range scope.Projects {
		p := &project{id: id}
		projects[i] = p
		rep.Scope = append(rep.Scope, "projects/"+id)
		r.inventory(p, loc)
	}
	r.wg.Wait()

	var services []*Service
	svcPolicies := map[*Service]**iampolicy.Policy{}
	for _, p := range projects {
		for _, s := range r.servicesOf(p) {
			services = append(services, s)
			pp := new(*iampolicy.Policy)
			svcPolicies[s] = pp
			r.read(s.Name, "getIamPolicy", func() error {
				pol, err := e.Clients.Run.Projects.Locations.Services.GetIamPolicy(s.Name).OptionsRequestedPolicyVersion(3).Context(ctx).Do()
				if err != nil {
					return err
				}
				*pp, err = iampolicy.FromAPI(pol)
				return err
			})
		}
	}
	r.wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	byID := map[string]*project{}
	for _, p := range projects {
		byID[p.id] = p
	}
	for _, s := range services {
		r.resolve(s, *svcPolicies[s], byID[s.Project])
	}
	rep.Services = services
	rep.Errors = r.errs
	rep.Sort()
	return rep, nil
}

// newRun starts the state of one audit with e's settings.
func (e *Engine) newRun(ctx context.Context) *auditRun {
	r := &auditRun{e: e, ctx: ctx, ancestry: e.Ancestry, roles: e.Roles}
	if r.ancestry == nil {
		r.ancestry = ResourceManager{CRM: e.Clients.CRM3}
	}
	if r.roles == nil {
		r.roles = iampolicy.NewRoleResolver(e.Clients.CustomRolePermissions)
	}
	workers := e.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	r.sem = make(chan struct{}, workers)
	return r
}

// inventory lists p's services and functions and reads its policy and
// ancestry, each on the pool.
func (r *auditRun) inventory(p *project, loc string) {
	parent := "projects/" + p.id + "/locations/" + loc
	var mu sync.Mutex
	r.read(parent, "list services", func() error {
		var out []*run.GoogleCloudRunV2Service
		err := r.e.Clients.Run.Projects.Locations.Services.List(parent).Context(r.ctx).Pages(r.ctx, func(resp *run.GoogleCloudRunV2ListServicesResponse) error {
			out = append(out, resp.Services...)
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		p.services = out
		return err
	})
	r.read(parent, "list functions", func() error {
		var out []*cloudfunctions.Function
		err := r.e.Clients.Functions.Projects.Locations.Functions.List(parent).Context(r.ctx).Pages(r.ctx, func(resp *cloudfunctions.ListFunctionsResponse) error {
			out = append(out, resp.Functions...)
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		p.functions = out
		return err
	})
	r.policy("projects/" + p.id)
	r.read("projects/"+p.id, "read ancestry", func() error {
		chain, err := r.ancestors("projects/" + p.id)
		mu.Lock()
		p.ancestors, p.ancestryErr = chain, err != nil
		mu.Unlock()
		for _, a := range chain {
			r.policy(a)
		}
		return err
	})
}

// ancestors walks the parents of resource up to the organization (each
// parent read once per audit). On an error it returns the chain so far.
func (r *auditRun) ancestors(resource string) ([]string, error) {
	var chain []string
	for cur := resource; ; {
		parent, err := r.parents.Get(cur, func() (string, error) { return r.ancestry.Parent(r.ctx, cur) })
		if err != nil {
			return chain, &ReadError{Resource: cur, What: "get parent", Err: err, Message: errorText(err)}
		}
		if parent == "" {
			return chain, nil
		}
		if len(chain) > 20 {
			return chain, fmt.Errorf("ancestry of %s: more than 20 levels", resource)
		}
		chain = append(chain, parent)
		cur = parent
	}
}

// policy schedules the read of a project, folder or organization policy,
// once per audit; policyOf reads it back after the reads are done.
func (r *auditRun) policy(resource string) {
	r.policies.Claim(resource, func() {
		r.read(resource, "getIamPolicy", func() error {
			_, err := r.policies.Get(resource, func() (*iampolicy.Policy, error) { return r.readPolicy(resource) })
			return err
		})
	})
}

func (r *auditRun) readPolicy(resource string) (*iampolicy.Policy, error) {
	if id, ok := strings.CutPrefix(resource, "projects/"); ok {
		req := &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}
		pol, err := r.e.Clients.CRM.Projects.GetIamPolicy(id, req).Context(r.ctx).Do()
		if err != nil {
			return nil, err
		}
		return iampolicy.FromAPI(pol)
	}
	return r.ancestry.Policy(r.ctx, resource)
}

// read runs f on the pool; its error becomes a ReadError naming resource.
func (r *auditRun) read(resource, what string, f func() error) {
	r.mu.Lock()
	r.total++
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		select {
		case r.sem <- struct{}{}:
		case <-r.ctx.Done():
			return
		}
		err := f()
		<-r.sem
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil && r.ctx.Err() == nil {
			var re *ReadError
			if !errors.As(err, &re) {
				re = &ReadError{Resource: resource, What: what, Err: err, Message: errorText(err)}
			}
			r.noteError(re)
		}
		r.done++
		if r.e.Progress != nil {
			r.e.Progress(r.done, r.total)
		}
	}()
}

// errorText is the API's own message with its status, without the
// request URL the client library adds.
func errorText(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		msg := ge.Message
		if msg == "" {
			msg = strings.TrimSpace(ge.Body)
		}
		return fmt.Sprintf("%d %s", ge.Code, msg)
	}
	return err.Error()
}

// servicesOf turns p's listings into services, each function resolved to
// the service behind it.
func (r *auditRun) servicesOf(p *project) []*Service {
	byShort := map[string]*Service{}
	var out []*Service
	for _, rs := range p.services {
		s := &Service{Name: rs.Name, Project: p.id, Location: segmentAfter(rs.Name, "locations"), ID: lastSegment(rs.Name),
			URI: rs.Uri, Ingress: rs.Ingress, CustomAudiences: rs.CustomAudiences,
			Exposure: Exposure{InvokerIAMDisabled: rs.InvokerIamDisabled}}
		byShort[s.Location+"/"+s.ID] = s
		out = append(out, s)
	}
	for _, fn := range p.functions {
		if fn.ServiceConfig == nil || fn.ServiceConfig.Service == "" || (fn.Environment != "" && fn.Environment != "GEN_2") {
			continue
		}
		loc := segmentAfter(fn.Name, "locations")
		s := byShort[loc+"/"+lastSegment(fn.ServiceConfig.Service)]
		if s == nil {
			continue
		}
		f := &Function{Name: fn.Name}
		if fn.EventTrigger != nil {
			f.EventDriven = true
			f.EventType = fn.EventTrigger.EventType
			f.TriggerServiceAccount = fn.EventTrigger.ServiceAccountEmail
		}
		s.Function = f
	}
	return out
}

// resolve computes s's grants from its policy and its ancestors'.
func (r *auditRun) resolve(s *Service, own *iampolicy.Policy, p *project) {
	type level struct {
		path Path
		pol  *iampolicy.Policy
	}
	levels := []level{{Path{PathService, s.Name}, own}}
	for _, res := range append([]string{"projects/" + s.Project}, p.ancestors...) {
		pol, err := r.policies.Get(res, nil)
		if err != nil {
			s.Incomplete = true
			continue
		}
		levels = append(levels, level{Path{pathKindOf(res), res}, pol})
	}
	if own == nil {
		s.Incomplete = true
	}
	if p.ancestryErr {
		s.Incomplete = true
	}
	for _, l := range levels {
		if l.pol == nil {
			continue
		}
		for _, b := range l.pol.Bindings {
			has, err := r.roles.Has(r.ctx, b.Role, iampolicy.InvokePermission)
			if err != nil {
				r.noteRoleError(b.Role, err)
				s.Incomplete = true
				continue
			}
			for _, m := range b.Members {
				m = member.Normalize(m)
				if has {
					s.Grants = append(s.Grants, Grant{Principal: m, Role: b.Role, CustomRole: iampolicy.IsCustom(b.Role), Path: l.path, Condition: b.Condition})
					if b.Condition == nil {
						switch m {
						case string(member.AllUsers):
							s.Exposure.AllUsers = true
						case string(member.AllAuthenticatedUsers):
							s.Exposure.AllAuthenticatedUsers = true
						}
					}
				} else if s.Function != nil && b.Role == FunctionsInvokerRole {
					s.FunctionInvokerBindings = append(s.FunctionInvokerBindings, Binding{Principal: m, Role: b.Role, Path: l.path})
				}
			}
		}
	}
}

// FunctionsInvokerRole is the 1st gen invoker role, which grants nothing on
// a 2nd gen function.
const FunctionsInvokerRole = "roles/cloudfunctions.invoker"

func (r *auditRun) noteRoleError(role string, err error) {
	r.noteError(&ReadError{Resource: role, What: "get custom role", Err: err, Message: errorText(err)})
}

// noteError records e once: a read shared by many (an ancestor's parent,
// a custom role) fails once in the report. Callers hold r.mu or run after
// the reads.
func (r *auditRun) noteError(e *ReadError) {
	for _, old := range r.errs {
		if old.Resource == e.Resource && old.What == e.What {
			return
		}
	}
	r.errs = append(r.errs, e)
}

// segmentAfter returns the path segment after key in a resource name.
func segmentAfter(name, key string) string {
	parts := strings.Split(name, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == key {
			return parts[i+1]
		}
	}
	return ""
}
