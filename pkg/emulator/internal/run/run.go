// Package run serves Cloud Run Admin v2 and the v1/Knative surfaces gcloud
// uses for the emulator, over one stored service with two renderings.
package run

// Cloud Run Admin API v2 (contract §5): services create/get/list/patch/
// delete, their IAM policies, and long-running operations. A Service is
// stored once (State.Services) and rendered here as v2 and in runv1.go as
// Knative v1.

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// RegisterRunRoutes registers Run Admin v2 services and operations on e
// (custom-verb routes first).
func RegisterRunRoutes(e *core.Server) {
	const svc = "/v2/projects/{p}/locations/{l}/services/"
	e.HandleIAMVerbs(svc+"{s}", "run.v2.services", func(a0 map[string]string) func() (*core.IAMResource, *httpx.Error) { return serviceIAM(e, a0) }, http.MethodGet)
	e.Router.Handle(http.MethodGet, svc+"{s}", "run.v2.services.get", onService(e, "run.services.get", authorizedServiceLocked, false, renderV2Get))
	e.Router.Handle(http.MethodPatch, svc+"{s}", "run.v2.services.patch", serveRun(e, runV2Patch))
	e.Router.Handle(http.MethodDelete, svc+"{s}", "run.v2.services.delete", serveRun(e, runV2Delete))
	e.Router.Handle(http.MethodGet, "/v2/projects/{p}/locations/{l}/services", "run.v2.services.list", e.With(runV2List))
	e.Router.Handle(http.MethodPost, "/v2/projects/{p}/locations/{l}/services", "run.v2.services.create", serveRun(e, runV2Create))
	e.Router.Handle(http.MethodGet, "/v2/projects/{p}/locations/{l}/operations/{op}", "run.v2.operations.get", e.With(runGetOperation))
}

// RevisionName is the name of the revision serving generation gen.
func RevisionName(svc *model.Service) string {
	sum := sha256.Sum256([]byte(svc.UID + strconv.FormatInt(svc.Generation, 10)))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	n := binary.BigEndian.Uint32(sum[:4])
	suffix := []byte{letters[n%26], letters[(n/26)%26], letters[(n/676)%26]}
	return fmt.Sprintf("%s-%05d-%s", svc.Name, svc.Generation, suffix)
}

// RFC3339 formats t as RFC 3339 in UTC with Z.
func RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ---- v2 rendering ----

// runV2Service is the v2 JSON shape of a Service (contract §5.3).
type runV2Service struct {
	Name                  string            `json:"name"`
	Description           string            `json:"description,omitempty"`
	UID                   string            `json:"uid"`
	Generation            string            `json:"generation"`
	Labels                map[string]string `json:"labels,omitempty"`
	Annotations           map[string]string `json:"annotations,omitempty"`
	CreateTime            string            `json:"createTime"`
	UpdateTime            string            `json:"updateTime"`
	Creator               string            `json:"creator,omitempty"`
	LastModifier          string            `json:"lastModifier,omitempty"`
	Ingress               string            `json:"ingress"`
	LaunchStage           string            `json:"launchStage"`
	InvokerIamDisabled    bool              `json:"invokerIamDisabled,omitempty"`
	CustomAudiences       []string          `json:"customAudiences,omitempty"`
	DefaultURIDisabled    bool              `json:"defaultUriDisabled,omitempty"`
	Template              map[string]any    `json:"template"`
	Traffic               []map[string]any  `json:"traffic"`
	ObservedGeneration    string            `json:"observedGeneration"`
	TerminalCondition     map[string]any    `json:"terminalCondition"`
	Conditions            []map[string]any  `json:"conditions"`
	LatestReadyRevision   string            `json:"latestReadyRevision"`
	LatestCreatedRevision string            `json:"latestCreatedRevision"`
	TrafficStatuses       []map[string]any  `json:"trafficStatuses"`
	URI                   string            `json:"uri,omitempty"`
	URLs                  []string          `json:"urls,omitempty"`
	Etag                  string            `json:"etag"`
}

