package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2/google"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/sts"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/sts/oidc"
)

// Workload Identity Federation through the real Go client: an
// external_account credentials file as google-github-actions/auth writes
// it → google.CredentialsFromJSON → the emulator's STS exchange →
// generateAccessToken on the CI service account → an API call.

const (
	wifNumber   = "123456789012"
	wifIssuer   = "https://token.actions.githubusercontent.com"
	wifPool     = "projects/" + wifNumber + "/locations/global/workloadIdentityPools/github"
	wifAudience = "//iam.googleapis.com/" + wifPool + "/providers/github-actions"
	wifRepo     = "acme/app"
	wifSubject  = "repo:acme/app:ref:refs/heads/main"
)

// oidcIssuer signs tokens as an external identity provider would.
type oidcIssuer struct {
	key *rsa.PrivateKey
	kid string
}

func newIssuer(t testing.TB, kid string) *oidcIssuer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &oidcIssuer{key: k, kid: kid}
}

// token signs claims over GitHub's defaults (edit them with set).
func (o *oidcIssuer) token(t testing.TB, set func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": wifIssuer, "aud": "https://iam.googleapis.com/" + wifPool + "/providers/github-actions",
		"sub": wifSubject, "repository": wifRepo, "repository_owner": "acme", "ref": "refs/heads/main",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if set != nil {
		set(c)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = o.kid
	s, err := tok.SignedString(o.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wifSeed is a pool "github" with a GitHub provider trusting iss's key;
// the provider accepts Google's default audience and only acme's tokens.
func wifSeed(t testing.TB, iss *oidcIssuer) *seed.Seed {
	t.Helper()
	doc := map[string]any{
		"projects":        []any{map[string]any{"id": "demo-project", "number": wifNumber}},
		"serviceAccounts": []any{map[string]any{"accountId": "ci-deployer", "project": "demo-project"}},
		"workloadIdentityPools": []any{map[string]any{"pool": "github", "project": "demo-project",
			"providers": []any{map[string]any{
				"id": "github-actions", "issuerUri": wifIssuer,
				"jwksJson": oidc.JWKS(map[string]*rsa.PublicKey{iss.kid: &iss.key.PublicKey}),
				"attributeMapping": map[string]string{"google.subject": "assertion.sub",
					"attribute.repository": "assertion.repository", "attribute.repository_owner": "assertion.repository_owner"},
				"attributeCondition": "assertion.repository_owner == 'acme'",
			}}}},
	}
	b, _ := json.Marshal(doc)
	s, err := seed.ParseSeed(b, "wif.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const ciEmail = "ci-deployer@demo-project.iam.gserviceaccount.com"

// externalAccount writes the credentials file the GitHub action writes,
// pointed at e, with a file credential source holding subjectToken; or,
// when sourceURL is set, the action's URL source.
func externalAccount(t *testing.T, e *core.Server, subjectToken, sourceURL string) []byte {
	t.Helper()
	src := map[string]any{}
	if sourceURL != "" {
		src = map[string]any{"url": sourceURL, "headers": map[string]string{"Authorization": "Bearer request-token"},
			"format": map[string]string{"type": "json", "subject_token_field_name": "value"}}
	} else {
		path := filepath.Join(t.TempDir(), "oidc-token")
		if err := os.WriteFile(path, []byte(subjectToken), 0o600); err != nil {
			t.Fatal(err)
		}
		src["file"] = path
	}
	b, _ := json.Marshal(map[string]any{
		"type": "external_account", "audience": wifAudience,
		"subject_token_type": sts.JWTTokenType, "token_url": e.URL() + "/v1/token",
		"service_account_impersonation_url": e.URL() + "/v1/projects/-/serviceAccounts/" + ciEmail + ":generateAccessToken",
		"credential_source":                 src,
	})
	return b
}

// newWIFEmulator starts an emulator with the pool and the CI account,
// which may read the project (roles/viewer) and whose Workload Identity
// User is member.
func newWIFEmulator(t *testing.T, iss *oidcIssuer, member string) *core.Server {
	t.Helper()
	e := newTestEmulator(t, core.Options{Seed: wifSeed(t, iss)})
	grantOnProject(t, e, "roles/viewer", "serviceAccount:"+ciEmail)
	if member != "" {
		grantOnSA(t, e, ciEmail, "roles/iam.workloadIdentityUser", member)
	}
	return e
}

// asCI reads the CI account through credentials made from the
// external_account file, as an API client of a CI job does.
func asCI(ctx context.Context, e *core.Server, creds []byte) (*iam.ServiceAccount, error) {
	c, err := google.CredentialsFromJSON(ctx, creds, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		return nil, err
	}
	s, err := iam.NewService(ctx, option.WithEndpoint(e.URL()+"/"), option.WithTokenSource(c.TokenSource))
	if err != nil {
		return nil, err
	}
	return s.Projects.ServiceAccounts.Get("projects/-/serviceAccounts/" + ciEmail).Do()
}

func TestWorkloadIdentityFederationWithTheGoClient(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, "gh-1")
	principalSet := "principalSet://iam.googleapis.com/" + wifPool
	e := newWIFEmulator(t, iss, principalSet+"/attribute.repository/"+wifRepo)
	ctx := context.Background()

	// The file source, then the URL source (the action's fallback).
	github := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer request-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": iss.token(t, nil)})
	}))
	defer github.Close()
	for _, creds := range [][]byte{externalAccount(t, e, iss.token(t, nil), ""), externalAccount(t, e, "", github.URL+"/token?audience=x")} {
		e.ResetCalls()
		c, err := google.CredentialsFromJSON(ctx, creds, "https://www.googleapis.com/auth/cloud-platform")
		if err != nil {
			t.Fatal(err)
		}
		svc, err := iam.NewService(ctx, option.WithEndpoint(e.URL()+"/"), option.WithTokenSource(c.TokenSource))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			sa, err := svc.Projects.ServiceAccounts.Get("projects/-/serviceAccounts/" + ciEmail).Do()
			if err != nil {
				t.Fatalf("calling as the CI account: %v", err)
			}
			if sa.Email != ciEmail {
				t.Fatalf("got %s", sa.Email)
			}
		}
		calls := e.Calls()
		if calls[sts.CallName] != 1 || calls["iamcredentials.v1.generateAccessToken"] != 1 {
			t.Errorf("3 calls took %d exchanges and %d generateAccessToken, want 1 each", calls[sts.CallName], calls["iamcredentials.v1.generateAccessToken"])
		}
		// The token is the CI account's: the project policy's viewer grant
		// lets it read the project, and nothing lets it set policies.
		tok, _ := c.TokenSource.Token()
		crm, _ := crmv1.NewService(ctx, withToken(e, tok.AccessToken)...)
		if _, err := crm.Projects.Get("demo-project").Do(); err != nil {
			t.Fatalf("projects.get as the CI account: %v", err)
		}
		_, err = crm.Projects.SetIamPolicy("demo-project", setReq(&crmv1.Policy{})).Do()
		wantCode(t, err, 403)
	}
}

