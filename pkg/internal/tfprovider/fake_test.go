package tfprovider

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeGoogle is a small stand-in for the Google APIs this provider calls,
// serving the shapes of the emulator contract: IAM v1 service accounts and
// their policies, Resource Manager v1 projects, Run v2 services and their
// policies, Cloud Functions v2 functions. It logs every request and can
// inject failures.
type fakeGoogle struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	project  string
	number   string
	accounts map[string]map[string]any // email -> service account
	policies map[string]*fakePolicy    // resource name -> policy
	services map[string]map[string]any // run v2 name -> service
	funcs    map[string]map[string]any // function name -> function
	log      []fakeRequest
	faults   []fakeFault
	etagSeq  int
	// conflictsLeft makes that many setIamPolicy calls fail with 409.
	conflictsLeft int
	// token is the bearer token required on every request ("" = any).
	token string
	// dropSets makes setIamPolicy answer 200 without storing anything.
	dropSets bool
}

type fakePolicy struct {
	Version      int              `json:"version,omitempty"`
	Etag         string           `json:"etag,omitempty"`
	Bindings     []map[string]any `json:"bindings,omitempty"`
	AuditConfigs []map[string]any `json:"auditConfigs,omitempty"`
}

type fakeRequest struct {
	Method, Path, Query, Body string
}

func (r fakeRequest) String() string { return r.Method + " " + r.Path }

// fakeFault fails the next requests matching method and path suffix.
type fakeFault struct {
	method, suffix string
	times          int
	status         int
	header         map[string]string
}

func newFakeGoogle(t *testing.T) *fakeGoogle {
	f := &fakeGoogle{
		t:        t,
		project:  "proj-1",
		number:   "123456789012",
		accounts: map[string]map[string]any{},
		policies: map[string]*fakePolicy{},
		services: map[string]map[string]any{},
		funcs:    map[string]map[string]any{},
	}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// addService registers a Run v2 service.
func (f *fakeGoogle) addService(location, name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	full := fmt.Sprintf("projects/%s/locations/%s/services/%s", f.project, location, name)
	f.services[full] = map[string]any{
		"name":               full,
		"uid":                "2a9c3a0e-5a2b-4c1f-9d64-1f4b0a7e9c01",
		"generation":         "3",
		"observedGeneration": "3",
		"uri":                "https://" + name + "-abcdefghij-uc.a.run.app",
		"urls":               []any{"https://" + name + "-abcdefghij-uc.a.run.app", "https://" + name + "-" + f.number + "." + location + ".run.app"},
		"ingress":            "INGRESS_TRAFFIC_ALL",
		"labels":             map[string]any{"team": "a"},
		"launchStage":        "GA",
		"template": map[string]any{
			"serviceAccount":                "runner@" + f.project + ".iam.gserviceaccount.com",
			"maxInstanceRequestConcurrency": 80,
			"containers":                    []any{map[string]any{"image": "us-docker.pkg.dev/cloudrun/container/hello", "ports": []any{map[string]any{"containerPort": 8080}}}},
			"scaling":                       map[string]any{"maxInstanceCount": 100},
		},
		"terminalCondition": map[string]any{"type": "Ready", "state": "CONDITION_SUCCEEDED"},
	}
	return full
}

func (f *fakeGoogle) addFunction(location, name, serviceName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	full := fmt.Sprintf("projects/%s/locations/%s/functions/%s", f.project, location, name)
	f.funcs[full] = map[string]any{
		"name":        full,
		"state":       "ACTIVE",
		"environment": "GEN_2",
		"url":         "https://" + location + "-" + f.project + ".cloudfunctions.net/" + name,
		"serviceConfig": map[string]any{
			"service":        fmt.Sprintf("projects/%s/locations/%s/services/%s", f.project, location, serviceName),
			"uri":            "https://" + serviceName + "-abcdefghij-uc.a.run.app",
			"timeoutSeconds": 60,
		},
	}
}

// fail makes the next n requests with method and a path ending in suffix
// answer status.
func (f *fakeGoogle) fail(method, suffix string, n, status int, header map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fakeFault{method: method, suffix: suffix, times: n, status: status, header: header})
}

// requests returns "METHOD path" for every request so far.
func (f *fakeGoogle) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.log))
	for i, r := range f.log {
		out[i] = r.String()
	}
	return out
}

func (f *fakeGoogle) requestLog() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.log...)
}

func (f *fakeGoogle) resetLog() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = nil
}

func (f *fakeGoogle) policy(name string) *fakePolicy {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.policies[name]
	if p == nil {
		return &fakePolicy{}
	}
	c := *p
	return &c
}

