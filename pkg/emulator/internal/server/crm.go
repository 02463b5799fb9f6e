package server

// Cloud Resource Manager v1 and v3 (contract §7): project get (by id or
// number) and the project policy (getIamPolicy, setIamPolicy,
// testIamPermissions). The project policy is inherited by every account
// and Cloud Run service of the project.

import (
	"net/http"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

func (e *Server) registerCRMRoutes() {
	for _, ver := range []string{"v1", "v3"} {
		e.handleIAMVerbs("/"+ver+"/projects/{p}", "crm."+ver+".projects", e.projectIamResource, http.MethodPost)
	}
	e.router.Handle(http.MethodGet, "/v1/projects/{p}", "crm.v1.projects.get", e.handleProjectGetV1)
	e.router.Handle(http.MethodGet, "/v3/projects/{p}", "crm.v3.projects.get", e.handleProjectGetV3)
}

// projectIamResource is the lookup for the project policy handlers.
func (e *Server) projectIamResource(v map[string]string) func() (*iamResource, *httpx.Error) {
	return func() (*iamResource, *httpx.Error) {
		p := e.projectLocked(v["p"])
		if p == nil {
			return nil, httpx.ErrNotFound("Project %s not found.", v["p"])
		}
		return &iamResource{Name: "projects/" + p.ID, ProjectID: p.ID,
			GetPermission: "resourcemanager.projects.getIamPolicy", SetPermission: "resourcemanager.projects.setIamPolicy"}, nil
	}
}

// projectForGet authenticates and authorizes resourcemanager.projects.get.
func (e *Server) projectForGet(r *http.Request, v map[string]string) (*model.Project, *httpx.Error) {
	return e.roleProjectAuthorized(r, v["p"], "resourcemanager.projects.get")
}

func (e *Server) handleProjectGetV1(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, aerr := e.projectForGet(r, v)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	out := map[string]any{
		"projectNumber":  p.Number,
		"projectId":      p.ID,
		"lifecycleState": "ACTIVE",
		"name":           p.Name,
		"createTime":     p.CreateTime.UTC().Format(time.RFC3339Nano),
	}
	if kind, id, ok := strings.Cut(p.Parent, "s/"); ok {
		out["parent"] = map[string]any{"type": kind, "id": id} // v1: {"type": "organization", "id": "4242"}
	}
	if len(p.Labels) > 0 {
		out["labels"] = p.Labels
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (e *Server) handleProjectGetV3(w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, aerr := e.projectForGet(r, v)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
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
	if len(p.Labels) > 0 {
		out["labels"] = p.Labels
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