// TestWorkloadIdentityUserGrants: which member kinds in the CI account's
// policy let the federated principal impersonate it.
func TestWorkloadIdentityUserGrants(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, "gh-1")
	base := "iam.googleapis.com/" + wifPool
	other := "iam.googleapis.com/projects/" + wifNumber + "/locations/global/workloadIdentityPools/other"
	tests := []struct {
		member string
		ok     bool
	}{
		{"principal://" + base + "/subject/" + wifSubject, true},
		{"principalSet://" + base + "/attribute.repository/" + wifRepo, true},
		{"principalSet://" + base + "/attribute.repository_owner/acme", true},
		{"principalSet://" + base + "/*", true},
		{"principal://" + base + "/subject/repo:acme/app:ref:refs/heads/dev", false},
		{"principalSet://" + base + "/attribute.repository/acme/other", false},
		{"principalSet://" + base + "/attribute.undefined/x", false},
		{"principalSet://" + other + "/*", false},
		{"", false}, // no grant at all
	}
	for _, tt := range tests {
		t.Run(tt.member, func(t *testing.T) {
			t.Parallel()
			e := newWIFEmulator(t, iss, tt.member)
			ctx := context.Background()
			_, err := asCI(ctx, e, externalAccount(t, e, iss.token(t, nil), ""))
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "iam.serviceAccounts.getAccessToken")) {
				t.Fatalf("want a 403 naming iam.serviceAccounts.getAccessToken, got %v", err)
			}
		})
	}
}