func (f *fakeGoogle) nextEtag() string {
	f.etagSeq++
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("etag%04d", f.etagSeq)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, status, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

var statusNames = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE"}

func (f *fakeGoogle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fakeRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body)})

	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		writeErr(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	for i := range f.faults {
		ft := &f.faults[i]
		if ft.times > 0 && ft.method == r.Method && strings.HasSuffix(r.URL.Path, ft.suffix) {
			ft.times--
			for k, v := range ft.header {
				w.Header().Set(k, v)
			}
			writeErr(w, ft.status, statusNames[ft.status], fmt.Sprintf("injected %d", ft.status))
			return
		}
	}

	path := r.URL.Path
	var req map[string]any
	_ = json.Unmarshal(body, &req)

	switch {
	// ---- IAM policies on service accounts, run services, projects ----
	case strings.HasSuffix(path, ":getIamPolicy"):
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(path, "/v1/"), "/v2/"), ":getIamPolicy")
		if !f.exists(name) {
			writeErr(w, 404, "NOT_FOUND", fmt.Sprintf("Resource '%s' was not found", name))
			return
		}
		p := f.policies[name]
		if p == nil {
			p = &fakePolicy{Version: 1, Etag: "ACAB"}
			f.policies[name] = p
		}
		writeJSON(w, 200, p)
	case strings.HasSuffix(path, ":setIamPolicy"):
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(path, "/v1/"), "/v2/"), ":setIamPolicy")
		if !f.exists(name) {
			writeErr(w, 404, "NOT_FOUND", fmt.Sprintf("Resource '%s' was not found", name))
			return
		}
		if f.conflictsLeft > 0 {
			f.conflictsLeft--
			writeErr(w, 409, "ABORTED", "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
			return
		}
		var in struct {
			Policy fakePolicy `json:"policy"`
		}
		_ = json.Unmarshal(body, &in)
		cur := f.policies[name]
		curEtag := "ACAB"
		if cur != nil {
			curEtag = cur.Etag
		}
		if in.Policy.Etag != "" && in.Policy.Etag != curEtag {
			writeErr(w, 409, "ABORTED", "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.")
			return
		}
		np := in.Policy
		np.Etag = f.nextEtag()
		if f.dropSets {
			writeJSON(w, 200, np)
			return
		}
		if np.Version == 0 {
			np.Version = 1
		}
		f.policies[name] = &np
		writeJSON(w, 200, np)

	// ---- IAM v1 service accounts ----
	case strings.HasPrefix(path, "/v1/projects/") && strings.HasSuffix(path, "/serviceAccounts") && r.Method == "POST":
		project := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/projects/"), "/serviceAccounts")
		aid, _ := req["accountId"].(string)
		email := aid + "@" + project + ".iam.gserviceaccount.com"
		if _, ok := f.accounts[email]; ok {
			writeErr(w, 409, "ALREADY_EXISTS", "Service account "+aid+" already exists within project projects/"+project+".")
			return
		}
		sa := map[string]any{
			"name":           "projects/" + project + "/serviceAccounts/" + email,
			"projectId":      project,
			"uniqueId":       fmt.Sprintf("1%020d", len(f.accounts)+1),
			"email":          email,
			"oauth2ClientId": fmt.Sprintf("1%020d", len(f.accounts)+1),
			"etag":           "MDEwMjE5MjA=",
		}
		if in, ok := req["serviceAccount"].(map[string]any); ok {
			for _, k := range []string{"displayName", "description"} {
				if v, ok := in[k].(string); ok && v != "" {
					sa[k] = v
				}
			}
		}
		f.accounts[email] = sa
		writeJSON(w, 200, sa)
	case strings.Contains(path, "/serviceAccounts/"):
		rest := path[strings.Index(path, "/serviceAccounts/")+len("/serviceAccounts/"):]
		email, verb, _ := strings.Cut(rest, ":")
		sa, ok := f.accounts[email]
		if !ok {
			writeErr(w, 404, "NOT_FOUND", "Unknown service account")
			return
		}
		switch {
		case verb == "enable" || verb == "disable":
			if verb == "disable" {
				sa["disabled"] = true
			} else {
				delete(sa, "disabled")
			}
			writeJSON(w, 200, map[string]any{})
		case r.Method == "GET":
			writeJSON(w, 200, sa)
		case r.Method == "PATCH":
			in, _ := req["serviceAccount"].(map[string]any)
			mask, _ := req["updateMask"].(string)
			for _, m := range strings.Split(mask, ",") {
				switch m {
				case "display_name", "displayName":
					sa["displayName"] = in["displayName"]
				case "description":
					sa["description"] = in["description"]
				}
			}
			writeJSON(w, 200, sa)
		case r.Method == "DELETE":
			delete(f.accounts, email)
			writeJSON(w, 200, map[string]any{})
		default:
			writeErr(w, 400, "INVALID_ARGUMENT", "unsupported")
		}

	// ---- Resource Manager v1 ----
	case r.Method == "GET" && path == "/v1/projects/"+f.project:
		writeJSON(w, 200, map[string]any{"projectId": f.project, "projectNumber": f.number, "name": "Project One", "lifecycleState": "ACTIVE", "labels": map[string]any{"env": "test"}, "parent": map[string]any{"type": "organization", "id": "4242"}})

	// ---- Run v2 and Cloud Functions v2 ----
	case r.Method == "GET" && strings.HasPrefix(path, "/v2/") && strings.Contains(path, "/services/"):
		s, ok := f.services[strings.TrimPrefix(path, "/v2/")]
		if !ok {
			writeErr(w, 404, "NOT_FOUND", "Resource '"+path+"' was not found")
			return
		}
		writeJSON(w, 200, s)
	case r.Method == "GET" && strings.HasPrefix(path, "/v2/") && strings.Contains(path, "/functions/"):
		fn, ok := f.funcs[strings.TrimPrefix(path, "/v2/")]
		if !ok {
			writeErr(w, 404, "NOT_FOUND", "Resource '"+path+"' was not found")
			return
		}
		writeJSON(w, 200, fn)
	default:
		writeErr(w, 404, "NOT_FOUND", "no route for "+r.Method+" "+path)
	}
}

// exists reports whether a policy-bearing resource exists (called locked).
func (f *fakeGoogle) exists(name string) bool {
	if name == "projects/"+f.project {
		return true
	}
	if _, ok := f.services[name]; ok {
		return true
	}
	if i := strings.Index(name, "/serviceAccounts/"); i >= 0 {
		_, ok := f.accounts[name[i+len("/serviceAccounts/"):]]
		return ok
	}
	return false
}
