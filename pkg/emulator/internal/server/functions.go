package server

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

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

func (e *Server) registerFunctionRoutes() {
	const fn = "/v2/projects/{p}/locations/{l}/functions"
	e.router.Handle(http.MethodGet, fn+"/{f}", "cloudfunctions.v2.functions.get", e.functionGet)
	e.router.Handle(http.MethodGet, fn, "cloudfunctions.v2.functions.list", e.functionList)
	e.router.Handle(http.MethodPost, fn, "cloudfunctions.v2.functions.create", e.functionCreate)
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
func (e *Server) renderFunctionLocked(f *model.Function, p *model.Project, projRef string) map[string]any {
	out := map[string]any{
		"name":        "projects/" + projRef + "/locations/" + f.Location + "/functions/" + f.Name,
		"environment": f.Environment,
		"state":       f.State,
		"createTime":  rfc3339(f.CreateTime),
		"updateTime":  rfc3339(f.UpdateTime),
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
	if svc := e.st.Services[f.Service]; svc != nil {
		sc["uri"] = svc.URI
		sc["revision"] = revisionName(svc)
		sc["ingressSettings"] = functionIngress[svc.Ingress]
		out["url"] = svc.URI
	}
	out["serviceConfig"] = sc
	if len(f.EventTrigger) > 0 {
		out["eventTrigger"] = f.EventTrigger
	}
	return out
}

func (e *Server) functionGet(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.projectLocked(vars["p"])
	res := locationParent(vars) + "/functions/" + vars["f"]
	if _, aerr := e.authorizeResource(r, "cloudfunctions.functions.get", res, projectIDOr(p, vars["p"]), nil); aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	var f *model.Function
	if p != nil {
		f = e.st.Functions[model.FunctionKey(p.ID, vars["l"], vars["f"])]
	}
	if f == nil {
		httpx.WriteError(w, httpx.ErrNotFound("Resource '%s' was not found", res))
		return
	}
	httpx.WriteJSON(w, http.StatusOK, e.renderFunctionLocked(f, p, vars["p"]))
}

func (e *Server) functionList(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, aerr := e.runScopeLocked(vars, true)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if _, aerr := e.authorizeInProject(r, "cloudfunctions.functions.list", locationParent(vars), vars["p"], p); aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	fs := inScope(e.st.Functions, p.ID, vars["l"])
	writePage(w, r, "functions", len(fs), func(i int) any { return e.renderFunctionLocked(fs[i], p, vars["p"]) })
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

func (e *Server) functionCreate(w http.ResponseWriter, r *http.Request, vars map[string]string) {
	var body functionBody
	if err := httpx.ReadJSON(r, &body); err != nil {
		httpx.WriteError(w, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.projectLocked(vars["p"])
	parent := locationParent(vars)
	principal, aerr := e.authorizeInProject(r, "cloudfunctions.functions.create", parent, vars["p"], p)
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
	if e.st.Functions[fkey] != nil {
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
		fillTriggerDefaults(trigger, vars["p"], vars["l"], id)
		if sa, _ := trigger["serviceAccountEmail"].(string); sa != "" {
			triggerSA = "serviceAccount:" + strings.ToLower(sa)
			if aerr := e.checkMemberExistsLocked(triggerSA); aerr != nil {
				httpx.WriteError(w, aerr)
				return
			}
		}
	}
	svcName := id
	spec := serviceSpec{Description: body.Description, Labels: body.Labels}
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
	for _, f := range e.st.Functions {
		if f.Service == skey {
			httpx.WriteError(w, httpx.ErrAlreadyExists("Service %s already backs function %s.", svcName, f.Name))
			return
		}
	}
	svc := e.st.Services[skey]
	if svc == nil {
		svc = e.newServiceLocked(p, vars["l"], svcName, spec, principal)
	}
	if triggerSA != "" {
		np := *svc.Policy
		np.Bindings = seed.MergeBinding(cloneBindings(svc.Policy.Bindings), "roles/run.invoker", []string{triggerSA})
		np.Etag = model.NewEtag()
		np.PrevBindings = svc.Policy.BindingsAt(e.opts.Now(), e.opts.PropagationDelay)
		np.UpdateTime = e.opts.Now().UTC()
		svc.Policy = &np
	}
	now := e.opts.Now().UTC()
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
	e.st.Functions[fkey] = f
	rendered := e.renderFunctionLocked(f, p, vars["p"])
	opName := parent + "/operations/operation-" + randomHex(8)
	op := &model.Operation{
		Name: opName,
		Done: true,
		Metadata: map[string]any{
			"@type":      "type.googleapis.com/google.cloud.functions.v2.OperationMetadata",
			"createTime": rfc3339(now),
			"endTime":    rfc3339(now),
			"target":     rendered["name"],
			"verb":       "create",
			"apiVersion": "v2",
		},
		Response: toMap(rendered, "type.googleapis.com/google.cloud.functions.v2.Function"),
	}
	e.st.Operations[operationKey(p.ID, vars["l"], opName)] = op
	if err := e.saveLocked(); err != nil {
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
