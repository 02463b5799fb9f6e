package run

// The Cloud Run Admin API v1 surfaces gcloud uses (contract §6): service IAM
// on the global host, the all-regions list, and the regional Knative
// surface (/apis/serving.knative.dev/v1/namespaces/{ns}/services) whose
// region comes from the Host header ("{region}-run.emu:PORT", also in
// absolute-form proxy requests). v1 and v2 are two renderings of one
// stored Service.

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/httpx"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

// RegisterRunV1Routes registers the Run v1 and Knative surfaces gcloud uses
// on e (after Run v2).
func RegisterRunV1Routes(e *core.Server) {
	const svc = "/v1/projects/{p}/locations/{l}/services/"
	e.HandleIAMVerbs(svc+"{s}", "run.v1.services", func(a0 map[string]string) func() (*core.IAMResource, *httpx.Error) { return serviceIAM(e, a0) }, http.MethodGet, http.MethodPost)
	e.Router.Handle(http.MethodGet, svc+"{s}", "run.v1.services.get", onService(e, "run.services.get", authorizedServiceLocked, false, renderKnativeGet))
	e.Router.Handle(http.MethodGet, "/v1/projects/{p}/locations/{l}/services", "run.v1.services.list", knativeLister(e, func(_ *http.Request, v map[string]string) (*model.Project, map[string]string, *httpx.Error) {
		p, aerr := RunScopeLocked(e, v, true)
		return p, v, aerr
	}))

	const kn = "/apis/serving.knative.dev/v1/namespaces/{ns}/services"
	e.Router.Handle(http.MethodGet, kn+"/{s}", "run.v1.namespaces.services.get", onService(e, "run.services.get", knativeServiceLocked, false, renderKnativeGet))
	e.Router.Handle(http.MethodDelete, kn+"/{s}", "run.v1.namespaces.services.delete", onService(e, "run.services.delete", knativeServiceLocked, true, knativeDelete))
	e.Router.Handle(http.MethodGet, kn, "run.v1.namespaces.services.list", knativeLister(e, func(r *http.Request, v map[string]string) (*model.Project, map[string]string, *httpx.Error) {
		p, sv := knativeScope(e, r, v)
		return p, sv, nil
	}))
}

// renderKnative renders svc as a Knative serving.knative.dev/v1 Service.
func renderKnative(svc *model.Service, p *model.Project) map[string]any {
	labels := map[string]string{"cloud.googleapis.com/location": svc.Location}
	maps.Copy(labels, svc.Labels)
	ann := map[string]string{}
	maps.Copy(ann, svc.Annotations)
	ann["serving.knative.dev/creator"] = svc.Creator
	ann["serving.knative.dev/lastModifier"] = svc.LastModifier
	ann["run.googleapis.com/ingress"] = model.V1Ingress[svc.Ingress]
	ann["run.googleapis.com/ingress-status"] = model.V1Ingress[svc.Ingress]
	urls, _ := json.Marshal(svc.URLs)
	ann["run.googleapis.com/urls"] = string(urls)
	if svc.InvokerIAMDisabled {
		ann["run.googleapis.com/invoker-iam-disabled"] = "true"
	}
	if len(svc.CustomAudiences) > 0 {
		b, _ := json.Marshal(svc.CustomAudiences)
		ann["run.googleapis.com/custom-audiences"] = string(b)
	}
	if svc.Description != "" {
		ann["run.googleapis.com/description"] = svc.Description
	}
	if svc.DefaultURIDisabled {
		ann["run.googleapis.com/default-url-disabled"] = "true"
	}
	tmpl := runTemplate(svc, p)
	rev := RevisionName(svc)
	var containers []any
	if cs, ok := tmpl["containers"].([]any); ok {
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			kc := map[string]any{}
			if cm != nil {
				for _, k := range []string{"image", "ports", "env", "args", "command", "name"} {
					if v, ok := cm[k]; ok {
						kc[k] = v
					}
				}
				if res, ok := cm["resources"].(map[string]any); ok {
					if lim, ok := res["limits"]; ok {
						kc["resources"] = map[string]any{"limits": lim}
					}
				}
			}
			containers = append(containers, kc)
		}
	}
	ready := RFC3339(svc.UpdateTime)
	cond := func(t string) map[string]any {
		return map[string]any{"type": t, "status": "True", "lastTransitionTime": ready}
	}
	url := svc.URI
	if url == "" && len(svc.URLs) > 0 {
		url = svc.URLs[0]
	}
	return map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata": map[string]any{
			"name":              svc.Name,
			"namespace":         p.Number,
			"selfLink":          "/apis/serving.knative.dev/v1/namespaces/" + p.Number + "/services/" + svc.Name,
			"uid":               svc.UID,
			"resourceVersion":   strings.Trim(svc.Etag, `"`),
			"generation":        svc.Generation,
			"creationTimestamp": RFC3339(svc.CreateTime),
			"labels":            labels,
			"annotations":       ann,
		},
		"spec": map[string]any{
			"template": map[string]any{
				"metadata": map[string]any{
					"name":   rev,
					"labels": map[string]string{"run.googleapis.com/startupProbeType": "Default"},
				},
				"spec": map[string]any{
					"containerConcurrency": tmpl["maxInstanceRequestConcurrency"],
					"timeoutSeconds":       300,
					"serviceAccountName":   tmpl["serviceAccount"],
					"containers":           containers,
				},
			},
			"traffic": []any{map[string]any{"percent": 100, "latestRevision": true}},
		},
		"status": map[string]any{
			"observedGeneration":        svc.Generation,
			"conditions":                []any{cond("Ready"), cond("ConfigurationsReady"), cond("RoutesReady")},
			"latestReadyRevisionName":   rev,
			"latestCreatedRevisionName": rev,
			"traffic":                   []any{map[string]any{"revisionName": rev, "percent": 100, "latestRevision": true}},
			"url":                       url,
			"address":                   map[string]any{"url": url},
		},
	}
}

