// Package functions serves Cloud Functions v2 for the emulator: functions
// get, list and create, each backed by a Cloud Run service.
package functions

// Cloud Functions v2 (functions get/list/create): each function is backed
// by a Cloud Run service (serviceConfig.service = its full name,
// serviceConfig.uri = its uri). Creating a function creates its service
// when absent. Event-driven functions carry eventTrigger; their service is
// an ordinary private service, and the trigger's service account is
// granted roles/run.invoker on it, as a deployment does. In the emulator a
// function's url is its service's uri (reachable), not a cloudfunctions.net
// address. Operations are served by the Run handler (same path).

import (
	"maps"
	"net/http"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/run"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

// RegisterFunctionRoutes registers Cloud Functions v2 on e.
func RegisterFunctionRoutes(e *core.Server) {
	const fn = "/v2/projects/{p}/locations/{l}/functions"
	e.Router.Handle(http.MethodGet, fn+"/{f}", "cloudfunctions.v2.functions.get", e.With(functionGet))
	e.Router.Handle(http.MethodGet, fn, "cloudfunctions.v2.functions.list", e.With(functionList))
	e.Router.Handle(http.MethodPost, fn, "cloudfunctions.v2.functions.create", e.With(functionCreate))
}

// functionIngress maps a Run ingress to Cloud Functions' ingressSettings.
var functionIngress = map[string]string{
	model.IngressAll:        "ALLOW_ALL",
	model.IngressInternal:   "ALLOW_INTERNAL_ONLY",
	model.IngressInternalLB: "ALLOW_INTERNAL_AND_GCLB",
	model.IngressNone:       "ALLOW_INTERNAL_ONLY",
}

// runIngressOf maps ingressSettings back to a Run ingress.
var runIngressOf = map[string]string{
	"ALLOW_ALL":               model.IngressAll,
	"ALLOW_INTERNAL_ONLY":     model.IngressInternal,
	"ALLOW_INTERNAL_AND_GCLB": model.IngressInternalLB,
}

// renderFunction renders f (projRef as the caller named the project).
func renderFunctionLocked(e *core.Server, f *model.Function, p *model.Project, projRef string) map[string]any {
	out := map[string]any{
		"name":        "projects/" + projRef + "/locations/" + f.Location + "/functions/" + f.Name,
		"environment": f.Environment,
		"state":       f.State,
		"createTime":  run.RFC3339(f.CreateTime),
		"updateTime":  run.RFC3339(f.UpdateTime),
	}
	if f.Description != "" {
		out["description"] = f.Description
	}
	if len(f.Labels) > 0 {
		out["labels"] = f.Labels
	}
	build := map[string]any{
		"dockerRepository": "projects/" + p.ID + "/locations/" + f.Location + "/repositories/gcf-artifacts",
	}
	if f.Runtime != "" {
		build["runtime"] = f.Runtime
	}
	if f.EntryPoint != "" {
		build["entryPoint"] = f.EntryPoint
	}
	out["buildConfig"] = build
	sc := map[string]any{
		"service":                       f.Service,
		"timeoutSeconds":                60,
		"availableMemory":               "256M",
		"availableCpu":                  "0.1666",
		"maxInstanceCount":              100,
		"maxInstanceRequestConcurrency": 1,
		"allTrafficOnLatestRevision":    true,
		"serviceAccountEmail":           p.Number + "-compute@developer.gserviceaccount.com",
		"ingressSettings":               "ALLOW_ALL",
	}
	if svc := e.St.Services[f.Service]; svc != nil {
		sc["uri"] = svc.URI
		sc["revision"] = run.RevisionName(svc)
		sc["ingressSettings"] = functionIngress[svc.Ingress]
		out["url"] = svc.URI
	}
	out["serviceConfig"] = sc
	if len(f.EventTrigger) > 0 {
		out["eventTrigger"] = f.EventTrigger
	}
	return out
}

func functionGet(e *core.Server, w http.ResponseWriter, r *http.Request, vars map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	p := e.ProjectLocked(vars["p"])
	res := run.LocationParent(vars) + "/functions/" + vars["f"]
	if _, aerr := e.AuthorizeResource(r, "cloudfunctions.functions.get", res, run.ProjectIDOr(p, vars["p"]), nil); aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	var f *model.Function
	if p != nil {
		f = e.St.Functions[model.FunctionKey(p.ID, vars["l"], vars["f"])]
	}
	if f == nil {
		httpx.WriteError(w, httpx.ErrNotFound("Resource '%s' was not found", res))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, renderFunctionLocked(e, f, p, vars["p"]))
}

func functionList(e *core.Server, w http.ResponseWriter, r *http.Request, vars map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	p, aerr := run.RunScopeLocked(e, vars, true)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if _, aerr := run.AuthorizeInProject(e, r, "cloudfunctions.functions.list", run.LocationParent(vars), vars["p"], p); aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	fs := run.InScope(e.St.Functions, p.ID, vars["l"])
	httpx.WritePage(w, r, "functions", len(fs), httpx.Paging{}, func(i int) any { return renderFunctionLocked(e, fs[i], p, vars["p"]) })
}

// functionBody is what create reads.
type functionBody struct {
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	Environment string            `json:"environment"`
	BuildConfig *struct {
		Runtime    string `json:"runtime"`
		EntryPoint string `json:"entryPoint"`
	} `json:"buildConfig"`
	ServiceConfig *struct {
		Service         string `json:"service"`
		IngressSettings string `json:"ingressSettings"`
	} `json:"serviceConfig"`
	EventTrigger map[string]any `json:"eventTrigger"`
}

func functionCreate(e *core.Server, w http.ResponseWriter, r *http.Request, vars map[string]string) {
	var body functionBody
	if err := httpx.ReadJSON(r, &body); err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.Mu.Lock()
	defer e.Mu.Unlock()
	p := e.ProjectLocked(vars["p"])
	parent := run.LocationParent(vars)
	principal, aerr := run.AuthorizeInProject(e, r, "cloudfunctions.functions.create", parent, vars["p"], p)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if !model.RunLocationRe.MatchString(vars["l"]) {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid location %q.", vars["l"]))
		return
	}
	id := r.URL.Query().Get("functionId")
	if !model.RunServiceIDRe.MatchString(id) {
		httpx.WriteError(w, httpx.ErrInvalid("Invalid functionId %q: it must begin with a letter, contain only lower-case letters, digits and hyphens, and have fewer than 50 characters.", id))
		return
	}
	if body.Environment != "" && body.Environment != "GEN_2" {
		httpx.WriteError(w, httpx.ErrInvalid("Only environment GEN_2 is supported by the emulator, not %q.", body.Environment))
		return
	}
	fkey := model.FunctionKey(p.ID, vars["l"], id)
	if e.St.Functions[fkey] != nil {
		httpx.WriteError(w, httpx.ErrAlreadyExists("Function %s in region %s in project %s already exists", id, vars["l"], vars["p"]))
		return
	}
	var trigger map[string]any
	triggerSA := ""
	if len(body.EventTrigger) > 0 {
		et, _ := body.EventTrigger["eventType"].(string)
		if et == "" {
			httpx.WriteError(w, httpx.ErrInvalid("eventTrigger.eventType is required."))
			return
		}
		trigger = maps.Clone(body.EventTrigger)
		core.FillTriggerDefaults(trigger, vars["p"], vars["l"], id)
		if sa, _ := trigger["serviceAccountEmail"].(string); sa != "" {
			triggerSA = "serviceAccount:" + strings.ToLower(sa)
			if aerr := e.CheckMemberExistsLocked(triggerSA); aerr != nil {
				httpx.WriteError(w, aerr)
				return
			}
		}
	}
	svcName := id
	spec := core.ServiceSpec{Description: body.Description, Labels: body.Labels}
	if sc := body.ServiceConfig; sc != nil {
		if sc.Service != "" {
			svcName = sc.Service[strings.LastIndexByte(sc.Service, '/')+1:]
			if !model.RunServiceIDRe.MatchString(svcName) {
				httpx.WriteError(w, httpx.ErrInvalid("Invalid serviceConfig.service %q.", sc.Service))
				return
			}
		}
		if sc.IngressSettings != "" {
			ing, ok := runIngressOf[sc.IngressSettings]
			if !ok {
				httpx.WriteError(w, httpx.ErrInvalid("Invalid serviceConfig.ingressSettings %q.", sc.IngressSettings))
				return
			}
			spec.Ingress = ing
		}
	}
	skey := model.ServiceKey(p.ID, vars["l"], svcName)
	for _, f := range e.St.Functions {
		if f.Service == skey {
			httpx.WriteError(w, httpx.ErrAlreadyExists("Service %s already backs function %s.", svcName, f.Name))
			return
		}
	}
	svc := e.St.Services[skey]
	if svc == nil {
		svc = e.NewServiceLocked(p, vars["l"], svcName, spec, principal)
	}
	if triggerSA != "" {
		np := *svc.Policy
		np.Bindings = seed.MergeBinding(cloneBindings(svc.Policy.Bindings), "roles/run.invoker", []string{triggerSA})
		np.Etag = model.NewEtag()
		np.PrevBindings = svc.Policy.BindingsAt(e.Opts.Now(), e.Opts.PropagationDelay)
		np.UpdateTime = e.Opts.Now().UTC()
		svc.Policy = &np
	}
	now := e.Opts.Now().UTC()
	f := &model.Function{
		ProjectID:    p.ID,
		Location:     vars["l"],
		Name:         id,
		Description:  body.Description,
		Labels:       body.Labels,
		State:        "ACTIVE",
		Environment:  "GEN_2",
		Service:      skey,
		EventTrigger: trigger,
		CreateTime:   now,
		UpdateTime:   now,
	}
	if bc := body.BuildConfig; bc != nil {
		f.Runtime, f.EntryPoint = bc.Runtime, bc.EntryPoint
	}
	e.St.Functions[fkey] = f
	rendered := renderFunctionLocked(e, f, p, vars["p"])
	opName := parent + "/operations/operation-" + core.RandomHex(8)
	op := &model.Operation{
		Name: opName,
		Done: true,
		Metadata: map[string]any{
			"@type":      "type.googleapis.com/google.cloud.functions.v2.OperationMetadata",
			"createTime": run.RFC3339(now),
			"endTime":    run.RFC3339(now),
			"target":     rendered["name"],
			"verb":       "create",
			"apiVersion": "v2",
		},
		Response: run.ToMap(rendered, "type.googleapis.com/google.cloud.functions.v2.Function"),
	}
	e.St.Operations[run.OperationKey(p.ID, vars["l"], opName)] = op
	if err := e.SaveLocked(); err != nil {
		httpx.WriteError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, op)
}

func cloneBindings(bs []*model.Binding) []*model.Binding {
	out := make([]*model.Binding, 0, len(bs))
	for _, b := range bs {
		nb := *b
		nb.Members = append([]string(nil), b.Members...)
		out = append(out, &nb)
	}
	return out
}
