package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator"
)

// The public surface, driven with the real IAM client: a seeded account is
// listed, a fault rule reaches the client as a googleapi error, the request
// log and counters see every call, and HTTPClient reaches the emulator for
// a Google host.
func TestFacade(t *testing.T) {
	seed, err := emulator.ParseSeed([]byte("defaults: {project: facade-proj}\nserviceAccounts:\n  - accountId: facade-caller\n"), "facade.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := emulator.New(emulator.Options{Project: "facade-proj", Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	svc, err := iam.NewService(context.Background(), option.WithEndpoint(e.URL()+"/"), option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.BootstrapToken()})))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		fault    *emulator.Fault
		wantCode int
	}{
		{name: "list"},
		{name: "injected 503", fault: &emulator.Fault{Method: "GET", Path: "/serviceAccounts", Count: 1, Status: 503}, wantCode: 503},
		{name: "list after the fault"},
	}
	for _, tt := range tests {
		if tt.fault != nil {
			e.InjectFault(*tt.fault)
		}
		res, err := svc.Projects.ServiceAccounts.List("projects/facade-proj").Do()
		var gerr *googleapi.Error
		switch {
		case tt.wantCode != 0:
			if !errors.As(err, &gerr) || gerr.Code != tt.wantCode {
				t.Errorf("%s: err = %v, want HTTP %d", tt.name, err, tt.wantCode)
			}
		case err != nil:
			t.Fatalf("%s: %v", tt.name, err)
		case len(res.Accounts) != 1 || !strings.HasPrefix(res.Accounts[0].Email, "facade-caller@"):
			t.Errorf("%s: accounts = %+v", tt.name, res.Accounts)
		}
	}
	if got := e.Requests(); len(got) != 3 || got[0].String() != "GET /v1/projects/facade-proj/serviceAccounts" {
		t.Errorf("request log = %v", got)
	}
	if got := e.Calls()["iam.v1.serviceAccounts.list"]; got != 3 {
		t.Errorf("counter = %d, want 3", got)
	}
	req, _ := http.NewRequest("GET", "https://www.googleapis.com/oauth2/v3/certs", nil)
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("certs through HTTPClient: HTTP %d", resp.StatusCode)
	}
}