// knativeLister answers a v1 or Knative list: scope resolves the project
// (nil when unknown) and the location ("-" for every region); the caller
// needs run.services.list on the project; the answer is a Knative
// ServiceList.
func knativeLister(e *core.Server, scope func(r *http.Request, v map[string]string) (*model.Project, map[string]string, *httpx.Error)) httpx.HandlerFunc {
	return core.Serve(e, false, func(r *http.Request, vars map[string]string, _ *core.NoBody) (any, *httpx.Error) {
		p, v, aerr := scope(r, vars)
		if aerr != nil {
			return nil, aerr
		}
		if _, aerr := AuthorizeInProject(e, r, "run.services.list", "projects/"+v["p"], v["p"], p); aerr != nil {
			return nil, aerr
		}
		items := []map[string]any{}
		for _, svc := range InScope(e.St.Services, p.ID, v["l"]) {
			items = append(items, renderKnative(svc, p))
		}
		return map[string]any{
			"apiVersion":  "serving.knative.dev/v1",
			"kind":        "ServiceList",
			"metadata":    map[string]any{},
			"items":       items,
			"unreachable": []string{},
		}, nil
	})
}

// knativeDelete is gcloud's `run services delete`: it answers a Status.
func knativeDelete(e *core.Server, _ map[string]string, p *model.Project, svc *model.Service) any {
	key := model.ServiceKey(p.ID, svc.Location, svc.Name)
	e.CloseServiceListenerLocked(key)
	delete(e.St.Services, key)
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Status",
		"status":     "Success",
		"details":    map[string]any{"name": svc.Name, "group": "serving.knative.dev", "kind": "services", "uid": svc.UID},
	}
}

var regionalHostRe = regexp.MustCompile(`^([a-z]+(?:-[a-z]+)+[0-9]+)-`)

// requestRegion is the region of a regional request's host
// ("us-central1-run.emu:PORT" → "us-central1"); "" when the host has none.
func requestRegion(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if m := regionalHostRe.FindStringSubmatch(strings.ToLower(host)); m != nil {
		return m[1]
	}
	return ""
}

// knativeScope resolves the namespace (project id or number) and region of
// a Knative request. Without a regional host, location is "-" (lists span
// every region; a get must then be unambiguous).
func knativeScope(e *core.Server, r *http.Request, vars map[string]string) (*model.Project, map[string]string) {
	region := requestRegion(r)
	if region == "" {
		region = "-"
	}
	v := map[string]string{"p": vars["ns"], "l": region, "s": vars["s"]}
	return e.ProjectLocked(vars["ns"]), v
}

// knativeFindLocked finds the service of a Knative get/delete.
func knativeFindLocked(e *core.Server, p *model.Project, v map[string]string) (*model.Service, *httpx.Error) {
	if p == nil {
		return nil, nil
	}
	if v["l"] != "-" {
		return e.St.Services[model.ServiceKey(p.ID, v["l"], v["s"])], nil
	}
	var found *model.Service
	for _, svc := range InScope(e.St.Services, p.ID, "-") {
		if svc.Name == v["s"] {
			if found != nil {
				return nil, httpx.ErrInvalid("Service %s exists in several regions; use the regional endpoint ({region}-run.googleapis.com).", v["s"])
			}
			found = svc
		}
	}
	if found != nil {
		v["l"] = found.Location
	}
	return found, nil
}

// knativeServiceLocked finds the service of a Knative get/delete and
// checks perm on it; a missing service is Knative's not-found.
func knativeServiceLocked(e *core.Server, r *http.Request, perm string, vars map[string]string) (*model.Project, *model.Service, *httpx.Error) {
	p, v := knativeScope(e, r, vars)
	svc, aerr := knativeFindLocked(e, p, v)
	if aerr != nil {
		return nil, nil, aerr
	}
	if _, aerr := authorizeService(e, r, perm, v, p, svc); aerr != nil {
		if aerr.Code == http.StatusNotFound {
			aerr = httpx.ErrNotFound("services.serving.knative.dev \"%s\" not found", v["s"])
		}
		return nil, nil, aerr
	}
	return p, svc, nil
}
