package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/api/option"
	runv1 "google.golang.org/api/run/v1"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

func rtRunV1(t *testing.T, e *core.Server, endpoint string, hc *http.Client) *runv1.APIService {
	t.Helper()
	opts := []option.ClientOption{option.WithEndpoint(endpoint)}
	if hc != nil {
		opts = append(opts, option.WithHTTPClient(hc))
	} else {
		opts = append(opts, withToken(e, e.BootstrapToken())[1])
	}
	s, err := runv1.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunV1IamPolicySharedWithV2(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	v1 := rtRunV1(t, e, e.URL()+"/", nil)
	name := rtParent + "/services/private-api"
	pol, err := v1.Projects.Locations.Services.GetIamPolicy(name).OptionsRequestedPolicyVersion(3).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(pol.Bindings) != 1 || pol.Etag == "" {
		t.Fatalf("v1 policy = %+v", pol)
	}
	// gcloud add-iam-policy-binding: the GET, then a set with the etag and version 3.
	pol.Bindings = append(pol.Bindings, &runv1.Binding{Role: "roles/run.invoker", Members: []string{"serviceAccount:stranger@demo-project.iam.gserviceaccount.com"}})
	pol.Version = 3
	if _, err := v1.Projects.Locations.Services.SetIamPolicy(name, &runv1.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = v1.Projects.Locations.Services.SetIamPolicy(name, &runv1.SetIamPolicyRequest{Policy: pol}).Do()
	rtCode(t, err, http.StatusConflict)
	// The v2 view is the same policy.
	v2pol, err := rtRun(t, e, e.BootstrapToken()).Projects.Locations.Services.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustJSON(v2pol), "stranger@") {
		t.Errorf("v2 does not see the v1 change: %s", mustJSON(v2pol))
	}
	tp, err := v1.Projects.Locations.Services.TestIamPermissions(name, &runv1.TestIamPermissionsRequest{Permissions: []string{"run.services.get"}}).Do()
	if err != nil || !slices.Equal(tp.Permissions, []string{"run.services.get"}) {
		t.Errorf("v1 testIamPermissions = %+v %v", tp, err)
	}
	if c := e.Calls(); c["run.v1.services.getIamPolicy"] != 1 || c["run.v1.services.setIamPolicy"] != 2 {
		t.Errorf("counters = %v", c)
	}
}

func TestRunV1ListAllRegionsIsKnative(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	list, err := rtRunV1(t, e, e.URL()+"/", nil).Projects.Locations.Services.List("projects/demo-project/locations/-").Do()
	if err != nil {
		t.Fatal(err)
	}
	if list.Kind != "ServiceList" || list.ApiVersion != "serving.knative.dev/v1" || len(list.Items) != 11 {
		t.Fatalf("list: kind %q apiVersion %q, %d items", list.Kind, list.ApiVersion, len(list.Items))
	}
	var eu *runv1.Service
	for _, it := range list.Items {
		if it.Metadata.Name == "eu-api" {
			eu = it
		}
	}
	if eu == nil || eu.Metadata.Labels["cloud.googleapis.com/location"] != "europe-west1" {
		t.Fatalf("eu-api missing or without its location label")
	}
	ready := false
	for _, c := range eu.Status.Conditions {
		ready = ready || (c.Type == "Ready" && c.Status == "True")
	}
	var urls []string
	_ = json.Unmarshal([]byte(eu.Metadata.Annotations["run.googleapis.com/urls"]), &urls)
	if !ready || eu.Status.Url == "" || eu.Status.Address.Url != eu.Status.Url || len(urls) != 2 || urls[0] != eu.Status.Url ||
		eu.Metadata.Annotations["serving.knative.dev/lastModifier"] == "" || eu.Metadata.CreationTimestamp == "" {
		t.Errorf("eu-api rendering: %s", mustJSON(eu))
	}
	one, err := rtRunV1(t, e, e.URL()+"/", nil).Projects.Locations.Services.List(rtParent).Do()
	if err != nil || len(one.Items) != 10 {
		t.Errorf("us-central1 list: %d items, %v", len(one.Items), err)
	}
}

func TestRunKnativeRegionalSurfaceThroughProxy(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	u, _ := url.Parse(e.URL())
	// gcloud derives "{region}-{override host}" and reaches it through the
	// emulator as an HTTP proxy (absolute-form requests).
	hc := &http.Client{Transport: &bearerTransport{token: e.BootstrapToken(), base: &http.Transport{Proxy: http.ProxyURL(u)}}}
	regional := "http://us-central1-run.emu:" + u.Port() + "/"
	kn := rtRunV1(t, e, regional, hc)

	// One rendering of the stored service: patch it through v2 first.
	rs := rtRun(t, e, e.BootstrapToken())
	if _, err := rs.Projects.Locations.Services.Patch(rtParent+"/services/private-api", &run.GoogleCloudRunV2Service{
		InvokerIamDisabled: true, Ingress: "INGRESS_TRAFFIC_INTERNAL_ONLY",
	}).UpdateMask("invokerIamDisabled,ingress").Do(); err != nil {
		t.Fatal(err)
	}
	v2, _ := rs.Projects.Locations.Services.Get(rtParent + "/services/private-api").Do()

	svc, err := kn.Namespaces.Services.Get("namespaces/demo-project/services/private-api").Do()
	if err != nil {
		t.Fatal(err)
	}
	ann := svc.Metadata.Annotations
	if svc.Metadata.Uid != v2.Uid || svc.Metadata.Generation != 2 || svc.Status.ObservedGeneration != 2 || svc.Status.Url != v2.Uri ||
		ann["run.googleapis.com/invoker-iam-disabled"] != "true" || ann["run.googleapis.com/ingress"] != "internal" ||
		ann["run.googleapis.com/custom-audiences"] != `["https://private.example.com"]` || svc.Metadata.Namespace != "123456789012" {
		t.Errorf("knative view disagrees with v2: %s", mustJSON(svc))
	}
	// The region comes from the host: europe-west1 holds eu-api only.
	_, err = kn.Namespaces.Services.Get("namespaces/demo-project/services/eu-api").Do()
	rtCode(t, err, http.StatusNotFound)
	eu := rtRunV1(t, e, "http://europe-west1-run.emu:"+u.Port()+"/", hc)
	if _, err := eu.Namespaces.Services.Get("namespaces/123456789012/services/eu-api").Do(); err != nil {
		t.Errorf("eu-api through the europe-west1 host (namespace = number): %v", err)
	}
	list, err := eu.Namespaces.Services.List("namespaces/demo-project").Do()
	if err != nil || len(list.Items) != 1 || list.Items[0].Metadata.Name != "eu-api" {
		t.Errorf("regional list: %v %v", mustJSON(list), err)
	}
	// Unknown token on the regional surface: 401.
	bad := &http.Client{Transport: &bearerTransport{token: "nope", base: &http.Transport{Proxy: http.ProxyURL(u)}}}
	_, err = rtRunV1(t, e, regional, bad).Namespaces.Services.Get("namespaces/demo-project/services/private-api").Do()
	rtCode(t, err, http.StatusUnauthorized)
	// Delete through Knative removes the one stored service.
	if _, err := kn.Namespaces.Services.Delete("namespaces/demo-project/services/teapot-api").Do(); err != nil {
		t.Fatal(err)
	}
	_, err = rs.Projects.Locations.Services.Get(rtParent + "/services/teapot-api").Do()
	rtCode(t, err, http.StatusNotFound)
}
