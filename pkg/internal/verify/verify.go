// Package verify confirms declared invoker grants against the IAM policies
// in force: the service policy (Cloud Run Admin API v2), the project policy
// (Resource Manager) and custom roles (IAM v1). It reads each distinct
// service's policy once and each project's policy once, whatever the number
// of grants.
package verify

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/invokerctl/invokerctl/pkg/internal/gcp"
	"github.com/invokerctl/invokerctl/pkg/internal/iampolicy"
	"github.com/invokerctl/invokerctl/pkg/internal/member"
	"github.com/invokerctl/invokerctl/pkg/internal/once"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	run "google.golang.org/api/run/v2"
)

// Target names a Cloud Run service, or a Cloud Run function (2nd gen) that
// resolves to the service backing it.
type Target struct {
	Project  string
	Location string
	Service  string // set for a service
	Function string // set for a function
}

// String is "service orders-api (us-central1)" or "function f (l)".
func (t Target) String() string {
	if t.Function != "" {
		return fmt.Sprintf("function %s (%s/%s)", t.Function, t.Project, t.Location)
	}
	return fmt.Sprintf("service %s (%s/%s)", t.Service, t.Project, t.Location)
}

// Expectation is one declared grant: members who must be able to invoke.
type Expectation struct {
	Target  Target
	Members []string // full IAM member strings
	// Public: the declaration allows the service to be open to everyone.
	Public bool
}

// Verifier reads policies through Clients.
type Verifier struct {
	Clients *gcp.Clients
	// Roles resolves roles to permissions; nil builds one over the
	// predefined table with custom roles read through IAM v1.
	Roles *iampolicy.RoleResolver
	// Parallel bounds concurrent service reads; default 8.
	Parallel int
}

// MemberResult is one declared member's standing.
type MemberResult struct {
	Member string           `json:"member"`
	Status iampolicy.Status `json:"status"`
	Role   string           `json:"role,omitempty"`
	Source iampolicy.Source `json:"source,omitempty"`
}

// Function describes the function a target named.
type Function struct {
	Name        string `json:"name"`
	EventDriven bool   `json:"eventDriven"`
	EventType   string `json:"eventType,omitempty"`
	// TriggerServiceAccount is the account an event-driven function's
	// trigger calls it as (drift does not count it as click-ops).
	TriggerServiceAccount string `json:"-"`
}

