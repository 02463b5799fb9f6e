package crm

// Resource Manager above projects: organizations (v3 get, search and their
// policy), folders (v2 and v3 get, v3 list, their policy) and v1
// projects.getAncestry. Every node's policy is inherited by everything
// below it, for authorization too.

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// folderPaging is folders.list's page size: 100 by default, at most 1000.
var folderPaging = httpx.Paging{Default: 100, Max: 1000}

// registerHierarchyRoutes registers the organization and folder methods and
// getAncestry on e; custom verbs come before the plain gets.
func registerHierarchyRoutes(e *core.Server) {
	e.Router.Handle(http.MethodPost, "/v1/projects/{p}:getAncestry", "crm.v1.projects.getAncestry", getAncestry(e))
	e.Router.Handle(http.MethodGet, "/v3/organizations:search", "crm.v3.organizations.search", searchOrganizations(e))
	e.HandleIAMVerbs("/v3/organizations/{o}", "crm.v3.organizations", func(v map[string]string) func() (*core.IAMResource, *httpx.Error) {
		return func() (*core.IAMResource, *httpx.Error) { return orgIamResource(e, v["o"]) }
	}, http.MethodPost)
	e.Router.Handle(http.MethodGet, "/v3/organizations/{o}", "crm.v3.organizations.get", core.Serve(e, false,
		func(r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
			o, aerr := nodeAuthorized(e, r, "organizations/"+v["o"], "resourcemanager.organizations.get")
			if aerr != nil {
				return nil, aerr
			}
			return renderOrganization(e.St.Organizations[o]), nil
		}))
	for _, ver := range []string{"v2", "v3"} {
		e.HandleIAMVerbs("/"+ver+"/folders/{f}", "crm."+ver+".folders", func(v map[string]string) func() (*core.IAMResource, *httpx.Error) {
			return func() (*core.IAMResource, *httpx.Error) { return folderIamResource(e, v["f"]) }
		}, http.MethodPost)
		render := renderFolderV3
		if ver == "v2" {
			render = renderFolderV2
		}
		e.Router.Handle(http.MethodGet, "/"+ver+"/folders/{f}", "crm."+ver+".folders.get", core.Serve(e, false,
			func(r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
				f, aerr := nodeAuthorized(e, r, "folders/"+v["f"], "resourcemanager.folders.get")
				if aerr != nil {
					return nil, aerr
				}
				return render(e.St.Folders[f]), nil
			}))
	}
	e.Router.Handle(http.MethodGet, "/v3/folders", "crm.v3.folders.list", listFolders(e))
}

// orgIamResource is the lookup for an organization's policy handlers.
func orgIamResource(e *core.Server, id string) (*core.IAMResource, *httpx.Error) {
	o := e.St.Organizations["organizations/"+id]
	if o == nil {
		return nil, nodeNotFound("organizations/" + id)
	}
	return &core.IAMResource{Name: o.Name, Policy: &o.Policy,
		GetPermission: "resourcemanager.organizations.getIamPolicy", SetPermission: "resourcemanager.organizations.setIamPolicy"}, nil
}

// folderIamResource is the lookup for a folder's policy handlers.
func folderIamResource(e *core.Server, id string) (*core.IAMResource, *httpx.Error) {
	f := e.St.Folders["folders/"+id]
	if f == nil {
		return nil, nodeNotFound("folders/" + id)
	}
	return &core.IAMResource{Name: f.Name, Policy: &f.Policy, Parent: f.Parent,
		GetPermission: "resourcemanager.folders.getIamPolicy", SetPermission: "resourcemanager.folders.setIamPolicy"}, nil
}

// nodeNotFound is Resource Manager's answer for an unknown organization or
// folder: 403, so that callers cannot probe which exist.
func nodeNotFound(name string) *httpx.Error {
	return httpx.Errf(http.StatusForbidden, "PERMISSION_DENIED", "The caller does not have permission on %s, or it does not exist.", name)
}

// nodeAuthorized authenticates r and checks permission on the organization
// or folder name (its policy and its ancestors'); unknown nodes are 403.
// Called with e.Mu held.
func nodeAuthorized(e *core.Server, r *http.Request, name, permission string) (string, *httpx.Error) {
	principal, aerr := e.CallerLocked(r)
	if aerr != nil {
		return "", aerr
	}
	if !e.NodeExistsLocked(name) {
		return "", nodeNotFound(name)
	}
	if !e.NodePermittedLocked(principal, permission, name) {
		return "", httpx.ErrPermissionDenied(permission, name)
	}
	return name, nil
}

