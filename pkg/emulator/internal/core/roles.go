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
	"sort"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/internal/iamroles"
)

// predefinedRole is one role of the table.
type predefinedRole struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Stage       string   `json:"stage,omitempty"`
	Permissions []string `json:"permissions"`
	Perms       map[string]bool
}

type roleTableFile struct {
	Roles map[string]*predefinedRole `json:"roles"`
}

// loadRoleTable parses the embedded table and, when rolesFile is set,
// replaces the roles it lists.
func loadRoleTable(rolesFile string) (map[string]*predefinedRole, error) {
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

// ---- IAM v1 roles API: predefined roles (roles.get/list) and custom roles (projects.roles) ----

// wireRole is the IAM v1 Role resource.
type wireRole struct {
	Name                string   `json:"name,omitempty"`
	Title               string   `json:"title,omitempty"`
	Description         string   `json:"description,omitempty"`
	IncludedPermissions []string `json:"includedPermissions,omitempty"`
	Stage               string   `json:"stage,omitempty"`
	Etag                string   `json:"etag,omitempty"`
	Deleted             bool     `json:"deleted,omitempty"`
}

func (e *Server) RegisterRoleRoutes() {
	e.Router.Handle(http.MethodGet, "/v1/roles/{role}", "iam.v1.roles.get", e.handlePredefinedRoleGet)
	e.Router.Handle(http.MethodGet, "/v1/roles", "iam.v1.roles.list", e.handlePredefinedRoleList)
	e.Router.Handle(http.MethodPost, "/v1/projects/{p}/roles", "iam.v1.projects.roles.create", e.handleRoleCreate)
	e.Router.Handle(http.MethodGet, "/v1/projects/{p}/roles", "iam.v1.projects.roles.list", e.handleRoleList)
	e.Router.Handle(http.MethodGet, "/v1/projects/{p}/roles/{role}", "iam.v1.projects.roles.get", e.handleRoleGet)
	e.Router.Handle(http.MethodPatch, "/v1/projects/{p}/roles/{role}", "iam.v1.projects.roles.patch", e.handleRolePatch)
	e.Router.Handle(http.MethodDelete, "/v1/projects/{p}/roles/{role}", "iam.v1.projects.roles.delete", e.handleRoleDelete)
}

func predefinedWire(name string, r *predefinedRole, full bool) *wireRole {
	w := &wireRole{Name: name, Title: r.Title, Description: r.Description, Stage: r.Stage, Etag: "AA=="}
	if full {
		w.IncludedPermissions = slices.Clone(r.Permissions)
	}
	return w
}

func customWire(cr *model.CustomRole, full bool) *wireRole {
	w := &wireRole{Name: cr.Name, Title: cr.Title, Description: cr.Description, Stage: cr.Stage, Etag: cr.Etag, Deleted: cr.Deleted}
	if full {
		w.IncludedPermissions = slices.Clone(cr.IncludedPermissions)
	}
	return w
}

// handlePredefinedRoleGet serves GET /v1/roles/{role}; any authenticated
// caller may read predefined roles. Permissions listed are the modelled
// subset of the real role's.
func (e *Server) handlePredefinedRoleGet(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	_, aerr := e.CallerLocked(r)
	e.Mu.Unlock()
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	name := "roles/" + v["role"]
	role := e.Mgmt.Roles[name]
	if role == nil {
		httpx.WriteError(w, httpx.ErrNotFound("The role named %s was not found.", name))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, predefinedWire(name, role, true))
}

func (e *Server) handlePredefinedRoleList(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	e.Mu.Lock()
	_, aerr := e.CallerLocked(r)
	e.Mu.Unlock()
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	names := make([]string, 0, len(e.Mgmt.Roles))
	for n := range e.Mgmt.Roles {
		names = append(names, n)
	}
	sort.Strings(names)
	full := r.URL.Query().Get("view") == "FULL"
	httpx.WritePage(w, r, "roles", len(names), httpx.Paging{Default: 300, Max: 1000}, func(i int) any {
		return predefinedWire(names[i], e.Mgmt.Roles[names[i]], full)
	})
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

func (e *Server) handleRoleCreate(w http.ResponseWriter, r *http.Request, v map[string]string) {
	var req struct {
		RoleID string    `json:"roleId"`
		Role   *wireRole `json:"role"`
	}
	if err := httpx.ReadJSON(r, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	proj, aerr := e.RoleProjectAuthorized(r, v["p"], "iam.roles.create")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if !model.CustomRoleIDRE.MatchString(req.RoleID) {
		httpx.WriteError(w, httpx.ErrInvalid("The role_id %q is invalid: it must be 3 to 64 letters, digits, '_' or '.'.", req.RoleID))
		return
	}
	if req.Role == nil {
		req.Role = &wireRole{}
	}
	if aerr := validatePermissions(req.Role.IncludedPermissions); aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	name := "projects/" + proj.ID + "/roles/" + req.RoleID
	if e.St.Roles[name] != nil {
		httpx.WriteError(w, httpx.ErrAlreadyExists("A role named %s in projects/%s already exists.", req.RoleID, proj.ID))
		return
	}
	stage := req.Role.Stage
	if stage == "" {
		stage = "ALPHA"
	}
	cr := &model.CustomRole{Name: name, Title: req.Role.Title, Description: req.Role.Description,
		IncludedPermissions: dedupe(req.Role.IncludedPermissions), Stage: stage, Etag: model.NewEtag()}
	e.St.Roles[name] = cr
	if err := e.SaveLocked(); err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, customWire(cr, true))
}

func validatePermissions(perms []string) *httpx.Error {
	for _, p := range perms {
		if !model.PermissionRE.MatchString(p) {
			return httpx.ErrInvalid("Permission %s is not valid.", p)
		}
	}
	return nil
}

func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (e *Server) handleRoleList(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	proj, aerr := e.RoleProjectAuthorized(r, v["p"], "iam.roles.list")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	showDeleted := r.URL.Query().Get("showDeleted") == "true"
	full := r.URL.Query().Get("view") == "FULL"
	var names []string
	for n, cr := range e.St.Roles {
		if strings.HasPrefix(n, "projects/"+proj.ID+"/roles/") && (showDeleted || !cr.Deleted) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	httpx.WritePage(w, r, "roles", len(names), httpx.Paging{Default: 300, Max: 1000}, func(i int) any {
		return customWire(e.St.Roles[names[i]], full)
	})
}

// customRoleFor authenticates, authorizes on the project and finds the role.
func (e *Server) customRoleFor(r *http.Request, v map[string]string, permission string) (*model.CustomRole, *httpx.Error) {
	proj, aerr := e.RoleProjectAuthorized(r, v["p"], permission)
	if aerr != nil {
		return nil, aerr
	}
	cr := e.St.Roles["projects/"+proj.ID+"/roles/"+v["role"]]
	if cr == nil {
		return nil, httpx.ErrNotFound("The role named projects/%s/roles/%s was not found.", proj.ID, v["role"])
	}
	return cr, nil
}

func (e *Server) handleRoleGet(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	cr, aerr := e.customRoleFor(r, v, "iam.roles.get")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, customWire(cr, true))
}

func (e *Server) handleRolePatch(w http.ResponseWriter, r *http.Request, v map[string]string) {
	var in wireRole
	if err := httpx.ReadJSON(r, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	cr, aerr := e.customRoleFor(r, v, "iam.roles.update")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if cr.Deleted {
		httpx.WriteError(w, httpx.ErrFailedPrecondition("You can't update a deleted role."))
		return
	}
	if in.Etag != "" && in.Etag != cr.Etag {
		httpx.WriteError(w, httpx.ErrAborted("The role's etag %s does not match the current etag %s.", in.Etag, cr.Etag))
		return
	}
	mask := r.URL.Query().Get("updateMask")
	if mask == "" {
		mask = "title,description,includedPermissions,stage"
	}
	next := *cr
	for _, f := range strings.Split(mask, ",") {
		switch strings.TrimSpace(f) {
		case "title":
			next.Title = in.Title
		case "description":
			next.Description = in.Description
		case "includedPermissions", "included_permissions":
			if aerr := validatePermissions(in.IncludedPermissions); aerr != nil {
				httpx.WriteError(w, aerr)
				return
			}
			next.IncludedPermissions = dedupe(in.IncludedPermissions)
		case "stage":
			next.Stage = in.Stage
		default:
			httpx.WriteError(w, httpx.ErrInvalid("Invalid update_mask path %q.", f))
			return
		}
	}
	next.Etag = model.NewEtag()
	*cr = next
	if err := e.SaveLocked(); err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, customWire(cr, true))
}

func (e *Server) handleRoleDelete(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	cr, aerr := e.customRoleFor(r, v, "iam.roles.delete")
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if cr.Deleted {
		httpx.WriteError(w, httpx.ErrFailedPrecondition("The role %s is already deleted.", cr.Name))
		return
	}
	cr.Deleted = true
	cr.Etag = model.NewEtag()
	if err := e.SaveLocked(); err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, customWire(cr, true))
}