// ServiceResult is the verification of one target.
type ServiceResult struct {
	Target             Target             `json:"-"`
	TargetName         string             `json:"target"`
	ServiceName        string             `json:"service"` // projects/p/locations/l/services/s
	URI                string             `json:"uri,omitempty"`
	URLs               []string           `json:"urls,omitempty"`
	CustomAudiences    []string           `json:"customAudiences,omitempty"`
	Ingress            string             `json:"ingress,omitempty"`
	InvokerIAMDisabled bool               `json:"invokerIamDisabled,omitempty"`
	Function           *Function          `json:"function,omitempty"`
	Grants             []iampolicy.Grant  `json:"grants,omitempty"`
	Exposure           iampolicy.Exposure `json:"exposure"`
	DeclaredPublic     bool               `json:"declaredPublic,omitempty"`
	DeletedMembers     []string           `json:"deletedMembers,omitempty"`
	Members            []MemberResult     `json:"members"`
	// Problems fail verification; Warnings do not.
	Problems []string `json:"problems,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Err      error    `json:"-"`
	// CreateTime (Run v2) and PolicyEmpty (the service's own policy has
	// no binding at all, as a new service's) let drift tell grants lost
	// by a re-create.
	CreateTime  string `json:"-"`
	PolicyEmpty bool   `json:"-"`
}

// OK reports whether the target passed.
func (r *ServiceResult) OK() bool { return r.Err == nil && len(r.Problems) == 0 }

// Report is the verification of every expectation, in declaration order.
type Report struct {
	Results []*ServiceResult
}

// OK reports whether every target passed.
func (r *Report) OK() bool {
	for _, s := range r.Results {
		if !s.OK() {
			return false
		}
	}
	return true
}

// Verify checks every expectation. An API failure for one target is
// recorded on its result (Err) and does not stop the others; Verify itself
// fails only when the context ends.
func (v *Verifier) Verify(ctx context.Context, exps []Expectation) (*Report, error) {
	roles := v.Roles
	if roles == nil {
		roles = iampolicy.NewRoleResolver(v.customRole)
	}
	par := v.Parallel
	if par <= 0 {
		par = 8
	}
	rep := &Report{Results: make([]*ServiceResult, len(exps))}
	projects := &once.Map[*iampolicy.Policy]{}
	services := &once.Map[*serviceState]{}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, exp := range exps {
		res := &ServiceResult{Target: exp.Target, TargetName: exp.Target.String(), DeclaredPublic: exp.Public}
		rep.Results[i] = res
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res.Err = v.verifyOne(ctx, roles, projects, services, exp, res)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, nil
}

// serviceState is what one service read produced, shared by expectations
// that name the same service (e.g. a function and its backing service).
type serviceState struct {
	svc    *run.GoogleCloudRunV2Service
	policy *iampolicy.Policy
}

func (v *Verifier) verifyOne(ctx context.Context, roles *iampolicy.RoleResolver, projects *once.Map[*iampolicy.Policy], services *once.Map[*serviceState], exp Expectation, res *ServiceResult) error {
	t := exp.Target
	name := fmt.Sprintf("projects/%s/locations/%s/services/%s", t.Project, t.Location, t.Service)
	if t.Function != "" {
		fn, svcName, err := v.resolveFunction(ctx, t)
		if err != nil {
			return err
		}
		res.Function = fn
		name = svcName
	}
	res.ServiceName = name
	st, err := services.Get(name, func() (*serviceState, error) { return v.readService(ctx, name) })
	if err != nil {
		return err
	}
	project, err := projectOf(name)
	if err != nil {
		return err
	}
	pp, err := projects.Get(project, func() (*iampolicy.Policy, error) { return v.readProjectPolicy(ctx, project) })
	if err != nil {
		return err
	}
	res.URI, res.URLs, res.CustomAudiences = st.svc.Uri, st.svc.Urls, st.svc.CustomAudiences
	res.Ingress, res.InvokerIAMDisabled = st.svc.Ingress, st.svc.InvokerIamDisabled
	res.CreateTime, res.PolicyEmpty = st.svc.CreateTime, len(st.policy.Bindings) == 0
	grants, err := iampolicy.EffectiveInvokers(ctx, roles, iampolicy.InvokePermission, st.policy, pp)
	if err != nil {
		return err
	}
	res.Grants = grants
	res.Exposure = iampolicy.ExposureOf(grants, st.svc.InvokerIamDisabled)
	res.DeletedMembers = iampolicy.DeletedMembers(grants)
	for _, m := range exp.Members {
		status, g := iampolicy.Check(m, grants)
		if status == iampolicy.StatusMissing && res.Exposure.InvokerIAMDisabled {
			// No binding, but the service skips the invoke check entirely.
			status = iampolicy.StatusPublic
		}
		mr := MemberResult{Member: member.Normalize(m), Status: status}
		if g != nil {
			mr.Role, mr.Source = g.Role, g.Source
		}
		res.Members = append(res.Members, mr)
		switch status {
		case iampolicy.StatusMissing:
			p := fmt.Sprintf("%s cannot invoke %s: no binding grants it %s", mr.Member, name, iampolicy.InvokePermission)
			if hint := wrongRoleHint(ctx, roles, m, st.policy, pp); hint != "" {
				p += "; " + hint
			}
			res.Problems = append(res.Problems, p)
		case iampolicy.StatusConditional:
			res.Problems = append(res.Problems, fmt.Sprintf("%s can invoke %s only under condition %q (%s); invokerctl cannot prove it holds", mr.Member, name, g.Condition.Title, g.Condition.Expression))
		case iampolicy.StatusPublic:
			why := "invokerIamDisabled"
			if g != nil {
				why = g.Member
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s has no grant of its own on %s; it can invoke only because the service is public (%s)", mr.Member, name, why))
		}
	}
	if res.Exposure.Public() && !exp.Public {
		res.Problems = append(res.Problems, fmt.Sprintf("%s is public (%s) but the declaration does not say public: true", name, exposureText(res.Exposure)))
	}
	for _, d := range res.DeletedMembers {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s is bound on %s but the principal was deleted; remove the binding", d, name))
	}
	switch st.svc.Ingress {
	case "INGRESS_TRAFFIC_NONE":
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s has ingress INGRESS_TRAFFIC_NONE: no request reaches it", name))
	case "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER":
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s has ingress %s: callers outside its network are refused whatever their grant", name, st.svc.Ingress))
	}
	return nil
}

func exposureText(e iampolicy.Exposure) string {
	var parts []string
	if e.AllUsers {
		parts = append(parts, "allUsers")
	}
	if e.AllAuthenticatedUsers {
		parts = append(parts, "allAuthenticatedUsers")
	}
	if e.InvokerIAMDisabled {
		parts = append(parts, "invokerIamDisabled")
	}
	return strings.Join(parts, ", ")
}

// wrongRoleHint explains a missing grant when the member holds a role that
// looks like an invoker role but does not carry run.routes.invoke — chiefly
// roles/cloudfunctions.invoker, which covers only 1st-gen functions.
func wrongRoleHint(ctx context.Context, roles *iampolicy.RoleResolver, who string, policies ...*iampolicy.Policy) string {
	for _, p := range policies {
		if p == nil {
			continue
		}
		for _, b := range p.Bindings {
			fnInvoke, _ := roles.Has(ctx, b.Role, "cloudfunctions.functions.invoke")
			if !fnInvoke {
				continue
			}
			for _, m := range b.Members {
				if member.Same(m, who) {
					return fmt.Sprintf("it holds %s, which covers only 1st-gen Cloud Functions; a Cloud Run service or 2nd-gen function needs roles/run.invoker on the service", b.Role)
				}
			}
		}
	}
	return ""
}

func (v *Verifier) resolveFunction(ctx context.Context, t Target) (*Function, string, error) {
	name := fmt.Sprintf("projects/%s/locations/%s/functions/%s", t.Project, t.Location, t.Function)
	fn, err := v.Clients.Functions.Projects.Locations.Functions.Get(name).Context(ctx).Do()
	if err != nil {
		return nil, "", fmt.Errorf("reading function %s: %w", name, err)
	}
	info := &Function{Name: name}
	if fn.EventTrigger != nil {
		info.EventDriven = true
		info.EventType = fn.EventTrigger.EventType
		info.TriggerServiceAccount = fn.EventTrigger.ServiceAccountEmail
	}
	if fn.Environment != "" && fn.Environment != "GEN_2" {
		return info, "", fmt.Errorf("function %s is %s: only 2nd-gen functions run on Cloud Run (1st gen uses roles/cloudfunctions.invoker, out of scope)", name, fn.Environment)
	}
	if fn.ServiceConfig == nil || fn.ServiceConfig.Service == "" {
		return info, "", fmt.Errorf("function %s has no backing Cloud Run service (serviceConfig.service is empty)", name)
	}
	svc := fn.ServiceConfig.Service
	if !strings.HasPrefix(svc, "projects/") {
		svc = fmt.Sprintf("projects/%s/locations/%s/services/%s", t.Project, t.Location, svc)
	}
	return info, svc, nil
}

func (v *Verifier) readService(ctx context.Context, name string) (*serviceState, error) {
	svc, err := v.Clients.Run.Projects.Locations.Services.Get(name).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("reading service %s: %w", name, err)
	}
	pol, err := v.Clients.Run.Projects.Locations.Services.GetIamPolicy(name).OptionsRequestedPolicyVersion(3).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("reading IAM policy of %s: %w", name, err)
	}
	p, err := iampolicy.FromAPI(pol)
	if err != nil {
		return nil, fmt.Errorf("IAM policy of %s: %w", name, err)
	}
	return &serviceState{svc: svc, policy: p}, nil
}

func (v *Verifier) readProjectPolicy(ctx context.Context, project string) (*iampolicy.Policy, error) {
	req := &crm.GetIamPolicyRequest{Options: &crm.GetPolicyOptions{RequestedPolicyVersion: 3}}
	pol, err := v.Clients.CRM.Projects.GetIamPolicy(project, req).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("reading IAM policy of project %s: %w", project, err)
	}
	p, err := iampolicy.FromAPI(pol)
	if err != nil {
		return nil, fmt.Errorf("IAM policy of project %s: %w", project, err)
	}
	return p, nil
}

func (v *Verifier) customRole(ctx context.Context, name string) ([]string, error) {
	return v.Clients.CustomRolePermissions(ctx, name)
}

func projectOf(serviceName string) (string, error) {
	parts := strings.Split(serviceName, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "services" {
		return "", fmt.Errorf("malformed service name %q", serviceName)
	}
	return parts[1], nil
}