// runTemplate is the revision template of svc, with defaults a real
// deployment shows (the service account is the project's default compute
// account unless the template names one).
func runTemplate(svc *model.Service, p *model.Project) map[string]any {
	t := map[string]any{}
	maps.Copy(t, svc.Template)
	if _, ok := t["containers"]; !ok {
		t["containers"] = []any{map[string]any{
			"image": "us-docker.pkg.dev/cloudrun/container/hello",
			"ports": []any{map[string]any{"name": "http1", "containerPort": 8080}},
			"resources": map[string]any{
				"limits":          map[string]any{"cpu": "1000m", "memory": "512Mi"},
				"cpuIdle":         true,
				"startupCpuBoost": true,
			},
		}}
	}
	if _, ok := t["serviceAccount"]; !ok {
		t["serviceAccount"] = p.Number + "-compute@developer.gserviceaccount.com"
	}
	if _, ok := t["timeout"]; !ok {
		t["timeout"] = "300s"
	}
	if _, ok := t["maxInstanceRequestConcurrency"]; !ok {
		t["maxInstanceRequestConcurrency"] = 80
	}
	if _, ok := t["scaling"]; !ok {
		t["scaling"] = map[string]any{"maxInstanceCount": 100}
	}
	return t
}

// renderV2 renders svc; projRef is the project as the caller named it
// (id or number), echoed in name.
func renderV2(svc *model.Service, p *model.Project, projRef string) *runV2Service {
	rev := "projects/" + projRef + "/locations/" + svc.Location + "/services/" + svc.Name + "/revisions/" + RevisionName(svc)
	ready := RFC3339(svc.UpdateTime)
	return &runV2Service{
		Name:               "projects/" + projRef + "/locations/" + svc.Location + "/services/" + svc.Name,
		Description:        svc.Description,
		UID:                svc.UID,
		Generation:         strconv.FormatInt(svc.Generation, 10),
		Labels:             svc.Labels,
		Annotations:        svc.Annotations,
		CreateTime:         RFC3339(svc.CreateTime),
		UpdateTime:         RFC3339(svc.UpdateTime),
		Creator:            svc.Creator,
		LastModifier:       svc.LastModifier,
		Ingress:            svc.Ingress,
		LaunchStage:        "GA",
		InvokerIamDisabled: svc.InvokerIAMDisabled,
		CustomAudiences:    svc.CustomAudiences,
		DefaultURIDisabled: svc.DefaultURIDisabled,
		Template:           runTemplate(svc, p),
		Traffic:            []map[string]any{{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}},
		ObservedGeneration: strconv.FormatInt(svc.Generation, 10),
		TerminalCondition: map[string]any{
			"type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": ready,
		},
		Conditions: []map[string]any{
			{"type": "RoutesReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": ready},
			{"type": "ConfigurationsReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": ready},
		},
		LatestReadyRevision:   rev,
		LatestCreatedRevision: rev,
		TrafficStatuses:       []map[string]any{{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}},
		URI:                   svc.URI,
		URLs:                  svc.URLs,
		Etag:                  svc.Etag,
	}
}

// ToMap round-trips v through JSON (for Operation metadata/response).
func ToMap(v any, typ string) map[string]any {
	b, _ := json.Marshal(v)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	if typ != "" {
		m["@type"] = typ
	}
	return m
}

// ---- lookups ----

// runScope resolves {p} and {l} of a request. It returns the project (nil
// when unknown) and an error for a malformed location.
func RunScopeLocked(e *core.Server, vars map[string]string, allowWildcard bool) (*model.Project, *httpx.Error) {
	l := vars["l"]
	if !(allowWildcard && l == "-") && !model.RunLocationRe.MatchString(l) {
		return nil, httpx.ErrInvalid("Invalid location %q.", l)
	}
	return e.ProjectLocked(vars["p"]), nil
}

// serviceLocked finds the service a request names; p may be nil.
func serviceLocked(e *core.Server, p *model.Project, vars map[string]string) *model.Service {
	if p == nil {
		return nil
	}
	return e.St.Services[model.ServiceKey(p.ID, vars["l"], vars["s"])]
}

func serviceResource(vars map[string]string) string {
	return "projects/" + vars["p"] + "/locations/" + vars["l"] + "/services/" + vars["s"]
}