// TestSTSRefusesBadSubjectTokens: each refusal answers Google's error
// shape, through the Go client and on the wire, and never echoes the token.
func TestSTSRefusesBadSubjectTokens(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, "gh-1")
	stranger := newIssuer(t, "gh-1") // same kid, another key
	e := newWIFEmulator(t, iss, "principalSet://iam.googleapis.com/"+wifPool+"/*")
	ctx := context.Background()
	tests := []struct {
		name, token, audience string
		code, descr           string
	}{
		{"bad signature", stranger.token(t, nil), wifAudience, "invalid_grant", "signature"},
		{"wrong audience", iss.token(t, func(c jwt.MapClaims) { c["aud"] = "https://example.com" }), wifAudience, "invalid_grant", "audience"},
		{"expired", iss.token(t, func(c jwt.MapClaims) {
			c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		}), wifAudience, "invalid_grant", "expired"},
		{"issued in the future", iss.token(t, func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), wifAudience, "invalid_grant", "future"},
		{"other issuer", iss.token(t, func(c jwt.MapClaims) { c["iss"] = "https://gitlab.com" }), wifAudience, "invalid_grant", "issuer"},
		{"condition", iss.token(t, func(c jwt.MapClaims) { c["repository_owner"] = "evil" }), wifAudience, "unauthorized_client", "attribute condition"},
		{"no sub", iss.token(t, func(c jwt.MapClaims) { delete(c, "sub") }), wifAudience, "invalid_grant", "google.subject"},
		{"unknown provider", iss.token(t, nil), strings.Replace(wifAudience, "github-actions", "gitlab-ci", 1), "invalid_target", "audience"},
		{"https audience", iss.token(t, nil), "https:" + wifAudience, "invalid_request", "full resource name"},
		{"project id for its number", iss.token(t, nil), strings.Replace(wifAudience, wifNumber, "demo-project", 1), "invalid_target", "audience"},
		{"not a JWT", "not-a-jwt", wifAudience, "invalid_grant", "parsed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"grant_type": {sts.TokenExchangeGrant}, "audience": {tt.audience},
				"scope": {"https://www.googleapis.com/auth/cloud-platform"}, "requested_token_type": {sts.AccessTokenType},
				"subject_token_type": {sts.JWTTokenType}, "subject_token": {tt.token}}
			resp, err := http.PostForm(e.URL()+"/v1/token", form)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]string
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != 400 || body["error"] != tt.code || !strings.Contains(body["error_description"], tt.descr) {
				t.Fatalf("answer %d %v, want 400 %s mentioning %q", resp.StatusCode, body, tt.code, tt.descr)
			}
			if len(tt.token) > 20 && strings.Contains(body["error_description"], strings.Split(tt.token, ".")[1]) {
				t.Fatal("the answer echoes the subject token")
			}
			if tt.audience == wifAudience {
				_, err := asCI(ctx, e, externalAccount(t, e, tt.token, ""))
				if err == nil || !strings.Contains(err.Error(), tt.code) {
					t.Fatalf("the Go client: want an error with %s, got %v", tt.code, err)
				}
			}
		})
	}
}

