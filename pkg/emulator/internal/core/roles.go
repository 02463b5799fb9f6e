package core

// Permission checks of the engine, over authz's role table and checker.

import (
	"net/http"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// Checker is the permission checker over the role table and the current
// state. Called with e.Mu held.
func (e *Server) Checker() authz.Checker {
	return authz.Checker{Roles: e.Mgmt.Roles, State: e.St, ProjectID: func(ref string) string {
		if p := e.ProjectLocked(ref); p != nil {
			return p.ID
		}
		return ""
	}}
}

// checkCustomRoleLocked refuses bindings to custom roles of the emulator's
// projects that do not exist (or are deleted).
func (e *Server) checkCustomRoleLocked(role string) *httpx.Error {
	rest, ok := strings.CutPrefix(role, "projects/")
	if !ok {
		return nil
	}
	p, _, _ := strings.Cut(rest, "/roles/")
	if e.ProjectLocked(p) == nil {
		return nil
	}
	if cr := e.Checker().CustomRole(role); cr == nil || cr.Deleted {
		return httpx.ErrInvalid("Role (%s) does not exist in the resource's hierarchy.", role)
	}
	return nil
}

// PrincipalPermitted reports whether principal (e.g. "serviceAccount:x@y",
// "user:owner@example.com"; "" for an anonymous caller) holds permission
// through the union of the given bindings and the current policy of
// projectID and of the project's folders and organization. This is the
// management APIs' view: changes apply at once.
// Called with e.mu held.
func (e *Server) PrincipalPermitted(principal, permission, projectID string, policies ...[]*model.Binding) bool {
	if p := e.ProjectLocked(projectID); p != nil {
		policies = append(policies, p.Policy.CurrentBindings())
		policies = append(policies, e.ancestorBindingsLocked(p.Parent)...)
	}
	return e.Checker().Grants(principal, permission, policies...)
}

// PrincipalPermittedAt is the data plane's view: like principalPermitted,
// but each policy (the resource's and the project's) contributes the
// bindings in force at now under Options.PropagationDelay (see
// bindingsAt). Called with e.mu held.
func (e *Server) PrincipalPermittedAt(principal, permission, projectID string, now time.Time, resourcePolicies ...*model.Policy) bool {
	var sets [][]*model.Binding
	for _, p := range resourcePolicies {
		sets = append(sets, p.BindingsAt(now, e.Opts.PropagationDelay))
	}
	if p := e.ProjectLocked(projectID); p != nil {
		sets = append(sets, p.Policy.BindingsAt(now, e.Opts.PropagationDelay))
		for _, n := range e.AncestorsLocked(p.Parent) {
			sets = append(sets, e.NodePolicyLocked(n).BindingsAt(now, e.Opts.PropagationDelay))
		}
	}
	return e.Checker().Grants(principal, permission, sets...)
}

// RoleProjectAuthorized authenticates and checks permission on project p
// (id or number). Called with e.mu held.
func (e *Server) RoleProjectAuthorized(r *http.Request, p, permission string) (*model.Project, *httpx.Error) {
	principal, aerr := e.CallerLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	proj := e.ProjectLocked(p)
	if proj == nil {
		return nil, httpx.ErrNotFound("Project %s not found.", p)
	}
	if !e.PrincipalPermitted(principal, permission, proj.ID) {
		return nil, httpx.ErrPermissionDenied(permission, "projects/"+proj.ID)
	}
	return proj, nil
}
