// Package crm serves Cloud Resource Manager v1, v2 and v3 for the
// emulator: project get and ancestry, organizations and folders, and the
// IAM policy of each.
package crm

// Cloud Resource Manager v1 and v3 (contract §7): project get (by id or
// number) and the project policy (getIamPolicy, setIamPolicy,
// testIamPermissions). The project policy is inherited by every account
// and Cloud Run service of the project.

import (
	"net/http"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// RegisterCRMRoutes registers Resource Manager v1 and v3 on e.
func RegisterCRMRoutes(e *core.Server) {
	registerHierarchyRoutes(e)
	for _, ver := range []string{"v1", "v3"} {
		e.HandleIAMVerbs("/"+ver+"/projects/{p}", "crm."+ver+".projects", func(a0 map[string]string) func() (*core.IAMResource, *httpx.Error) { return projectIamResource(e, a0) }, http.MethodPost)
	}
	e.Router.Handle(http.MethodGet, "/v1/projects/{p}", "crm.v1.projects.get", projectGetter(e, renderProjectV1))
	e.Router.Handle(http.MethodGet, "/v3/projects/{p}", "crm.v3.projects.get", projectGetter(e, renderProjectV3))
}

// projectIamResource is the lookup for the project policy handlers.
func projectIamResource(e *core.Server, v map[string]string) func() (*core.IAMResource, *httpx.Error) {
	return func() (*core.IAMResource, *httpx.Error) {
		p := e.ProjectLocked(v["p"])
		if p == nil {
			return nil, httpx.ErrNotFound("Project %s not found.", v["p"])
		}
		return &core.IAMResource{Name: "projects/" + p.ID, ProjectID: p.ID,
			GetPermission: "resourcemanager.projects.getIamPolicy", SetPermission: "resourcemanager.projects.setIamPolicy"}, nil
	}
}

// projectGetter serves projects.get (by id or number) for a caller holding
// resourcemanager.projects.get, rendered by one API version's render.
func projectGetter(e *core.Server, render func(p *model.Project) map[string]any) httpx.HandlerFunc {
	return core.Serve(e, false, func(r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
		p, aerr := e.RoleProjectAuthorized(r, v["p"], "resourcemanager.projects.get")
		if aerr != nil {
			return nil, aerr
		}
		out := render(p)
		if len(p.Labels) > 0 {
			out["labels"] = p.Labels
		}
		return out, nil
	})
}

// renderProjectV1 is a v1 Project; its parent is {"type": "organization",
// "id": "4242"}.
func renderProjectV1(p *model.Project) map[string]any {
	out := map[string]any{
		"projectNumber":  p.Number,
		"projectId":      p.ID,
		"lifecycleState": "ACTIVE",
		"name":           p.Name,
		"createTime":     p.CreateTime.UTC().Format(time.RFC3339Nano),
	}
	if kind, id, ok := strings.Cut(p.Parent, "s/"); ok {
		out["parent"] = map[string]any{"type": kind, "id": id}
	}
	return out
}

// renderProjectV3 is a v3 Project, named by number; its parent is
// "organizations/4242".
func renderProjectV3(p *model.Project) map[string]any {
	ct := p.CreateTime.UTC().Format(time.RFC3339Nano)
	out := map[string]any{
		"name":        "projects/" + p.Number,
		"projectId":   p.ID,
		"state":       "ACTIVE",
		"displayName": p.Name,
		"etag":        "W/\"" + p.Number + "\"",
		"createTime":  ct,
		"updateTime":  ct,
	}
	if p.Parent != "" {
		out["parent"] = p.Parent
	}
	return out
}
