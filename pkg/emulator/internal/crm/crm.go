// Package crm serves Cloud Resource Manager v1 and v3 for the emulator:
// project get and the project IAM policy.
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

func RegisterCRMRoutes(e *core.Server) {
	for _, ver := range []string{"v1", "v3"} {
		e.HandleIAMVerbs("/"+ver+"/projects/{p}", "crm."+ver+".projects", func(a0 map[string]string) func() (*core.IamResource, *httpx.Error) { return projectIamResource(e, a0) }, http.MethodPost)
	}
	e.Router.Handle(http.MethodGet, "/v1/projects/{p}", "crm.v1.projects.get", func(a0 http.ResponseWriter, a1 *http.Request, a2 map[string]string) {
		handleProjectGetV1(e, a0, a1, a2)
	})
	e.Router.Handle(http.MethodGet, "/v3/projects/{p}", "crm.v3.projects.get", func(a0 http.ResponseWriter, a1 *http.Request, a2 map[string]string) {
		handleProjectGetV3(e, a0, a1, a2)
	})
}

// projectIamResource is the lookup for the project policy handlers.
func projectIamResource(e *core.Server, v map[string]string) func() (*core.IamResource, *httpx.Error) {
	return func() (*core.IamResource, *httpx.Error) {
		p := e.ProjectLocked(v["p"])
		if p == nil {
			return nil, httpx.ErrNotFound("Project %s not found.", v["p"])
		}
		return &core.IamResource{Name: "projects/" + p.ID, ProjectID: p.ID,
			GetPermission: "resourcemanager.projects.getIamPolicy", SetPermission: "resourcemanager.projects.setIamPolicy"}, nil
	}
}

// projectForGet authenticates and authorizes resourcemanager.projects.get.
func projectForGet(e *core.Server, r *http.Request, v map[string]string) (*model.Project, *httpx.Error) {
	return e.RoleProjectAuthorized(r, v["p"], "resourcemanager.projects.get")
}

func handleProjectGetV1(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	p, aerr := projectForGet(e, r, v)
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

func handleProjectGetV3(e *core.Server, w http.ResponseWriter, r *http.Request, v map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	p, aerr := projectForGet(e, r, v)
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
