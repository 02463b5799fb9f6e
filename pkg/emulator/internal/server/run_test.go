package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
	"github.com/invokerctl/invokerctl/pkg/internal/clock"
)

// ---- helpers of the run half's tests (prefixed rt to stay apart) ----

// rtSeed is the fixture most run-half tests start from.
const rtSeed = `
defaults: {project: demo-project, location: us-central1}
projects:
  - id: demo-project
    number: "123456789012"
    policy:
      - role: roles/run.invoker
        members: [group:platform@example.com]
serviceAccounts:
  - accountId: caller-one
  - accountId: stranger
  - accountId: grouped
  - accountId: custom-caller
groups:
  - name: platform@example.com
    members: [group:nested@example.com]
  - name: nested@example.com
    members: [serviceAccount:grouped@demo-project.iam.gserviceaccount.com]
customRoles:
  - roleId: invokeOnly
    title: Invoke only
    permissions: [run.routes.invoke]
services:
  - name: private-api
    customAudiences: [https://private.example.com]
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:caller-one@demo-project.iam.gserviceaccount.com]
  - name: public-api
    policy: [{role: roles/run.invoker, members: [allUsers]}]
  - name: authn-api
    policy: [{role: roles/run.invoker, members: [allAuthenticatedUsers]}]
  - name: open-api
    invokerIamDisabled: true
  - name: closed-api
    ingress: none
    policy: [{role: roles/run.invoker, members: [allUsers]}]
  - name: internal-api
    ingress: INGRESS_TRAFFIC_INTERNAL_ONLY
    policy: [{role: roles/run.invoker, members: [allUsers]}]
  - name: custom-role-api
    policy:
      - role: projects/demo-project/roles/invokeOnly
        members: [serviceAccount:custom-caller@demo-project.iam.gserviceaccount.com]
  - name: teapot-api
    responseStatus: 418
    policy: [{role: roles/run.invoker, members: [allUsers]}]
  - name: eu-api
    location: europe-west1
functions:
  - name: hello-fn
    runtime: go125
    entryPoint: Hello
  - name: on-event
    eventTrigger:
      eventType: google.cloud.pubsub.topic.v1.messagePublished
      serviceAccountEmail: caller-one@demo-project.iam.gserviceaccount.com
`

// rtStart starts an emulator seeded with rtSeed (plus opts) and a clock.
func rtStart(t *testing.T, opts core.Options) (*core.Server, *clock.Fake) {
	t.Helper()
	clock := clock.NewFake(time.Now())
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.Seed == nil && opts.SeedFile == "" {
		s, err := seed.ParseSeed([]byte(rtSeed), "rtSeed")
		if err != nil {
			t.Fatalf("fixture seed: %v", err)
		}
		opts.Seed = s
	}
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, clock
}

