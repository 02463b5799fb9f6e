package cli

import (
	"context"
	"encoding/base64"
	"net/http"
	"sort"
	"strings"
	"testing"

	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
)

// What the tests read and change through the real Google API clients,
// outside invokerctl: invoker members, accounts, service URLs, ID tokens,
// keys, and calls to a service.

func googleOpts(emu *emulator.Emulator) []option.ClientOption {
	return testutil.EmulatorClientOptions(emu)
}

// invokers reads the roles/run.invoker members of a service through the Run
// Admin API v2, sorted.
func invokers(t *testing.T, emu *emulator.Emulator, service string) []string {
	t.Helper()
	return invokersAt(t, emu, "demo-project", "us-central1", service)
}

func invokersAt(t *testing.T, emu *emulator.Emulator, project, location, service string) []string {
	t.Helper()
	svc, err := run.NewService(context.Background(), googleOpts(emu)...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Projects.Locations.Services.GetIamPolicy("projects/" + project + "/locations/" + location + "/services/" + service).Do()
	if err != nil {
		t.Fatalf("getIamPolicy %s: %v", service, err)
	}
	var out []string
	for _, b := range p.Bindings {
		if b.Role == "roles/run.invoker" && b.Condition == nil {
			out = append(out, b.Members...)
		}
	}
	sort.Strings(out)
	return out
}

// addInvoker adds member to a service's invoker binding outside Terraform.
func addInvoker(t *testing.T, emu *emulator.Emulator, service, member string) {
	t.Helper()
	addInvokerVia(t, googleOpts(emu), service, member)
}

// addInvokerVia is addInvoker through the Run Admin API at opts.
func addInvokerVia(t *testing.T, opts []option.ClientOption, service, member string) {
	t.Helper()
	svc, err := run.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	name := "projects/demo-project/locations/us-central1/services/" + service
	p, err := svc.Projects.Locations.Services.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range p.Bindings {
		if b.Role == "roles/run.invoker" {
			b.Members = append(b.Members, member)
			found = true
		}
	}
	if !found {
		p.Bindings = append(p.Bindings, &run.GoogleIamV1Binding{Role: "roles/run.invoker", Members: []string{member}})
	}
	if _, err := svc.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatal(err)
	}
}

// accounts lists the project's service account emails through IAM v1.
func accounts(t *testing.T, emu *emulator.Emulator) []string {
	t.Helper()
	return accountsIn(t, emu, "demo-project")
}

func accountsIn(t *testing.T, emu *emulator.Emulator, project string) []string {
	t.Helper()
	return testutil.Accounts(t, emu, project)
}

// serviceURI reads a service's URL through the Run Admin API.
func proofServiceURI(t *testing.T, opts []option.ClientOption, service string) string {
	t.Helper()
	rs, err := run.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := rs.Projects.Locations.Services.Get("projects/demo-project/locations/us-central1/services/" + service).Do()
	if err != nil {
		t.Fatal(err)
	}
	return s.Uri
}

// proofMint mints an ID token for email through IAM Credentials
// generateIdToken, as the bootstrap owner.
func proofMint(t *testing.T, opts []option.ClientOption, email, audience string) string {
	t.Helper()
	ic, err := iamcredentials.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ic.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+email,
		&iamcredentials.GenerateIdTokenRequest{Audience: audience, IncludeEmail: true}).Do()
	if err != nil {
		t.Fatalf("generateIdToken for %s: %v", email, err)
	}
	return resp.Token
}

// proofKey creates a key for email through IAM v1 and writes it, 0600,
// into dir.
func proofKey(t *testing.T, opts []option.ClientOption, dir, email string) (path string, key []byte) {
	t.Helper()
	is, err := iam.NewService(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	k, err := is.Projects.ServiceAccounts.Keys.Create("projects/-/serviceAccounts/"+email, &iam.CreateServiceAccountKeyRequest{}).Do()
	if err != nil {
		t.Fatalf("creating a key for %s: %v", email, err)
	}
	key, err = base64.StdEncoding.DecodeString(k.PrivateKeyData)
	if err != nil {
		t.Fatal(err)
	}
	return proofWrite(t, dir, strings.Split(email, "@")[0]+"-key.json", string(key)), key
}

// proofCall calls url with an ID token and returns the status.
func proofCall(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