// TestSTSRequestShapes: the JSON body (camelCase or snake_case) works like
// the form; a wrong grant or token type is refused.
func TestSTSRequestShapes(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, "gh-1")
	e := newWIFEmulator(t, iss, "")
	post := func(ct, body string) (int, map[string]any) {
		resp, err := http.Post(e.URL()+"/v1/token", ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	tok := iss.token(t, nil)
	camel, _ := json.Marshal(map[string]string{"grantType": sts.TokenExchangeGrant, "audience": wifAudience, "scope": "https://www.googleapis.com/auth/cloud-platform",
		"requestedTokenType": sts.AccessTokenType, "subjectTokenType": sts.IDTokenType, "subjectToken": tok})
	snake, _ := json.Marshal(map[string]string{"grant_type": sts.TokenExchangeGrant, "audience": wifAudience,
		"requested_token_type": sts.AccessTokenType, "subject_token_type": sts.JWTTokenType, "subject_token": tok})
	for _, body := range []string{string(camel), string(snake)} {
		code, m := post("application/json", body)
		if code != 200 || m["token_type"] != "Bearer" || m["issued_token_type"] != sts.AccessTokenType || m["expires_in"] != 3599.0 {
			t.Fatalf("JSON exchange: %d %v", code, m)
		}
		// The federated token is a caller of its own: not yet granted
		// anything on the project.
		crm, _ := crmv1.NewService(context.Background(), withToken(e, m["access_token"].(string))...)
		_, err := crm.Projects.Get("demo-project").Do()
		wantCode(t, err, 403)
	}
	for _, tt := range []struct{ body, code string }{
		{"grant_type=refresh_token&subject_token=x", "unsupported_grant_type"},
		{url.Values{"grant_type": {sts.TokenExchangeGrant}, "requested_token_type": {sts.AccessTokenType}, "audience": {wifAudience},
			"subject_token_type": {"urn:ietf:params:aws:token-type:aws4_request"}, "subject_token": {"x"}}.Encode(), "invalid_request"},
		{url.Values{"grant_type": {sts.TokenExchangeGrant}, "requested_token_type": {sts.AccessTokenType}, "audience": {wifAudience},
			"subject_token_type": {sts.JWTTokenType}}.Encode(), "invalid_request"},
	} {
		if code, m := post("application/x-www-form-urlencoded", tt.body); code != 400 || m["error"] != tt.code {
			t.Errorf("%s: %d %v, want 400 %s", tt.body, code, m, tt.code)
		}
	}
}

// TestSeedPoolErrors: each problem of a workloadIdentityPools entry is
// named with its entry, before the emulator starts.
func TestSeedPoolErrors(t *testing.T) {
	t.Parallel()
	jwks := oidc.JWKS(map[string]*rsa.PublicKey{"k": &newIssuer(t, "k").key.PublicKey})
	const head = "defaults: {project: demo-project}\nprojects: [{id: demo-project}]\n"
	prov := func(extra string) string {
		return head + "workloadIdentityPools:\n  - pool: github\n    providers:\n      - {id: github-actions, issuerUri: '" + wifIssuer + "', jwksJson: '" + jwks + "'" + extra + "}\n"
	}
	tests := []struct{ name, seed, want string }{
		{"pool id", strings.Replace(prov(""), "pool: github", "pool: gh", 1), `pool "gh" is not a pool id`},
		{"reserved prefix", strings.Replace(prov(""), "pool: github", "pool: gcp-pool", 1), "gcp-"},
		{"no providers", head + "workloadIdentityPools: [{pool: github}]\n", "at least one OIDC provider"},
		{"provider id", strings.Replace(prov(""), "id: github-actions", "id: GH", 1), `providers[0] (GH): id "GH"`},
		{"issuer", strings.Replace(prov(""), wifIssuer, "token.actions.githubusercontent.com", 1), "issuerUri"},
		{"keys", strings.Replace(prov(""), jwks, `{"keys":[]}`, 1), "no RSA signing key"},
		{"mapping without subject", prov(", attributeMapping: {attribute.repository: assertion.repository}"), "must map google.subject"},
		{"mapping beyond the subset", prov(", attributeMapping: {google.subject: 'assertion.sub.lowerAscii()'}"), "only assertion.CLAIM"},
		{"condition beyond the subset", prov(", attributeCondition: \"assertion.ref.startsWith('refs/heads/')\""), "attributeCondition"},
		{"undeclared project", strings.Replace(prov(""), "pool: github", "pool: github\n    project: elsewhere-project", 1), `project "elsewhere-project" is not declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSeed(t, "seed.yaml", tt.seed)
			_, err := seed.LoadSeed(path)
			if err == nil {
				var e *core.Server
				if e, err = New(core.Options{SeedFile: path}); err == nil {
					e.Close()
					t.Fatalf("seed accepted:\n%s", tt.seed)
				}
			}
			if !strings.Contains(err.Error(), "workloadIdentityPools[0]") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error lacks workloadIdentityPools[0] and %q:\n%v", tt.want, err)
			}
		})
	}
	if _, err := seed.LoadSeed(writeSeed(t, "ok.yaml", prov(""))); err != nil {
		t.Fatal(err)
	}
}