func errServiceNotFound(vars map[string]string) *httpx.Error {
	return httpx.ErrNotFound("Resource '%s' of kind 'SERVICE' in region '%s' in project '%s' does not exist.", vars["s"], vars["l"], vars["p"])
}

// authorizeService checks permission on a service (its policy united with
// the project's). A missing service answers 404 to callers who could see
// it and 403 to the others, as Google does. Called with e.mu held.
func authorizeService(e *core.Server, r *http.Request, perm string, vars map[string]string, p *model.Project, svc *model.Service) (string, *httpx.Error) {
	var pol *model.Policy
	if svc != nil {
		pol = svc.Policy
	}
	principal, aerr := e.AuthorizeResource(r, perm, serviceResource(vars), ProjectIDOr(p, vars["p"]), pol)
	if aerr != nil {
		return "", aerr
	}
	if svc == nil {
		return "", errServiceNotFound(vars)
	}
	return principal, nil
}

// authorizedServiceLocked resolves the project, location and service a
// request names and checks perm on the service (see authorizeService).
func authorizedServiceLocked(e *core.Server, r *http.Request, perm string, vars map[string]string) (*model.Project, *model.Service, *httpx.Error) {
	p, aerr := RunScopeLocked(e, vars, false)
	if aerr != nil {
		return nil, nil, aerr
	}
	svc := serviceLocked(e, p, vars)
	if _, aerr := authorizeService(e, r, perm, vars, p, svc); aerr != nil {
		return nil, nil, aerr
	}
	return p, svc, nil
}

// ---- handlers ----

// scoped is what is stored per project and location (services, functions).
type scoped interface {
	Scope() (projectID, location, name string)
}

// InScope lists the items of project projectID in location l ("-" for
// every location), sorted by location then name.
func InScope[T scoped](items map[string]T, projectID, l string) []T {
	var out []T
	for _, it := range items {
		if pid, loc, _ := it.Scope(); pid == projectID && (l == "-" || loc == l) {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		_, li, ni := out[i].Scope()
		_, lj, nj := out[j].Scope()
		if li != lj {
			return li < lj
		}
		return ni < nj
	})
	return out
}

func runV2List(e *core.Server, w http.ResponseWriter, r *http.Request, vars map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	p, aerr := RunScopeLocked(e, vars, true)
	if aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if _, aerr := AuthorizeInProject(e, r, "run.services.list", "projects/"+vars["p"], vars["p"], p); aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	svcs := InScope(e.St.Services, p.ID, vars["l"])
	// Every region answers: unreachable stays empty (and so is left out).
	httpx.WritePage(w, r, "services", len(svcs), httpx.Paging{}, func(i int) any { return renderV2(svcs[i], p, vars["p"]) })
}

// AuthorizeInProject checks perm on resource, a project or something in
// it (a parent for list and create; p is nil when projRef names no
// project), and answers 404 for an unknown project to callers allowed to
// know. It returns the caller.
func AuthorizeInProject(e *core.Server, r *http.Request, perm, resource, projRef string, p *model.Project) (string, *httpx.Error) {
	principal, aerr := e.AuthorizeResource(r, perm, resource, ProjectIDOr(p, projRef), nil)
	if aerr != nil {
		return "", aerr
	}
	if p == nil {
		return "", httpx.ErrNotFound("Project '%s' not found.", projRef)
	}
	return principal, nil
}

// runV2Body is what create and patch read from a request body.
type runV2Body struct {
	Name               string            `json:"name"`
	Description        *string           `json:"description"`
	Labels             map[string]string `json:"labels"`
	Annotations        map[string]string `json:"annotations"`
	Ingress            *string           `json:"ingress"`
	InvokerIamDisabled *bool             `json:"invokerIamDisabled"`
	CustomAudiences    []string          `json:"customAudiences"`
	DefaultURIDisabled *bool             `json:"defaultUriDisabled"`
	Template           map[string]any    `json:"template"`
	Etag               string            `json:"etag"`
}

func validIngress(s string) bool {
	switch s {
	case model.IngressAll, model.IngressInternal, model.IngressInternalLB, model.IngressNone:
		return true
	}
	return false
}

