package server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	functions "google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

func rtFunctions(t *testing.T, e *core.Server, token string) *functions.Service {
	t.Helper()
	s, err := functions.NewService(context.Background(), withToken(e, token)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rtRunWithKeyOpts are client options authenticating with a key file
// (the client exchanges it at the emulator's token endpoint).
func rtRunWithKeyOpts(e *core.Server, key []byte) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(e.URL() + "/"), option.WithAuthCredentialsJSON(option.ServiceAccount, key)}
}

func TestFunctionsV2GetListFromSeed(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	fs := rtFunctions(t, e, e.BootstrapToken())
	list, err := fs.Projects.Locations.Functions.List(rtParent).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Functions) != 2 {
		t.Fatalf("functions = %d, want 2", len(list.Functions))
	}
	hello, err := fs.Projects.Locations.Functions.Get(rtParent + "/functions/hello-fn").Do()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := rtRun(t, e, e.BootstrapToken()).Projects.Locations.Services.Get(rtParent + "/services/hello-fn").Do()
	if err != nil {
		t.Fatalf("backing service: %v", err)
	}
	if hello.Environment != "GEN_2" || hello.State != "ACTIVE" || hello.ServiceConfig == nil ||
		hello.ServiceConfig.Service != rtParent+"/services/hello-fn" || hello.ServiceConfig.Uri != svc.Uri ||
		hello.Url != svc.Uri || hello.EventTrigger != nil || hello.BuildConfig.Runtime != "go125" {
		t.Errorf("hello-fn = %s", mustJSON(hello))
	}
	ev, err := fs.Projects.Locations.Functions.Get(rtParent + "/functions/on-event").Do()
	if err != nil {
		t.Fatal(err)
	}
	if ev.EventTrigger == nil || ev.EventTrigger.EventType != "google.cloud.pubsub.topic.v1.messagePublished" ||
		ev.EventTrigger.ServiceAccountEmail != "caller-one@demo-project.iam.gserviceaccount.com" || ev.EventTrigger.Trigger == "" {
		t.Errorf("on-event trigger = %s", mustJSON(ev.EventTrigger))
	}
	// The event-driven function's service is private: the trigger identity
	// may invoke it, an anonymous caller may not.
	uri := ev.ServiceConfig.Uri
	status, body, _ := rtCall(t, uri, nil)
	rtWant(t, "anonymous call to an event-driven function", status, 403, body)
	status, body, _ = rtCall(t, uri, bearer(rtIDToken(t, rtKey(t, e, "caller-one"), uri)))
	rtWant(t, "the trigger identity", status, 200, body)
	status, body, _ = rtCall(t, uri, bearer(rtIDToken(t, rtKey(t, e, "stranger"), uri)))
	rtWant(t, "another caller", status, 403, body)

	_, err = fs.Projects.Locations.Functions.Get(rtParent + "/functions/nope").Do()
	rtCode(t, err, http.StatusNotFound)
	all, err := fs.Projects.Locations.Functions.List("projects/123456789012/locations/-").Do()
	if err != nil || len(all.Functions) != 2 || all.Functions[0].Name != "projects/123456789012/locations/us-central1/functions/hello-fn" {
		t.Errorf("list by number across locations: %s %v", mustJSON(all), err)
	}
	_, err = rtFunctions(t, e, "bad").Projects.Locations.Functions.List(rtParent).Do()
	rtCode(t, err, http.StatusUnauthorized)
	strangerFns, err := functions.NewService(context.Background(), rtRunWithKeyOpts(e, rtKey(t, e, "stranger"))...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = strangerFns.Projects.Locations.Functions.Get(rtParent + "/functions/hello-fn").Do()
	rtCode(t, err, http.StatusForbidden)
}

func TestFunctionsV2CreateMakesItsService(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	fs := rtFunctions(t, e, e.BootstrapToken())
	op, err := fs.Projects.Locations.Functions.Create(rtParent, &functions.Function{
		Description:  "resize",
		BuildConfig:  &functions.BuildConfig{Runtime: "go125", EntryPoint: "Resize"},
		EventTrigger: &functions.EventTrigger{EventType: "google.cloud.storage.object.v1.finalized", ServiceAccountEmail: "stranger@demo-project.iam.gserviceaccount.com"},
	}).FunctionId("resize").Do()
	if err != nil {
		t.Fatal(err)
	}
	if !op.Done {
		t.Fatalf("operation not done: %+v", op)
	}
	var fn functions.Function
	if err := json.Unmarshal(op.Response, &fn); err != nil || fn.ServiceConfig == nil {
		t.Fatalf("operation response: %v %s", err, op.Response)
	}
	got, err := fs.Projects.Locations.Operations.Get(op.Name).Do()
	if err != nil || !got.Done {
		t.Fatalf("operations.get: %v %v", got, err)
	}
	rs := rtRun(t, e, e.BootstrapToken())
	svc, err := rs.Projects.Locations.Services.Get(fn.ServiceConfig.Service).Do()
	if err != nil {
		t.Fatalf("backing service %s: %v", fn.ServiceConfig.Service, err)
	}
	if svc.Uri != fn.ServiceConfig.Uri {
		t.Errorf("serviceConfig.uri %s != service uri %s", fn.ServiceConfig.Uri, svc.Uri)
	}
	pol, err := rs.Projects.Locations.Services.GetIamPolicy(fn.ServiceConfig.Service).Do()
	if err != nil || mustJSON(pol.Bindings) != `[{"members":["serviceAccount:stranger@demo-project.iam.gserviceaccount.com"],"role":"roles/run.invoker"}]` {
		t.Errorf("trigger identity not granted on the backing service: %s %v", mustJSON(pol), err)
	}
	_, err = fs.Projects.Locations.Functions.Create(rtParent, &functions.Function{}).FunctionId("resize").Do()
	rtCode(t, err, http.StatusConflict)
	// A function over an existing service uses it (and the service keeps its uri).
	hello, _ := rs.Projects.Locations.Services.Get(rtParent + "/services/public-api").Do()
	op, err = fs.Projects.Locations.Functions.Create(rtParent, &functions.Function{
		ServiceConfig: &functions.ServiceConfig{Service: rtParent + "/services/public-api"},
	}).FunctionId("wrap-public").Do()
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(op.Response, &fn)
	if fn.ServiceConfig.Uri != hello.Uri {
		t.Errorf("wrap-public uri = %s, want %s", fn.ServiceConfig.Uri, hello.Uri)
	}
	// An unknown trigger account is refused like production does.
	_, err = fs.Projects.Locations.Functions.Create(rtParent, &functions.Function{
		EventTrigger: &functions.EventTrigger{EventType: "x.y.z", ServiceAccountEmail: "ghost@demo-project.iam.gserviceaccount.com"},
	}).FunctionId("ghostly").Do()
	rtCode(t, err, http.StatusBadRequest)
	_, err = rs.Projects.Locations.Services.Get(rtParent + "/services/ghostly").Do()
	rtCode(t, err, http.StatusNotFound)
}
