package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/compute/metadata"
	"google.golang.org/api/idtoken"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

func newMetadataEmulator(t *testing.T) (*core.Server, string) {
	t.Helper()
	e := newTestEmulator(t, core.Options{Project: "md-proj", MetadataServiceAccount: "runtime-sa@md-proj.iam.gserviceaccount.com"})
	sa := createSA(t, e, "runtime-sa")
	return e, sa.Email
}

func TestMetadataServerPaths(t *testing.T) {
	t.Parallel()
	e, email := newMetadataEmulator(t)
	grantOnProject(t, e, "roles/viewer", "serviceAccount:"+email)
	base := e.URL() + "/computeMetadata/v1/"
	aud := url.QueryEscape("https://svc-abc.a.run.app")
	get := func(path string, flavor bool) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if flavor {
			req.Header.Set("Metadata-Flavor", "Google")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	tests := []struct {
		path   string
		flavor bool
		status int
		check  func(body string) bool
	}{
		{"project/project-id", false, 403, nil},
		{"project/project-id", true, 200, func(b string) bool { return b == "md-proj" }},
		{"project/numeric-project-id", true, 200, func(b string) bool { return b == core.ProjectNumberFor("md-proj") }},
		{"instance/service-accounts/", true, 200, func(b string) bool { return b == "default/\n"+email+"/\n" }},
		{"instance/service-accounts/default/email", true, 200, func(b string) bool { return b == email }},
		{"instance/service-accounts/" + email + "/email", true, 200, func(b string) bool { return b == email }},
		{"instance/service-accounts/other@md-proj.iam.gserviceaccount.com/email", true, 404, nil},
		{"instance/service-accounts/default/?recursive=true", true, 200, func(b string) bool {
			var v struct {
				Aliases []string
				Email   string
				Scopes  []string
			}
			return json.Unmarshal([]byte(b), &v) == nil && v.Email == email && v.Aliases[0] == "default" && len(v.Scopes) > 0
		}},
		{"instance/service-accounts/default/identity?audience=" + aud + "&format=full", true, 200, func(b string) bool {
			return !strings.HasSuffix(b, "\n") && strings.Count(b, ".") == 2
		}},
		{"instance/service-accounts/default/identity", true, 400, nil},
		{"universe/universe-domain", true, 404, nil},
		{"universe/universe_domain", true, 404, nil},
		{"instance/attributes/nothing-here", true, 404, nil},
	}
	for _, tt := range tests {
		status, body, h := get(tt.path, tt.flavor)
		if h.Get("Metadata-Flavor") != "Google" {
			t.Errorf("%s: response lacks Metadata-Flavor", tt.path)
		}
		if status != tt.status || (tt.check != nil && !tt.check(body)) {
			t.Errorf("%s (flavor %v): %d %q, want %d", tt.path, tt.flavor, status, body, tt.status)
		}
	}

	// Identity formats: full carries email and the compute_engine claim.
	for _, format := range []string{"full", "standard"} {
		_, tok, _ := get("instance/service-accounts/default/identity?audience="+aud+"&format="+format, true)
		c, err := e.VerifyIDToken(tok)
		if err != nil || c.Audience != "https://svc-abc.a.run.app" {
			t.Fatalf("%s identity: %v %+v", format, err, c)
		}
		if (c.Email == email) != (format == "full") {
			t.Errorf("%s identity email = %q", format, c.Email)
		}
	}
	p, err := validator(t, e).Validate(context.Background(), func() string {
		_, tok, _ := get("instance/service-accounts/default/identity?audience="+aud+"&format=full", true)
		return tok
	}(), "https://svc-abc.a.run.app")
	if err != nil {
		t.Fatal(err)
	}
	if ce, _ := p.Claims["google"].(map[string]any)["compute_engine"].(map[string]any); ce["project_id"] != "md-proj" {
		t.Errorf("google.compute_engine claim %v", p.Claims["google"])
	}

	// The access token acts as the attached account.
	status, body, _ := get("instance/service-accounts/default/token", true)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   any    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token: %d %s", status, body)
	}
	if n, ok := tok.ExpiresIn.(float64); !ok || n <= 0 {
		t.Fatalf("expires_in must be a positive number: %s", body)
	}
	if _, err := iamAs(t, e, tok.AccessToken).Projects.ServiceAccounts.List("projects/md-proj").Do(); err != nil {
		t.Fatalf("metadata access token: %v", err)
	}
	if got := e.Calls()["metadata.identity"]; got < 4 {
		t.Errorf("metadata.identity counter = %d", got)
	}
}

// TestMetadataClientAndIDTokenSource drives the real metadata client and
// idtoken's metadata path through GCE_METADATA_HOST. Not parallel: it sets
// the environment.
func TestMetadataClientAndIDTokenSource(t *testing.T) {
	e, email := newMetadataEmulator(t)
	t.Setenv("GCE_METADATA_HOST", e.Addr())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	ctx := context.Background()

	c := metadata.NewClient(&http.Client{})
	if id, err := c.ProjectIDWithContext(ctx); err != nil || id != "md-proj" {
		t.Fatalf("ProjectID: %q %v", id, err)
	}
	if n, err := c.NumericProjectIDWithContext(ctx); err != nil || n != core.ProjectNumberFor("md-proj") {
		t.Fatalf("NumericProjectID: %q %v", n, err)
	}
	if got, err := c.EmailWithContext(ctx, "default"); err != nil || got != email {
		t.Fatalf("Email: %q %v", got, err)
	}
	_, err := c.GetWithContext(ctx, "universe/universe-domain")
	var nd metadata.NotDefinedError
	if !errors.As(err, &nd) {
		t.Fatalf("universe domain: want NotDefinedError, got %v", err)
	}

	if !metadata.OnGCE() {
		t.Fatal("metadata.OnGCE() is false although GCE_METADATA_HOST is set (memoized by an earlier call without it)")
	}
	ts, err := idtoken.NewTokenSource(ctx, "https://svc-abc.a.run.app")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	p, err := validator(t, e).Validate(ctx, tok.AccessToken, "https://svc-abc.a.run.app")
	if err != nil || p.Claims["email"] != email {
		t.Fatalf("ID token from the metadata server: %v %+v", err, p)
	}
	if e.Calls()["metadata.identity"] == 0 {
		t.Fatal("idtoken did not use the metadata server")
	}
}
