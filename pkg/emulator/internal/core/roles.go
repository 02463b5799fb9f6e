package core

// Roles: which role carries which permission is DATA, never branches.
// Predefined roles come from pkg/internal/iamroles (the shared
// snapshot of real role definitions, restricted to the permissions the
// emulator models), optionally overridden per role by Options.RolesFile.
// Custom roles are IAM v1 projects.roles, stored in State.Roles.
//
// Authorization (principalPermitted) is the union of the given bindings
// and the project policy: a binding grants when its role carries the
// permission and one of its members matches the principal. Conditional
// bindings are ignored (the emulator does not evaluate CEL; ignoring never
// grants more than production). Member matching: allUsers matches everyone
// (also the anonymous principal ""), allAuthenticatedUsers any non-empty
// principal, user:/serviceAccount: the same email case-insensitively,
// group: through State.Groups (nested groups too), domain:D any user: in
// D; deleted: members never match.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/internal/iamroles"
)

// predefinedRole is one role of the table.
type PredefinedRole struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Stage       string   `json:"stage,omitempty"`
	Permissions []string `json:"permissions"`
	Perms       map[string]bool
}

type roleTableFile struct {
	Roles map[string]*PredefinedRole `json:"roles"`
}

// loadRoleTable parses the embedded table and, when rolesFile is set,
// replaces the roles it lists.
func loadRoleTable(rolesFile string) (map[string]*PredefinedRole, error) {
	var base roleTableFile
	if err := json.Unmarshal(iamroles.JSON(), &base); err != nil {
		return nil, fmt.Errorf("emulator: embedded role table: %w", err)
	}
	if rolesFile != "" {
		b, err := os.ReadFile(rolesFile)
		if err != nil {
			return nil, fmt.Errorf("emulator: roles file: %w", err)
		}
		var over roleTableFile
		if err := json.Unmarshal(b, &over); err != nil {
			return nil, fmt.Errorf("emulator: roles file %s: %w", rolesFile, err)
		}
		if len(over.Roles) == 0 {
			return nil, fmt.Errorf("emulator: roles file %s: no \"roles\" object", rolesFile)
		}
		for name, r := range over.Roles {
			if !predefinedRoleRE.MatchString(name) || r == nil {
				return nil, fmt.Errorf("emulator: roles file %s: role %q: names must look like roles/x and map to {\"title\", \"permissions\": [...]}", rolesFile, name)
			}
			base.Roles[name] = r
		}
	}
	for _, r := range base.Roles {
		r.Perms = map[string]bool{}
		for _, p := range r.Permissions {
			r.Perms[p] = true
		}
	}
	return base.Roles, nil
}

// roleHasPermission reports whether role (predefined, or a live custom
// role of a project) carries permission. Called with e.mu held.
func (e *Server) roleHasPermission(role, permission string) bool {
	if r := e.Mgmt.Roles[role]; r != nil {
		return r.Perms[permission]
	}
	if cr := e.customRoleLocked(role); cr != nil && !cr.Deleted && cr.Stage != "DISABLED" {
		return slices.Contains(cr.IncludedPermissions, permission)
	}
	return false
}

// customRoleLocked finds a custom role by name, accepting a project number
// in place of the id. Called with e.mu held.
func (e *Server) customRoleLocked(name string) *model.CustomRole {
	if cr := e.St.Roles[name]; cr != nil {
		return cr
	}
	if rest, ok := strings.CutPrefix(name, "projects/"); ok {
		p, r, _ := strings.Cut(rest, "/roles/")
		if proj := e.ProjectLocked(p); proj != nil {
			return e.St.Roles["projects/"+proj.ID+"/roles/"+r]
		}
	}
	return nil
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
	if cr := e.customRoleLocked(role); cr == nil || cr.Deleted {
		return httpx.ErrInvalid("Role (%s) does not exist in the resource's hierarchy.", role)
	}
	return nil
}

// PrincipalPermitted reports whether principal (e.g. "serviceAccount:x@y",
// "user:owner@example.com"; "" for an anonymous caller) holds permission
// through the union of the given bindings and the current policy of
// projectID. This is the management APIs' view: changes apply at once.
// Called with e.mu held.
func (e *Server) PrincipalPermitted(principal, permission, projectID string, policies ...[]*model.Binding) bool {
	if p := e.ProjectLocked(projectID); p != nil {
		policies = append(policies, p.Policy.CurrentBindings())
	}
	return e.bindingsGrant(principal, permission, policies)
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
	}
	return e.bindingsGrant(principal, permission, sets)
}

func (e *Server) bindingsGrant(principal, permission string, sets [][]*model.Binding) bool {
	for _, bs := range sets {
		for _, b := range bs {
			if b.Condition != nil || !e.roleHasPermission(b.Role, permission) {
				continue
			}
			for _, m := range b.Members {
				if e.memberMatches(m, principal, map[string]bool{}) {
					return true
				}
			}
		}
	}
	return false
}

// memberMatches reports whether the IAM member covers principal.
func (e *Server) memberMatches(member, principal string, visiting map[string]bool) bool {
	switch member {
	case "allUsers":
		return true
	case "allAuthenticatedUsers":
		return principal != ""
	}
	if principal == "" || strings.HasPrefix(member, "deleted:") {
		return false
	}
	if strings.EqualFold(member, principal) {
		return true
	}
	if d, ok := strings.CutPrefix(member, "domain:"); ok {
		if email, ok := strings.CutPrefix(principal, "user:"); ok {
			_, pd, _ := strings.Cut(email, "@")
			return strings.EqualFold(pd, d)
		}
		return false
	}
	if strings.HasPrefix(member, "group:") {
		key := strings.ToLower(member)
		if visiting[key] {
			return false
		}
		visiting[key] = true
		defer delete(visiting, key)
		for _, gm := range e.groupMembersLocked(key) {
			if gm == "allUsers" || gm == "allAuthenticatedUsers" {
				continue // a group cannot contain the public
			}
			if e.memberMatches(gm, principal, visiting) {
				return true
			}
		}
	}
	return false
}

// groupMembersLocked returns State.Groups[group], matching the key
// case-insensitively.
func (e *Server) groupMembersLocked(group string) []string {
	if ms, ok := e.St.Groups[group]; ok {
		return ms
	}
	for k, ms := range e.St.Groups {
		if strings.EqualFold(k, group) {
			return ms
		}
	}
	return nil
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