func rtRun(t *testing.T, e *core.Server, token string) *run.Service {
	t.Helper()
	s, err := run.NewService(context.Background(), withToken(e, token)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rtKey creates a key for the account through IAM and returns the key file.
func rtKey(t *testing.T, e *core.Server, accountID string) []byte {
	t.Helper()
	email := accountID + "@" + e.Project() + ".iam.gserviceaccount.com"
	k, err := ownerIAM(t, e).Projects.ServiceAccounts.Keys.Create("projects/-/serviceAccounts/"+email,
		&iam.CreateServiceAccountKeyRequest{}).Do()
	if err != nil {
		t.Fatalf("keys.create %s: %v", email, err)
	}
	b, err := base64.StdEncoding.DecodeString(k.PrivateKeyData)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rtIDToken mints an ID token for aud from a key file, the way a Go
// program does (idtoken → the key's token_uri).
func rtIDToken(t *testing.T, key []byte, aud string) string {
	t.Helper()
	ts, err := idtoken.NewTokenSource(context.Background(), aud, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	if err != nil {
		t.Fatalf("idtoken.NewTokenSource: %v", err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	return tok.AccessToken
}

// rtAccessToken exchanges a key for an access token through the run/v2
// client's own credential flow and returns a client using it.
func rtRunWithKey(t *testing.T, e *core.Server, key []byte) *run.Service {
	t.Helper()
	s, err := run.NewService(context.Background(), option.WithEndpoint(e.URL()+"/"),
		option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rtCode(t *testing.T, err error, code int) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want googleapi.Error %d, got %v", code, err)
	}
	if ge.Code != code {
		t.Fatalf("code = %d, want %d: %v", ge.Code, code, err)
	}
	return ge
}

// rtGetRaw GETs path with the bootstrap token and decodes the JSON body.
func rtGetRaw(t *testing.T, e *core.Server, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.BootstrapToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, b)
	}
	return m
}

const rtParent = "projects/demo-project/locations/us-central1"

// ---- Run Admin API v2 ----

func TestRunV2ServiceFieldsFromSeed(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	svc, err := rtRun(t, e, e.BootstrapToken()).Projects.Locations.Services.Get(rtParent + "/services/private-api").Do()
	if err != nil {
		t.Fatal(err)
	}
	if svc.Name != rtParent+"/services/private-api" {
		t.Errorf("name = %q", svc.Name)
	}
	if !strings.HasPrefix(svc.Uri, "http://127.0.0.1:") {
		t.Errorf("uri = %q, want the service's own loopback origin", svc.Uri)
	}
	det := "https://private-api-123456789012.us-central1.run.app"
	if !slices.Equal(svc.Urls, []string{svc.Uri, det}) {
		t.Errorf("urls = %v, want [uri %s]", svc.Urls, det)
	}
	if svc.Uid == "" || svc.Etag == "" || svc.Creator == "" || svc.LastModifier == "" {
		t.Errorf("uid/etag/creator/lastModifier missing: %+v", svc)
	}
	if svc.Generation != 1 || svc.ObservedGeneration != 1 {
		t.Errorf("generation = %d/%d", svc.Generation, svc.ObservedGeneration)
	}
	if svc.Ingress != "INGRESS_TRAFFIC_ALL" || !slices.Equal(svc.CustomAudiences, []string{"https://private.example.com"}) {
		t.Errorf("ingress/customAudiences = %q %v", svc.Ingress, svc.CustomAudiences)
	}
	if svc.TerminalCondition == nil || svc.TerminalCondition.Type != "Ready" || svc.TerminalCondition.State != "CONDITION_SUCCEEDED" {
		t.Errorf("terminalCondition = %+v", svc.TerminalCondition)
	}
	if svc.Template == nil || svc.LatestReadyRevision == "" {
		t.Errorf("template/latestReadyRevision missing")
	}
	for _, ts := range []string{svc.CreateTime, svc.UpdateTime} {
		if _, err := time.Parse(time.RFC3339, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("time %q is not RFC 3339 with Z", ts)
		}
	}
	// int64 fields are JSON strings on the wire (the provider decodes strictly).
	raw := rtGetRaw(t, e, "/v2/"+rtParent+"/services/private-api")
	if _, ok := raw["generation"].(string); !ok {
		t.Errorf("generation on the wire is %T, want a string", raw["generation"])
	}
	if _, ok := raw["observedGeneration"].(string); !ok {
		t.Errorf("observedGeneration on the wire is %T, want a string", raw["observedGeneration"])
	}

	// Project number in the path: accepted and echoed.
	byNum, err := rtRun(t, e, e.BootstrapToken()).Projects.Locations.Services.Get("projects/123456789012/locations/us-central1/services/private-api").Do()
	if err != nil {
		t.Fatal(err)
	}
	if byNum.Name != "projects/123456789012/locations/us-central1/services/private-api" || byNum.Uid != svc.Uid {
		t.Errorf("by number: name %q uid %q", byNum.Name, byNum.Uid)
	}
}

func TestRunV2CreatePatchDeleteWithOperations(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	rs := rtRun(t, e, e.BootstrapToken())
	ctx := context.Background()
	op, err := rs.Projects.Locations.Services.Create(rtParent, &run.GoogleCloudRunV2Service{
		Description: "made by a test",
		Ingress:     "INGRESS_TRAFFIC_ALL",
		Labels:      map[string]string{"team": "x"},
	}).ServiceId("new-svc").Context(ctx).Do()
	if err != nil {
		t.Fatal(err)
	}
	if !op.Done || op.Name == "" {
		t.Fatalf("operation = %+v", op)
	}
	var created run.GoogleCloudRunV2Service
	if err := json.Unmarshal(op.Response, &created); err != nil || created.Uri == "" {
		t.Fatalf("operation response: %v %s", err, op.Response)
	}
	got, err := rs.Projects.Locations.Operations.Get(op.Name).Do()
	if err != nil || !got.Done || got.Name != op.Name {
		t.Fatalf("operations.get: %+v %v", got, err)
	}
	// The new service is reachable (allUsers not granted → 403, not a dial error).
	resp, err := http.Get(created.Uri)
	if err != nil {
		t.Fatalf("new service uri: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous call to new service: %d, want 403", resp.StatusCode)
	}

	_, err = rs.Projects.Locations.Services.Create(rtParent, &run.GoogleCloudRunV2Service{}).ServiceId("new-svc").Do()
	rtCode(t, err, http.StatusConflict)
	_, err = rs.Projects.Locations.Services.Create(rtParent, &run.GoogleCloudRunV2Service{}).ServiceId("Bad_Name").Do()
	rtCode(t, err, http.StatusBadRequest)

	// Patch with a mask: only ingress changes; generation goes to 2.
	op, err = rs.Projects.Locations.Services.Patch(rtParent+"/services/new-svc", &run.GoogleCloudRunV2Service{
		Ingress:     "INGRESS_TRAFFIC_NONE",
		Description: "ignored by the mask",
	}).UpdateMask("ingress").Do()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rs.Projects.Locations.Services.Get(rtParent + "/services/new-svc").Do()
	if err != nil {
		t.Fatal(err)
	}
	if svc.Generation != 2 || svc.Ingress != "INGRESS_TRAFFIC_NONE" || svc.Description != "made by a test" || svc.Etag == created.Etag {
		t.Errorf("after patch: gen %d ingress %s desc %q etag %s→%s", svc.Generation, svc.Ingress, svc.Description, created.Etag, svc.Etag)
	}
	// Patch without a mask replaces the mutable fields; a stale etag is refused.
	_, err = rs.Projects.Locations.Services.Patch(rtParent+"/services/new-svc", &run.GoogleCloudRunV2Service{Etag: created.Etag}).Do()
	rtCode(t, err, http.StatusConflict)
	if _, err := rs.Projects.Locations.Services.Patch(rtParent+"/services/new-svc", &run.GoogleCloudRunV2Service{
		Description: "replaced", InvokerIamDisabled: true,
	}).Do(); err != nil {
		t.Fatal(err)
	}
	svc, _ = rs.Projects.Locations.Services.Get(rtParent + "/services/new-svc").Do()
	if svc.Generation != 3 || svc.Description != "replaced" || !svc.InvokerIamDisabled || svc.Ingress != "INGRESS_TRAFFIC_ALL" {
		t.Errorf("after full patch: %+v", svc)
	}

	// Delete is an operation; the service and its listener go away.
	op, err = rs.Projects.Locations.Services.Delete(rtParent + "/services/new-svc").Do()
	if err != nil || !op.Done {
		t.Fatalf("delete: %+v %v", op, err)
	}
	_, err = rs.Projects.Locations.Services.Get(rtParent + "/services/new-svc").Do()
	rtCode(t, err, http.StatusNotFound)
	if resp, err := http.Get(created.Uri); err == nil {
		resp.Body.Close()
		t.Errorf("deleted service still answers at %s: %d", created.Uri, resp.StatusCode)
	}
	_, err = rs.Projects.Locations.Services.Delete(rtParent + "/services/new-svc").Do()
	rtCode(t, err, http.StatusNotFound)
}

func TestRunV2ListPagesAndAllLocations(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	rs := rtRun(t, e, e.BootstrapToken())
	var names []string
	token := ""
	pages := 0
	for {
		call := rs.Projects.Locations.Services.List(rtParent).PageSize(3)
		if token != "" {
			call = call.PageToken(token)
		}
		resp, err := call.Do()
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(resp.Services) > 3 {
			t.Fatalf("page of %d > pageSize 3", len(resp.Services))
		}
		for _, s := range resp.Services {
			names = append(names, s.Name[strings.LastIndexByte(s.Name, '/')+1:])
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	// 8 services in us-central1 plus the two function services.
	want := []string{"authn-api", "closed-api", "custom-role-api", "hello-fn", "internal-api", "on-event", "open-api", "private-api", "public-api", "teapot-api"}
	if !slices.Equal(names, want) || pages != 4 {
		t.Errorf("paged list = %v in %d pages, want %v in 4", names, pages, want)
	}
	all, err := rs.Projects.Locations.Services.List("projects/demo-project/locations/-").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Services) != len(want)+1 || len(all.Unreachable) != 0 {
		t.Errorf("location - lists %d services (unreachable %v), want %d", len(all.Services), all.Unreachable, len(want)+1)
	}
	if !slices.ContainsFunc(all.Services, func(s *run.GoogleCloudRunV2Service) bool {
		return s.Name == "projects/demo-project/locations/europe-west1/services/eu-api"
	}) {
		t.Errorf("location - misses europe-west1/eu-api")
	}
	_, err = rs.Projects.Locations.Services.List(rtParent).PageToken("garbage").Do()
	rtCode(t, err, http.StatusBadRequest)
}

func TestRunV2IamPolicyEtagsAndPermissions(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	rs := rtRun(t, e, e.BootstrapToken())
	name := rtParent + "/services/private-api"
	// getIamPolicy is a GET without a body; the version is optional.
	pol, err := rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if pol.Etag == "" || len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/run.invoker" {
		t.Fatalf("policy = %+v", pol)
	}
	if _, err := base64.StdEncoding.DecodeString(pol.Etag); err != nil {
		t.Errorf("etag %q is not canonical base64", pol.Etag)
	}
	pol3, err := rs.Projects.Locations.Services.GetIamPolicy(name).OptionsRequestedPolicyVersion(3).Do()
	if err != nil || pol3.Etag != pol.Etag {
		t.Fatalf("with version 3: %+v %v", pol3, err)
	}
	stale := pol.Etag
	pol.Bindings[0].Members = append(pol.Bindings[0].Members, "serviceAccount:stranger@demo-project.iam.gserviceaccount.com")
	set, err := rs.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if set.Etag == stale || len(set.Bindings[0].Members) != 2 {
		t.Errorf("after set: %+v", set)
	}
	// A second writer with the old etag loses: 409 ABORTED.
	pol.Bindings[0].Members = pol.Bindings[0].Members[:1]
	_, err = rs.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do()
	ge := rtCode(t, err, http.StatusConflict)
	if !strings.Contains(string(ge.Body), "ABORTED") {
		t.Errorf("409 body lacks ABORTED: %s", ge.Body)
	}
	// updateMask given explicitly (as gcloud set-iam-policy does).
	if _, err := rs.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{
		Policy: &run.GoogleIamV1Policy{Bindings: pol.Bindings}, UpdateMask: "bindings,etag",
	}).Do(); err != nil {
		t.Fatal(err)
	}
	got, _ := rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	if len(got.Bindings) != 1 || len(got.Bindings[0].Members) != 1 {
		t.Errorf("policy after masked set: %+v", got.Bindings)
	}

	// testIamPermissions: the owner holds both; a stranger with a token holds none.
	tp, err := rs.Projects.Locations.Services.TestIamPermissions(name, &run.GoogleIamV1TestIamPermissionsRequest{
		Permissions: []string{"run.services.get", "run.routes.invoke", "run.services.setIamPolicy"},
	}).Do()
	if err != nil || len(tp.Permissions) != 3 {
		t.Errorf("owner testIamPermissions = %v %v", tp, err)
	}
	strangerRun := rtRunWithKey(t, e, rtKey(t, e, "stranger"))
	tp, err = strangerRun.Projects.Locations.Services.TestIamPermissions(name, &run.GoogleIamV1TestIamPermissionsRequest{
		Permissions: []string{"run.services.get", "run.services.setIamPolicy"},
	}).Do()
	if err != nil || len(tp.Permissions) != 0 {
		t.Errorf("stranger testIamPermissions = %v %v", tp, err)
	}
	// Without the permission: 403 with ErrorInfo; unknown token: 401.
	_, err = strangerRun.Projects.Locations.Services.GetIamPolicy(name).Do()
	ge = rtCode(t, err, http.StatusForbidden)
	if !strings.Contains(string(ge.Body), "IAM_PERMISSION_DENIED") || !strings.Contains(string(ge.Body), "run.services.getIamPolicy") {
		t.Errorf("403 body: %s", ge.Body)
	}
	_, err = strangerRun.Projects.Locations.Services.Get(name).Do()
	rtCode(t, err, http.StatusForbidden)
	_, err = strangerRun.Projects.Locations.Services.List(rtParent).Do()
	rtCode(t, err, http.StatusForbidden)
	_, err = rtRun(t, e, "not-a-token").Projects.Locations.Services.Get(name).Do()
	rtCode(t, err, http.StatusUnauthorized)
	_, err = rtRun(t, e, "not-a-token").Projects.Locations.Services.GetIamPolicy(name).Do()
	rtCode(t, err, http.StatusUnauthorized)
	// Missing service → 404 for a caller who could see it.
	_, err = rs.Projects.Locations.Services.GetIamPolicy(rtParent + "/services/nope").Do()
	rtCode(t, err, http.StatusNotFound)
	_, err = rs.Projects.Locations.Services.Get(rtParent + "/services/nope").Do()
	rtCode(t, err, http.StatusNotFound)
}

func TestRunV2InjectedFaults(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	rs := rtRun(t, e, e.BootstrapToken())
	name := rtParent + "/services/private-api"
	e.FailNext(1, http.StatusTooManyRequests)
	_, err := rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	ge := rtCode(t, err, http.StatusTooManyRequests)
	if ge.Header.Get("Retry-After") == "" || !strings.Contains(string(ge.Body), "RATE_LIMIT_EXCEEDED") {
		t.Errorf("429 lacks Retry-After or RATE_LIMIT_EXCEEDED: %v %s", ge.Header, ge.Body)
	}
	e.FailNext(1, http.StatusServiceUnavailable)
	_, err = rs.Projects.Locations.Services.Get(name).Do()
	rtCode(t, err, http.StatusServiceUnavailable)
	if _, err := rs.Projects.Locations.Services.Get(name).Do(); err != nil {
		t.Errorf("after the injected faults: %v", err)
	}
	c := e.Calls()
	if c["run.v2.services.getIamPolicy"] != 1 || c["run.v2.services.get"] != 2 {
		t.Errorf("counters = %v", c)
	}
}

func TestRunSetIamPolicyEtagIsBytes(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	rs := rtRun(t, e, e.BootstrapToken())
	name := rtParent + "/services/private-api"
	e.Mu.Lock()
	e.St.Services[name].Policy.Etag = "Ae7/MzmpVJk="
	e.Mu.Unlock()
	pol, err := rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	if err != nil || pol.Etag != "Ae7/MzmpVJk=" {
		t.Fatalf("policy %+v %v", pol, err)
	}
	// gcloud decodes the etag and re-encodes it URL-safe: the same bytes.
	pol.Etag = "Ae7_MzmpVJk="
	if _, err := rs.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatalf("URL-safe spelling of the current etag: %v", err)
	}
	pol.Etag = "Ae7_MzmpVJk="
	_, err = rs.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do()
	rtCode(t, err, http.StatusConflict)
}