func (b *runV2Body) spec() (core.ServiceSpec, *httpx.Error) {
	sp := core.ServiceSpec{Labels: b.Labels, Annotations: b.Annotations, CustomAudiences: b.CustomAudiences, Template: b.Template}
	if b.Description != nil {
		sp.Description = *b.Description
	}
	if b.Ingress != nil && *b.Ingress != "" && *b.Ingress != "INGRESS_TRAFFIC_UNSPECIFIED" {
		if !validIngress(*b.Ingress) {
			return sp, httpx.ErrInvalid("Invalid value for ingress: %q.", *b.Ingress)
		}
		sp.Ingress = *b.Ingress
	}
	if b.InvokerIamDisabled != nil {
		sp.InvokerIAMDisabled = *b.InvokerIamDisabled
	}
	if b.DefaultURIDisabled != nil {
		sp.DefaultURIDisabled = *b.DefaultURIDisabled
	}
	for _, a := range b.CustomAudiences {
		if strings.TrimSpace(a) == "" {
			return sp, httpx.ErrInvalid("customAudiences must not hold empty values.")
		}
	}
	return sp, nil
}

func boolParam(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

func runV2Create(e *core.Server, r *http.Request, vars map[string]string, body *runV2Body) (any, *httpx.Error) {
	p, aerr := RunScopeLocked(e, vars, false)
	if aerr != nil {
		return nil, aerr
	}
	principal, aerr := AuthorizeInProject(e, r, "run.services.create", LocationParent(vars), vars["p"], p)
	if aerr != nil {
		return nil, aerr
	}
	id := r.URL.Query().Get("serviceId")
	if id == "" {
		return nil, httpx.ErrInvalid("serviceId is required.")
	}
	if !model.RunServiceIDRe.MatchString(id) {
		return nil, httpx.ErrInvalid("Invalid serviceId %q: it must begin with a letter, contain only lower-case letters, digits and hyphens, not end with a hyphen, and have fewer than 50 characters.", id)
	}
	spec, aerr := body.spec()
	if aerr != nil {
		return nil, aerr
	}
	if e.St.Services[model.ServiceKey(p.ID, vars["l"], id)] != nil {
		return nil, httpx.ErrAlreadyExists("Resource '%s' already exists.", id)
	}
	vars["s"] = id
	if boolParam(r, "validateOnly") {
		tmp := &model.Service{ProjectID: p.ID, Location: vars["l"], Name: id, Generation: 1, Ingress: spec.Ingress}
		return newOperationLocked(e, p, vars, renderV2(tmp, p, vars["p"]), false), nil
	}
	svc := e.NewServiceLocked(p, vars["l"], id, spec, principal)
	return newOperationLocked(e, p, vars, renderV2(svc, p, vars["p"]), true), nil
}

// LocationParent is "projects/{p}/locations/{l}" as the request names it.
func LocationParent(vars map[string]string) string {
	return "projects/" + vars["p"] + "/locations/" + vars["l"]
}

// ProjectIDOr is p's id, or ref when the project is unknown.
func ProjectIDOr(p *model.Project, ref string) string {
	if p != nil {
		return p.ID
	}
	return ref
}

// runFieldMask parses an updateMask of service fields (camelCase or
// snake_case), keeping only the top-level field names.
func runFieldMask(mask string) map[string]bool {
	out := map[string]bool{}
	for _, f := range strings.Split(mask, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		top, _, _ := strings.Cut(f, ".")
		out[snakeToCamel(top)] = true
	}
	return out
}

func snakeToCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func runV2Patch(e *core.Server, r *http.Request, vars map[string]string, body *runV2Body) (any, *httpx.Error) {
	p, aerr := RunScopeLocked(e, vars, false)
	if aerr != nil {
		return nil, aerr
	}
	svc := serviceLocked(e, p, vars)
	if svc == nil && p != nil && boolParam(r, "allowMissing") {
		return runV2PatchCreateLocked(e, r, vars, p, body)
	}
	principal, aerr := authorizeService(e, r, "run.services.update", vars, p, svc)
	if aerr != nil {
		return nil, aerr
	}
	if body.Etag != "" && body.Etag != svc.Etag {
		return nil, httpx.ErrAborted("The etag %s does not match the current etag of service %s: it was changed concurrently. Read it again and retry.", body.Etag, vars["s"])
	}
	spec, aerr := body.spec()
	if aerr != nil {
		return nil, aerr
	}
	mask := r.URL.Query().Get("updateMask")
	all := mask == "" || mask == "*"
	set := runFieldMask(mask)
	want := func(f string) bool { return all || set[f] }
	next := *svc
	fields := []struct {
		name string
		set  func()
	}{
		{"description", func() { next.Description = spec.Description }},
		{"labels", func() { next.Labels = spec.Labels }},
		{"annotations", func() { next.Annotations = spec.Annotations }},
		{"ingress", func() { next.Ingress = cmp.Or(spec.Ingress, model.IngressAll) }},
		{"invokerIamDisabled", func() { next.InvokerIAMDisabled = spec.InvokerIAMDisabled }},
		{"customAudiences", func() { next.CustomAudiences = spec.CustomAudiences }},
		{"defaultUriDisabled", func() { next.DefaultURIDisabled = spec.DefaultURIDisabled }},
		{"template", func() {
			if spec.Template != nil || !all {
				next.Template = spec.Template
			}
		}},
	}
	for _, f := range fields {
		if want(f.name) {
			f.set()
		}
	}
	if boolParam(r, "validateOnly") {
		return newOperationLocked(e, p, vars, renderV2(&next, p, vars["p"]), false), nil
	}
	next.Generation++
	next.UpdateTime = e.Opts.Now().UTC()
	next.LastModifier = core.PrincipalEmail(principal)
	next.Etag = core.NewResourceEtag()
	*svc = next
	return newOperationLocked(e, p, vars, renderV2(svc, p, vars["p"]), true), nil
}

// runV2PatchCreateLocked is a patch with allowMissing of a service that
// does not exist (in a project that does): it creates the service.
func runV2PatchCreateLocked(e *core.Server, r *http.Request, vars map[string]string, p *model.Project, body *runV2Body) (any, *httpx.Error) {
	principal, aerr := e.AuthorizeResource(r, "run.services.create", LocationParent(vars), p.ID, nil)
	if aerr != nil {
		return nil, aerr
	}
	if !model.RunServiceIDRe.MatchString(vars["s"]) {
		return nil, httpx.ErrInvalid("Invalid service name %q.", vars["s"])
	}
	spec, aerr := body.spec()
	if aerr != nil {
		return nil, aerr
	}
	svc := e.NewServiceLocked(p, vars["l"], vars["s"], spec, principal)
	return newOperationLocked(e, p, vars, renderV2(svc, p, vars["p"]), true), nil
}

func runV2Delete(e *core.Server, r *http.Request, vars map[string]string, _ *core.NoBody) (any, *httpx.Error) {
	p, svc, aerr := authorizedServiceLocked(e, r, "run.services.delete", vars)
	if aerr != nil {
		return nil, aerr
	}
	if et := r.URL.Query().Get("etag"); et != "" && et != svc.Etag {
		return nil, httpx.ErrAborted("The etag %s does not match the current etag of service %s.", et, vars["s"])
	}
	rendered := renderV2(svc, p, vars["p"])
	if boolParam(r, "validateOnly") {
		return newOperationLocked(e, p, vars, rendered, false), nil
	}
	key := model.ServiceKey(p.ID, vars["l"], vars["s"])
	e.CloseServiceListenerLocked(key)
	delete(e.St.Services, key)
	return newOperationLocked(e, p, vars, rendered, true), nil
}

// newOperationLocked records a finished long-running operation whose
// response (and metadata) is the service; stored unless validateOnly.
func newOperationLocked(e *core.Server, p *model.Project, vars map[string]string, svc *runV2Service, store bool) *model.Operation {
	name := LocationParent(vars) + "/operations/" + core.NewUUID()
	op := &model.Operation{
		Name:     name,
		Done:     true,
		Metadata: ToMap(svc, "type.googleapis.com/google.cloud.run.v2.Service"),
		Response: ToMap(svc, "type.googleapis.com/google.cloud.run.v2.Service"),
	}
	if store {
		e.St.Operations[OperationKey(p.ID, vars["l"], name)] = op
	}
	return op
}

// OperationKey stores operations under the project id whatever the caller
// used, so an operation named with the number is found by id and back.
func OperationKey(projectID, location, name string) string {
	return "projects/" + projectID + "/locations/" + location + "/operations/" + name[strings.LastIndexByte(name, '/')+1:]
}

func runGetOperation(e *core.Server, w http.ResponseWriter, r *http.Request, vars map[string]string) {
	e.Mu.Lock()
	defer e.Mu.Unlock()
	p := e.ProjectLocked(vars["p"])
	perm := "run.operations.get"
	var op *model.Operation
	if p != nil {
		op = e.St.Operations[OperationKey(p.ID, vars["l"], vars["op"])]
	}
	if op != nil {
		if t, _ := op.Response["@type"].(string); strings.Contains(t, "cloud.functions") {
			perm = "cloudfunctions.functions.get"
		}
	}
	if _, aerr := e.AuthorizeResource(r, perm, LocationParent(vars)+"/operations/"+vars["op"], ProjectIDOr(p, vars["p"]), nil); aerr != nil {
		httpx.WriteError(w, aerr)
		return
	}
	if op == nil {
		httpx.WriteError(w, httpx.ErrNotFound("Operation projects/%s/locations/%s/operations/%s not found.", vars["p"], vars["l"], vars["op"]))
		return
	}
	out := *op
	out.Name = LocationParent(vars) + "/operations/" + vars["op"]
	httpx.WriteJSON(w, http.StatusOK, &out)
}

// ---- IAM on services (v2 and v1 share these handlers) ----

// serviceIAM is the lookup the shared IAM handlers call (with e.mu held).
func serviceIAM(e *core.Server, vars map[string]string) func() (*core.IAMResource, *httpx.Error) {
	return func() (*core.IAMResource, *httpx.Error) {
		p, aerr := RunScopeLocked(e, vars, false)
		if aerr != nil {
			return nil, aerr
		}
		svc := serviceLocked(e, p, vars)
		if svc == nil {
			return nil, errServiceNotFound(vars)
		}
		return &core.IAMResource{
			Name:          serviceResource(vars),
			ProjectID:     p.ID,
			Policy:        &svc.Policy,
			GetPermission: "run.services.getIamPolicy",
			SetPermission: "run.services.setIamPolicy",
		}, nil
	}
}

// serviceFinder finds the service a request names and checks perm on it
// (authorizedServiceLocked for the v2 and v1 paths, knativeServiceLocked
// for Knative namespaces). Called with e.Mu held.
type serviceFinder func(e *core.Server, r *http.Request, perm string, vars map[string]string) (*model.Project, *model.Service, *httpx.Error)

// onService serves a method on one Cloud Run service, found by find and
// checked for perm, with the answer do returns (see core.Serve). The v2,
// v1 and Knative surfaces share it; only finding and rendering differ.
func onService(e *core.Server, perm string, find serviceFinder, save bool, do func(e *core.Server, v map[string]string, p *model.Project, svc *model.Service) any) httpx.HandlerFunc {
	return core.Serve(e, save, func(r *http.Request, v map[string]string, _ *core.NoBody) (any, *httpx.Error) {
		p, svc, aerr := find(e, r, perm, v)
		if aerr != nil {
			return nil, aerr
		}
		return do(e, v, p, svc), nil
	})
}

// renderV2Get answers a v2 get: the service as the caller named its project.
func renderV2Get(_ *core.Server, v map[string]string, p *model.Project, svc *model.Service) any {
	return renderV2(svc, p, v["p"])
}

// renderKnativeGet answers a v1 or Knative get.
func renderKnativeGet(_ *core.Server, _ map[string]string, p *model.Project, svc *model.Service) any {
	return renderKnative(svc, p)
}

// serveRun adapts a Run v2 method that changes a service: it answers with
// the operation the method returns, once state is saved (see core.Serve).
func serveRun[B any](e *core.Server, m func(e *core.Server, r *http.Request, vars map[string]string, body *B) (any, *httpx.Error)) httpx.HandlerFunc {
	return core.Serve(e, true, func(r *http.Request, v map[string]string, body *B) (any, *httpx.Error) {
		return m(e, r, v, body)
	})
}
