package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/googleapi"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// ---- helpers shared by the management half's tests ----

func newTestEmulator(t testing.TB, opts core.Options) *core.Server {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// withToken are client options for the emulator's endpoint with a static token.
func withToken(e *core.Server, token string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(e.URL() + "/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})),
	}
}

func ownerIAM(t testing.TB, e *core.Server) *iam.Service {
	t.Helper()
	return iamAs(t, e, e.BootstrapToken())
}

func iamAs(t testing.TB, e *core.Server, token string) *iam.Service {
	t.Helper()
	s, err := iam.NewService(context.Background(), withToken(e, token)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ownerCRM(t *testing.T, e *core.Server) *crmv1.Service {
	t.Helper()
	s, err := crmv1.NewService(context.Background(), withToken(e, e.BootstrapToken())...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func createSA(t testing.TB, e *core.Server, accountID string) *iam.ServiceAccount {
	t.Helper()
	sa, err := ownerIAM(t, e).Projects.ServiceAccounts.Create("projects/"+e.Project(),
		&iam.CreateServiceAccountRequest{AccountId: accountID}).Do()
	if err != nil {
		t.Fatalf("create %s: %v", accountID, err)
	}
	return sa
}

// createKeyFile creates a key for the account and writes the key file.
func createKeyFile(t testing.TB, e *core.Server, email string) string {
	t.Helper()
	k, err := ownerIAM(t, e).Projects.ServiceAccounts.Keys.Create("projects/-/serviceAccounts/"+email,
		&iam.CreateServiceAccountKeyRequest{}).Do()
	if err != nil {
		t.Fatalf("keys.create: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(k.PrivateKeyData)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), strings.ReplaceAll(email, "@", "_")+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// accessTokenFor exchanges a fresh key of the account for an access token
// at the token endpoint (as a real client library does).
func accessTokenFor(t *testing.T, e *core.Server, email string) string {
	t.Helper()
	creds, err := os.ReadFile(createKeyFile(t, e, email))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := googleJWTConfig(creds)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.TokenSource(context.Background()).Token()
	if err != nil {
		t.Fatalf("token endpoint: %v", err)
	}
	return tok.AccessToken
}

// grantOnSA adds member to role in the account's policy (read-modify-write
// through the real client, as gcloud does).
func grantOnSA(t *testing.T, e *core.Server, email, role, member string) {
	t.Helper()
	s := ownerIAM(t, e)
	name := "projects/-/serviceAccounts/" + email
	p, err := s.Projects.ServiceAccounts.GetIamPolicy(name).OptionsRequestedPolicyVersion(3).Do()
	if err != nil {
		t.Fatalf("getIamPolicy: %v", err)
	}
	p.Bindings = append(p.Bindings, &iam.Binding{Role: role, Members: []string{member}})
	if _, err := s.Projects.ServiceAccounts.SetIamPolicy(name, &iam.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatalf("setIamPolicy: %v", err)
	}
}

// grantOnProject adds member to role in the project policy.
func grantOnProject(t *testing.T, e *core.Server, role, member string) {
	t.Helper()
	s := ownerCRM(t, e)
	p, err := s.Projects.GetIamPolicy(e.Project(), &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatalf("project getIamPolicy: %v", err)
	}
	p.Bindings = append(p.Bindings, &crmv1.Binding{Role: role, Members: []string{member}})
	if _, err := s.Projects.SetIamPolicy(e.Project(), &crmv1.SetIamPolicyRequest{Policy: p}).Do(); err != nil {
		t.Fatalf("project setIamPolicy: %v", err)
	}
}

func setReq(p *crmv1.Policy) *crmv1.SetIamPolicyRequest { return &crmv1.SetIamPolicyRequest{Policy: p} }

// gapiErr returns the googleapi.Error in err, failing the test if absent.
func gapiErr(t *testing.T, err error) *googleapi.Error {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		t.Fatalf("want a googleapi.Error, got %v", err)
	}
	return ge
}

func wantCode(t *testing.T, err error, code int) *googleapi.Error {
	t.Helper()
	ge := gapiErr(t, err)
	if ge.Code != code {
		t.Fatalf("code = %d, want %d (%v)", ge.Code, code, err)
	}
	return ge
}

// bearerTransport adds the caller's Authorization and rewrites Google
// hosts to the emulator (for libraries with hard-coded hosts).
type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

func clientAs(e *core.Server, token string) *http.Client {
	return &http.Client{Transport: &bearerTransport{token: token, base: e.HTTPClient().Transport}}
}

// ---- init ----

func TestInitDefaultProjectOwnedByBootstrap(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{Project: "proj-a", BootstrapPrincipal: "user:Admin@Example.com"})
	p, err := ownerCRM(t, e).Projects.GetIamPolicy("proj-a", &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Bindings) != 1 || p.Bindings[0].Role != "roles/owner" || !slices.Equal(p.Bindings[0].Members, []string{"user:admin@example.com"}) {
		t.Fatalf("default policy = %+v", p.Bindings)
	}
	proj, err := ownerCRM(t, e).Projects.Get("proj-a").Do()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[1-9][0-9]{11}$`).MatchString(itoa(proj.ProjectNumber)) || itoa(proj.ProjectNumber) != core.ProjectNumberFor("proj-a") {
		t.Fatalf("project number %d not the stable 12-digit one %s", proj.ProjectNumber, core.ProjectNumberFor("proj-a"))
	}
	e2 := newTestEmulator(t, core.Options{Project: "proj-a", ProjectNumber: "123456789012"})
	proj2, err := ownerCRM(t, e2).Projects.Get("123456789012").Do()
	if err != nil || proj2.ProjectId != "proj-a" {
		t.Fatalf("get by configured number: %v %+v", err, proj2)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func googleJWTConfig(creds []byte) (*jwt.Config, error) {
	return google.JWTConfigFromJSON(creds, "https://www.googleapis.com/auth/cloud-platform")
}

func TestInitRefusesABadBootstrapPrincipal(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"owner@example.com", "allUsers", "user:"} {
		if _, err := New(core.Options{BootstrapPrincipal: p}); err == nil || !strings.Contains(err.Error(), "bootstrap principal") {
			t.Errorf("BootstrapPrincipal %q: err = %v", p, err)
		}
	}
}

func TestInitBadStateFileIsClearError(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(core.Options{StateFile: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("New with a corrupt state file: err = %v, want one naming %s", err, path)
	}
}

// TestPersistenceRoundTrip restarts an emulator on the same address and
// state file: the account, its key (the old key file still works), the
// policies and the ID-token signing key all survive.
func TestPersistenceRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	opts := core.Options{StateFile: path, BootstrapToken: "boot-token"}
	e1, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	sa := createSA(t, e1, "persisted-sa")
	keyPath := createKeyFile(t, e1, sa.Email)
	grantOnProject(t, e1, "roles/viewer", "serviceAccount:"+sa.Email)
	grantOnSA(t, e1, sa.Email, "roles/iam.serviceAccountTokenCreator", "user:owner@example.com")
	ctx := context.Background()
	ts, err := idtoken.NewTokenSource(ctx, "https://aud.example", option.WithCredentialsFile(keyPath))
	if err != nil {
		t.Fatal(err)
	}
	oldTok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	oldPolicy, err := ownerCRM(t, e1).Projects.GetIamPolicy(e1.Project(), &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	addr := e1.Addr()
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}

	opts.Addr = addr
	e2 := newTestEmulator(t, opts)
	got, err := ownerIAM(t, e2).Projects.ServiceAccounts.Get("projects/-/serviceAccounts/" + sa.Email).Do()
	if err != nil || got.UniqueId != sa.UniqueId {
		t.Fatalf("account after restart: %v %+v", err, got)
	}
	p, err := ownerCRM(t, e2).Projects.GetIamPolicy(e2.Project(), &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil || p.Etag != oldPolicy.Etag || len(p.Bindings) != 2 {
		t.Fatalf("project policy after restart: %v %+v (etag was %s)", err, p, oldPolicy.Etag)
	}
	// The old key file (token_uri on the same address) still works.
	ts2, err := idtoken.NewTokenSource(ctx, "https://aud.example", option.WithCredentialsFile(keyPath))
	if err != nil {
		t.Fatalf("old key file after restart: %v", err)
	}
	if _, err := ts2.Token(); err != nil {
		t.Fatal(err)
	}
	// A token minted before the restart still verifies.
	v, err := idtoken.NewValidator(ctx, option.WithHTTPClient(e2.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Validate(ctx, oldTok.AccessToken, "https://aud.example"); err != nil {
		t.Fatalf("pre-restart token after restart: %v", err)
	}
	// And the account's own policy survived.
	sp, err := ownerIAM(t, e2).Projects.ServiceAccounts.GetIamPolicy("projects/-/serviceAccounts/" + sa.Email).Do()
	if err != nil || len(sp.Bindings) != 1 || sp.Bindings[0].Role != "roles/iam.serviceAccountTokenCreator" {
		t.Fatalf("account policy after restart: %v %+v", err, sp)
	}
}
