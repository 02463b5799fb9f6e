package server

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

func credsAs(t *testing.T, e *core.Server, token string) *iamcredentials.Service {
	t.Helper()
	s, err := iamcredentials.NewService(context.Background(), withToken(e, token)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validator(t *testing.T, e *core.Server) *idtoken.Validator {
	t.Helper()
	v, err := idtoken.NewValidator(context.Background(), option.WithHTTPClient(e.HTTPClient()))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOwnerCannotMintUntilGrantedTokenCreator: the bootstrap owner is an
// ordinary principal; roles/owner (real data) carries neither
// getOpenIdToken nor getAccessToken.
func TestOwnerCannotMintUntilGrantedTokenCreator(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	target := createSA(t, e, "target-sa")
	grantOnProject(t, e, "roles/viewer", "serviceAccount:"+target.Email)
	creds := credsAs(t, e, e.BootstrapToken())
	name := "projects/-/serviceAccounts/" + target.Email
	ctx := context.Background()

	_, err := creds.Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{Audience: "https://svc.example"}).Do()
	ge := wantCode(t, err, 403)
	if !strings.Contains(ge.Message, "iam.serviceAccounts.getOpenIdToken") {
		t.Fatalf("403 message: %s", ge.Message)
	}
	_, err = creds.Projects.ServiceAccounts.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}}).Do()
	wantCode(t, err, 403)

	grantOnSA(t, e, target.Email, "roles/iam.serviceAccountTokenCreator", "user:owner@example.com")
	for _, includeEmail := range []bool{true, false} {
		res, err := creds.Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{Audience: "https://svc.example", IncludeEmail: includeEmail}).Do()
		if err != nil {
			t.Fatalf("after the grant: %v", err)
		}
		p, err := validator(t, e).Validate(ctx, res.Token, "https://svc.example")
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != target.UniqueId || p.Claims["azp"] != target.UniqueId || p.Issuer != "https://accounts.google.com" || p.Expires-p.IssuedAt != 3600 {
			t.Fatalf("claims %+v", p)
		}
		if _, has := p.Claims["email"]; has != includeEmail || (includeEmail && p.Claims["email_verified"] != true) {
			t.Fatalf("includeEmail=%v: claims %v", includeEmail, p.Claims)
		}
	}
	at, err := creds.Projects.ServiceAccounts.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{
		Scope: []string{"https://www.googleapis.com/auth/cloud-platform"}, Lifetime: "600s"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, at.ExpireTime)
	if err != nil || exp.Sub(time.Now()) > 601*time.Second || exp.Sub(time.Now()) < 590*time.Second {
		t.Fatalf("expireTime %q: %v", at.ExpireTime, err)
	}
	// The minted token acts as the account.
	if _, err := iamAs(t, e, at.AccessToken).Projects.ServiceAccounts.List("projects/" + e.Project()).Do(); err != nil {
		t.Fatalf("generated access token: %v", err)
	}
	_, err = iamAs(t, e, at.AccessToken).Projects.ServiceAccounts.Create("projects/"+e.Project(), &iam.CreateServiceAccountRequest{AccountId: "viewer-cannot"}).Do()
	wantCode(t, err, 403)
}

func TestImpersonateThroughRewritingClient(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	target := createSA(t, e, "imp-target")
	middle := createSA(t, e, "imp-middle")
	// Token Creator on the whole project for the owner, on the target for the middle hop.
	grantOnProject(t, e, "roles/iam.serviceAccountTokenCreator", "user:owner@example.com")
	ctx := context.Background()
	hc := option.WithHTTPClient(clientAs(e, e.BootstrapToken()))

	ts, err := impersonate.IDTokenSource(ctx, impersonate.IDTokenConfig{Audience: "https://svc.example", TargetPrincipal: target.Email, IncludeEmail: true}, hc)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	p, err := validator(t, e).Validate(ctx, tok.AccessToken, "https://svc.example")
	if err != nil || p.Claims["email"] != target.Email {
		t.Fatalf("impersonated ID token: %v %+v", err, p)
	}
	cts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{TargetPrincipal: target.Email,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}, hc)
	if err != nil {
		t.Fatal(err)
	}
	at, err := cts.Token()
	if err != nil || at.AccessToken == "" || time.Until(at.Expiry) < 50*time.Minute {
		t.Fatalf("impersonated access token: %v %+v", err, at)
	}

	// Delegation: owner → middle → target. The middle hop needs Token
	// Creator on the target; the owner has it on the middle (project).
	chain := impersonate.IDTokenConfig{Audience: "https://svc.example", TargetPrincipal: target.Email, Delegates: []string{middle.Email}}
	broken, _ := impersonate.IDTokenSource(ctx, chain, hc)
	if _, err := broken.Token(); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("chain with a missing hop grant: %v", err)
	}
	grantOnSA(t, e, target.Email, "roles/iam.serviceAccountTokenCreator", "serviceAccount:"+middle.Email)
	ok, _ := impersonate.IDTokenSource(ctx, chain, hc)
	if tok, err := ok.Token(); err != nil {
		t.Fatalf("chain with every hop granted: %v", err)
	} else if _, err := validator(t, e).Validate(ctx, tok.AccessToken, "https://svc.example"); err != nil {
		t.Fatal(err)
	}
}