// listFolders serves v3 folders.list: the direct children of parent
// (required), for a caller holding resourcemanager.folders.list on it.
func listFolders(e *core.Server) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		parent := r.URL.Query().Get("parent")
		e.Mu.Lock()
		if parent == "" || !(strings.HasPrefix(parent, "organizations/") || strings.HasPrefix(parent, "folders/")) {
			e.Mu.Unlock()
			httpx.WriteError(w, httpx.ErrInvalid("parent must be organizations/{id} or folders/{id}, got %q.", parent))
			return
		}
		if _, aerr := nodeAuthorized(e, r, parent, "resourcemanager.folders.list"); aerr != nil {
			e.Mu.Unlock()
			httpx.WriteError(w, aerr)
			return
		}
		var kids []map[string]any
		for _, name := range sortedKeys(e.St.Folders) {
			if f := e.St.Folders[name]; f.Parent == parent {
				kids = append(kids, renderFolderV3(f))
			}
		}
		e.Mu.Unlock()
		httpx.WritePage(w, r, "folders", len(kids), folderPaging, func(i int) any { return kids[i] })
	}
}

// searchOrganizations serves v3 organizations.search: the organizations
// the caller may get (the query is not interpreted).
func searchOrganizations(e *core.Server) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		e.Mu.Lock()
		principal, aerr := e.CallerLocked(r)
		if aerr != nil {
			e.Mu.Unlock()
			httpx.WriteError(w, aerr)
			return
		}
		var orgs []map[string]any
		for _, name := range sortedKeys(e.St.Organizations) {
			if e.NodePermittedLocked(principal, "resourcemanager.organizations.get", name) {
				orgs = append(orgs, renderOrganization(e.St.Organizations[name]))
			}
		}
		e.Mu.Unlock()
		httpx.WritePage(w, r, "organizations", len(orgs), folderPaging, func(i int) any { return orgs[i] })
	}
}

// getAncestry serves v1 projects.getAncestry: the project, then its
// folders and organization, each as {"resourceId": {"type", "id"}}.
func getAncestry(e *core.Server) httpx.HandlerFunc {
	return core.Serve(e, false, func(r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
		p, aerr := e.RoleProjectAuthorized(r, v["p"], "resourcemanager.projects.get")
		if aerr != nil {
			return nil, aerr
		}
		ancestors := []any{map[string]any{"resourceId": map[string]any{"type": "project", "id": p.ID}}}
		for _, n := range e.AncestorsLocked(p.Parent) {
			kind, id, _ := strings.Cut(n, "s/")
			ancestors = append(ancestors, map[string]any{"resourceId": map[string]any{"type": kind, "id": id}})
		}
		return map[string]any{"ancestor": ancestors}, nil
	})
}

// renderOrganization is a v3 Organization.
func renderOrganization(o *model.Organization) map[string]any {
	ct := o.CreateTime.UTC().Format(time.RFC3339Nano)
	out := map[string]any{"name": o.Name, "displayName": o.DisplayName, "state": "ACTIVE",
		"createTime": ct, "updateTime": ct, "etag": nodeEtag(o.Name)}
	if o.DirectoryCustomerID != "" {
		out["directoryCustomerId"] = o.DirectoryCustomerID
	}
	return out
}

// renderFolderV3 is a v3 Folder.
func renderFolderV3(f *model.Folder) map[string]any {
	ct := f.CreateTime.UTC().Format(time.RFC3339Nano)
	return map[string]any{"name": f.Name, "parent": f.Parent, "displayName": f.DisplayName, "state": "ACTIVE",
		"createTime": ct, "updateTime": ct, "etag": nodeEtag(f.Name)}
}

// renderFolderV2 is a v2 Folder (what gcloud resource-manager folders reads).
func renderFolderV2(f *model.Folder) map[string]any {
	return map[string]any{"name": f.Name, "parent": f.Parent, "displayName": f.DisplayName,
		"lifecycleState": "ACTIVE", "createTime": f.CreateTime.UTC().Format(time.RFC3339Nano)}
}

// nodeEtag is a stable resource etag (nodes never change once seeded).
func nodeEtag(name string) string {
	_, id, _ := strings.Cut(name, "/")
	return `W/"` + id + `"`
}

// sortedKeys is m's keys in order, for stable listings.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
