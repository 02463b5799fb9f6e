package iam

// IAM v1 roles API: predefined roles (roles.get/list) and custom roles
// (projects.roles).

import (
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/authz"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// wireRole is the IAM v1 Role resource.
type wireRole struct {
	Name                string   `json:"name"`
	Title               string   `json:"title,omitempty"`
	Description         string   `json:"description,omitempty"`
	IncludedPermissions []string `json:"includedPermissions,omitempty"`
	Stage               string   `json:"stage,omitempty"`
	Etag                string   `json:"etag,omitempty"`
	Deleted             bool     `json:"deleted,omitempty"`
}

// RegisterRoleRoutes registers the IAM v1 roles API on e.
func RegisterRoleRoutes(e *core.Server) {
	const custom = "/v1/projects/{p}/roles/{role}"
	e.Router.Handle(http.MethodGet, "/v1/roles/{role}", "iam.v1.roles.get", core.Serve(e, false, func(a0 *http.Request, a1 map[string]string, a2 *core.NoBody) (any, *httpx.Error) {
		return getPredefinedRole(e, a0, a1, a2)
	}))
	e.Router.Handle(http.MethodGet, "/v1/roles", "iam.v1.roles.list", core.Serve(e, false, func(a0 *http.Request, a1 map[string]string, a2 *core.NoBody) (any, *httpx.Error) {
		return listPredefinedRoles(e, a0, a1, a2)
	}))
	e.Router.Handle(http.MethodPost, "/v1/projects/{p}/roles", "iam.v1.projects.roles.create", core.Serve(e, true, func(a0 *http.Request, a1 map[string]string, a2 *createRoleRequest) (any, *httpx.Error) {
		return createRole(e, a0, a1, a2)
	}))
	e.Router.Handle(http.MethodGet, "/v1/projects/{p}/roles", "iam.v1.projects.roles.list", core.Serve(e, false, func(a0 *http.Request, a1 map[string]string, a2 *core.NoBody) (any, *httpx.Error) {
		return listRoles(e, a0, a1, a2)
	}))
	e.Router.Handle(http.MethodGet, custom, "iam.v1.projects.roles.get", onCustomRole(e, "iam.roles.get", false, func(*http.Request, *model.CustomRole, *core.NoBody) *httpx.Error { return nil }))
	e.Router.Handle(http.MethodPatch, custom, "iam.v1.projects.roles.patch", onCustomRole(e, "iam.roles.update", true, patchRole))
	e.Router.Handle(http.MethodDelete, custom, "iam.v1.projects.roles.delete", onCustomRole(e, "iam.roles.delete", true, deleteRole))
}

func predefinedWire(name string, r *authz.Role, full bool) *wireRole {
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

// getPredefinedRole serves GET /v1/roles/{role}; any authenticated caller
// may read predefined roles. Permissions listed are the modelled subset of
// the real role's.
func getPredefinedRole(e *core.Server, r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
	if _, aerr := e.CallerLocked(r); aerr != nil {
		return nil, aerr
	}
	name := "roles/" + v["role"]
	role := e.Mgmt.Roles[name]
	if role == nil {
		return nil, httpx.ErrNotFound("The role named %s was not found.", name)
	}
	return predefinedWire(name, role, true), nil
}

// listPredefinedRoles serves GET /v1/roles (view=FULL lists permissions).
func listPredefinedRoles(e *core.Server, r *http.Request, _ map[string]string, _ *core.NoBody) (any, *httpx.Error) {
	if _, aerr := e.CallerLocked(r); aerr != nil {
		return nil, aerr
	}
	full := r.URL.Query().Get("view") == "FULL"
	return rolePage(r, slices.Sorted(maps.Keys(e.Mgmt.Roles)), func(n string) any { return predefinedWire(n, e.Mgmt.Roles[n], full) })
}

// rolePage is one page of roles by name, as roles.list and
// projects.roles.list answer it.
func rolePage(r *http.Request, names []string, render func(name string) any) (any, *httpx.Error) {
	start, end, next, aerr := httpx.Page(r, len(names), httpx.Paging{Default: 300, Max: 1000})
	if aerr != nil {
		return nil, aerr
	}
	out := map[string]any{}
	if end > start {
		roles := make([]any, 0, end-start)
		for _, n := range names[start:end] {
			roles = append(roles, render(n))
		}
		out["roles"] = roles
	}
	if next != "" {
		out["nextPageToken"] = next
	}
	return out, nil
}

// createRoleRequest is the body of projects.roles.create.
type createRoleRequest struct {
	RoleID string    `json:"roleId"`
	Role   *wireRole `json:"role"`
}

func createRole(e *core.Server, r *http.Request, v map[string]string, req *createRoleRequest) (any, *httpx.Error) {
	proj, aerr := e.RoleProjectAuthorized(r, v["p"], "iam.roles.create")
	if aerr != nil {
		return nil, aerr
	}
	if !model.CustomRoleIDRE.MatchString(req.RoleID) {
		return nil, httpx.ErrInvalid("The role_id %q is invalid: it must be 3 to 64 letters, digits, '_' or '.'.", req.RoleID)
	}
	if req.Role == nil {
		req.Role = &wireRole{}
	}
	if aerr := validatePermissions(req.Role.IncludedPermissions); aerr != nil {
		return nil, aerr
	}
	name := "projects/" + proj.ID + "/roles/" + req.RoleID
	if e.St.Roles[name] != nil {
		return nil, httpx.ErrAlreadyExists("A role named %s in projects/%s already exists.", req.RoleID, proj.ID)
	}
	stage := req.Role.Stage
	if stage == "" {
		stage = "ALPHA"
	}
	cr := &model.CustomRole{Name: name, Title: req.Role.Title, Description: req.Role.Description,
		IncludedPermissions: dedupe(req.Role.IncludedPermissions), Stage: stage, Etag: model.NewEtag()}
	e.St.Roles[name] = cr
	return customWire(cr, true), nil
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

// listRoles serves projects.roles.list (showDeleted, view=FULL).
func listRoles(e *core.Server, r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
	proj, aerr := e.RoleProjectAuthorized(r, v["p"], "iam.roles.list")
	if aerr != nil {
		return nil, aerr
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
	return rolePage(r, names, func(n string) any { return customWire(e.St.Roles[n], full) })
}

// onCustomRole serves a method on the custom role {role} of project {p}:
// holding e.Mu, the caller must hold perm on the project; do changes the
// role (or not) and the answer is the role in full.
func onCustomRole[B any](e *core.Server, perm string, save bool, do func(r *http.Request, cr *model.CustomRole, body *B) *httpx.Error) httpx.HandlerFunc {
	return core.Serve(e, save, func(r *http.Request, v map[string]string, body *B) (any, *httpx.Error) {
		proj, aerr := e.RoleProjectAuthorized(r, v["p"], perm)
		if aerr != nil {
			return nil, aerr
		}
		cr := e.St.Roles["projects/"+proj.ID+"/roles/"+v["role"]]
		if cr == nil {
			return nil, httpx.ErrNotFound("The role named projects/%s/roles/%s was not found.", proj.ID, v["role"])
		}
		if aerr := do(r, cr, body); aerr != nil {
			return nil, aerr
		}
		return customWire(cr, true), nil
	})
}

// patchRole applies projects.roles.patch (updateMask in the query; all
// fields when absent); a deleted role or a stale etag is refused.
func patchRole(r *http.Request, cr *model.CustomRole, in *wireRole) *httpx.Error {
	if cr.Deleted {
		return httpx.ErrFailedPrecondition("You can't update a deleted role.")
	}
	if in.Etag != "" && in.Etag != cr.Etag {
		return httpx.ErrAborted("The role's etag %s does not match the current etag %s.", in.Etag, cr.Etag)
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
				return aerr
			}
			next.IncludedPermissions = dedupe(in.IncludedPermissions)
		case "stage":
			next.Stage = in.Stage
		default:
			return httpx.ErrInvalid("Invalid update_mask path %q.", f)
		}
	}
	next.Etag = model.NewEtag()
	*cr = next
	return nil
}

func deleteRole(_ *http.Request, cr *model.CustomRole, _ *core.NoBody) *httpx.Error {
	if cr.Deleted {
		return httpx.ErrFailedPrecondition("The role %s is already deleted.", cr.Name)
	}
	cr.Deleted = true
	cr.Etag = model.NewEtag()
	return nil
}