func TestDelegationNeedsEveryHop(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	a := createSA(t, e, "hop-one")
	b := createSA(t, e, "hop-two")
	c := createSA(t, e, "hop-three")
	// owner → a → b → c; owner holds Token Creator on a only.
	grantOnSA(t, e, a.Email, "roles/iam.serviceAccountTokenCreator", "user:owner@example.com")
	grantOnSA(t, e, c.Email, "roles/iam.serviceAccountTokenCreator", "serviceAccount:"+b.Email)
	creds := credsAs(t, e, e.BootstrapToken())
	req := &iamcredentials.GenerateIdTokenRequest{Audience: "aud", Delegates: []string{"projects/-/serviceAccounts/" + a.Email, "projects/-/serviceAccounts/" + b.Email}}
	_, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+c.Email, req).Do()
	if ge := wantCode(t, err, 403); !strings.Contains(ge.Message, b.Email) {
		t.Fatalf("the broken hop is a → b: %s", ge.Message)
	}
	grantOnSA(t, e, b.Email, "roles/iam.serviceAccountTokenCreator", "serviceAccount:"+a.Email)
	if _, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+c.Email, req).Do(); err != nil {
		t.Fatalf("complete chain: %v", err)
	}
	// A disabled delegate breaks the chain.
	if _, err := ownerIAM(t, e).Projects.ServiceAccounts.Disable("projects/-/serviceAccounts/"+b.Email, &iam.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+c.Email, req).Do()
	wantCode(t, err, 400)
}

func TestCredentialsRequestChecks(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "checked-sa")
	grantOnProject(t, e, "roles/iam.serviceAccountTokenCreator", "user:owner@example.com")
	creds := credsAs(t, e, e.BootstrapToken()).Projects.ServiceAccounts
	name := "projects/-/serviceAccounts/" + sa.Email
	scope := []string{"https://www.googleapis.com/auth/cloud-platform"}

	_, err := creds.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{}).Do()
	wantCode(t, err, 400)
	_, err = creds.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{}).Do()
	wantCode(t, err, 400)
	_, err = creds.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{Scope: scope, Lifetime: "7200s"}).Do()
	wantCode(t, err, 400)
	_, err = creds.GenerateIdToken("projects/-/serviceAccounts/ghost@"+e.Project()+".iam.gserviceaccount.com", &iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do()
	wantCode(t, err, 404)
	_, err = credsAs(t, e, "bogus").Projects.ServiceAccounts.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do()
	wantCode(t, err, 401)

	// gcloud sends "delegates": null; the uniqueId works in the name.
	body := `{"audience": "https://svc.example", "delegates": null, "includeEmail": false}`
	req, _ := http.NewRequest(http.MethodPost, e.URL()+"/v1/projects/-/serviceAccounts/"+sa.UniqueId+":generateIdToken?alt=json", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.BootstrapToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("null delegates: status %d", resp.StatusCode)
	}

	// A disabled account is refused.
	if _, err := ownerIAM(t, e).Projects.ServiceAccounts.Disable(name, &iam.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = creds.GenerateIdToken(name, &iamcredentials.GenerateIdTokenRequest{Audience: "a"}).Do()
	if ge := wantCode(t, err, 400); !strings.Contains(string(ge.Body), "FAILED_PRECONDITION") {
		t.Fatalf("disabled: %s", ge.Body)
	}
	_, err = creds.GenerateAccessToken(name, &iamcredentials.GenerateAccessTokenRequest{Scope: scope}).Do()
	wantCode(t, err, 400)
}

func TestSignJwtVerifiesWithRobotCerts(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "signer-sa")
	grantOnSA(t, e, sa.Email, "roles/iam.serviceAccountTokenCreator", "user:owner@example.com")
	payload := `{"iss": "` + sa.Email + `", "aud": "https://example.com", "exp": ` + itoa(time.Now().Add(time.Hour).Unix()) + `}`
	res, err := credsAs(t, e, e.BootstrapToken()).Projects.ServiceAccounts.SignJwt("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.SignJwtRequest{Payload: payload}).Do()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.HTTPClient().Get("https://www.googleapis.com/robot/v1/metadata/x509/" + sa.Email)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var certs map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&certs); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(certs[res.KeyId]))
	if block == nil {
		t.Fatalf("key %s not published: %v", res.KeyId, certs)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(res.SignedJwt, claims, func(*jwt.Token) (any, error) { return cert.PublicKey, nil }); err != nil {
		t.Fatalf("signed JWT does not verify with the published cert: %v", err)
	}
	if claims["aud"] != "https://example.com" {
		t.Fatalf("claims %v", claims)
	}
}
