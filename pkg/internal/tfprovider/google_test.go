package tfprovider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
)

// testGoogle is the project's emulator of the Google APIs, started in
// process for one test with one project "proj-1" (number 123456789012,
// parent organizations/4242). Tests drive the provider at it and use its
// fault knobs (injected errors, 409 etag conflicts, dropped policy writes)
// and its request log.
type testGoogle struct {
	t       *testing.T
	e       *emulator.Emulator
	project string
	number  string
	token   string // the bootstrap owner's token the provider sends
	// front, when set, is where the provider is pointed instead of the
	// emulator (a recording proxy in front of it).
	front string
}

// newTestGoogle starts an emulator whose bootstrap owner's token is token
// ("test-token" when empty).
func newTestGoogle(t *testing.T, token string) *testGoogle {
	t.Helper()
	if token == "" {
		token = "test-token"
	}
	g := &testGoogle{t: t, project: "proj-1", number: "123456789012", token: token}
	e, err := emulator.New(emulator.Options{
		Project:        g.project,
		ProjectNumber:  g.number,
		BootstrapToken: token,
		// Members such as serviceAccount:x@proj-1... name accounts the
		// tests never create.
		AllowUnknownServiceAccountMembers: true,
		Seed: &emulator.Seed{Projects: []emulator.SeedProject{{
			ID: g.project, Number: g.number, Name: "Project One",
			Parent: "organizations/4242", Labels: map[string]string{"env": "test"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	g.e = e
	return g
}

// url is the base URL the provider is pointed at.
func (g *testGoogle) url() string {
	if g.front != "" {
		return g.front
	}
	return g.e.URL()
}

// call sends one API request as the bootstrap owner and decodes the
// answer; it fails the test on a non-2xx status. A setup call made before
// anything else is taken out of the request log again, so it does not
// show in what a test asserts.
func (g *testGoogle) call(method, path string, body any) map[string]any {
	g.t.Helper()
	code, out := g.do(method, path, body)
	if code/100 != 2 {
		g.t.Fatalf("%s %s: HTTP %d %v", method, path, code, out)
	}
	return out
}

// do is call without the status check.
func (g *testGoogle) do(method, path string, body any) (int, map[string]any) {
	g.t.Helper()
	n := len(g.e.Requests())
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.e.URL()+path, rd)
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if n == 0 {
		g.e.ResetRequests()
	}
	return resp.StatusCode, out
}

// addService creates the Run v2 service name in location through the
// emulator's API, with labels and a template the data source tests read
// back, and returns its full name.
func (g *testGoogle) addService(location, name string) string {
	g.t.Helper()
	g.call("POST", fmt.Sprintf("/v2/projects/%s/locations/%s/services?serviceId=%s", g.project, location, name), map[string]any{
		"labels":  map[string]any{"team": "a"},
		"ingress": "INGRESS_TRAFFIC_ALL",
		"template": map[string]any{
			"serviceAccount":                "runner@" + g.project + ".iam.gserviceaccount.com",
			"maxInstanceRequestConcurrency": 80,
			"containers":                    []any{map[string]any{"image": "us-docker.pkg.dev/cloudrun/container/hello", "ports": []any{map[string]any{"containerPort": 8080}}}},
			"scaling":                       map[string]any{"maxInstanceCount": 100},
		},
	})
	return fmt.Sprintf("projects/%s/locations/%s/services/%s", g.project, location, name)
}

// service reads a Run v2 service as the API renders it.
func (g *testGoogle) service(full string) map[string]any {
	g.t.Helper()
	return g.call("GET", "/v2/"+full, nil)
}

// addFunction creates a Cloud Functions v2 function (backed by its own
// Run service of the same name) through the emulator's API.
func (g *testGoogle) addFunction(location, name string) {
	g.t.Helper()
	g.call("POST", fmt.Sprintf("/v2/projects/%s/locations/%s/functions?functionId=%s", g.project, location, name), map[string]any{
		"buildConfig": map[string]any{"runtime": "go125", "entryPoint": "Fn"},
	})
}

// addAccount creates a service account through the emulator's API and
// returns it as the API renders it.
func (g *testGoogle) addAccount(accountID string) map[string]any {
	g.t.Helper()
	return g.call("POST", "/v1/projects/"+g.project+"/serviceAccounts", map[string]any{"accountId": accountID})
}

// accountExists reports whether a live service account has email.
func (g *testGoogle) accountExists(email string) bool {
	g.t.Helper()
	code, _ := g.do("GET", "/v1/projects/-/serviceAccounts/"+email, nil)
	return code == http.StatusOK
}

// fail makes the next n requests with method and a path ending in suffix
// answer status (message "injected {status}"), with extra headers.
func (g *testGoogle) fail(method, suffix string, n, status int, header map[string]string) {
	g.e.InjectFault(emulator.Fault{Method: method, Path: suffix, Count: n, Status: status, Header: header, Message: fmt.Sprintf("injected %d", status)})
}

// requests returns "METHOD path" for every request so far.
func (g *testGoogle) requests() []string {
	log := g.e.Requests()
	out := make([]string, len(log))
	for i, r := range log {
		out[i] = r.String()
	}
	return out
}

func (g *testGoogle) requestLog() []emulator.Request { return g.e.Requests() }

func (g *testGoogle) resetLog() { g.e.ResetRequests() }

// testPolicy is a stored policy; bindings are maps so that marshalling
// them sorts their keys.
type testPolicy struct {
	Version  int              `json:"version,omitempty"`
	Etag     string           `json:"etag,omitempty"`
	Bindings []map[string]any `json:"bindings,omitempty"`
}

// policy is the policy stored on resource name, read past the API.
func (g *testGoogle) policy(name string) *testPolicy {
	g.t.Helper()
	b, err := g.e.IAMPolicy(name)
	if err != nil {
		g.t.Fatal(err)
	}
	var p testPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		g.t.Fatal(err)
	}
	return &p
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
