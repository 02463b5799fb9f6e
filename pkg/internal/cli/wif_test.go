package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/testutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// Credentials in CI: invokerctl against an emulator with no emulator
// token, authenticated by Application Default Credentials of type
// external_account (Workload Identity Federation) exactly as
// google-github-actions/auth writes them: the job's OIDC token is
// exchanged at STS, the CI account is impersonated, and that account
// mints the callers' ID tokens (generateIdToken).

const (
	wifNumber   = "210987654321"
	wifIssuer   = "https://token.actions.githubusercontent.com"
	wifPool     = "projects/" + wifNumber + "/locations/global/workloadIdentityPools/github"
	wifProvider = wifPool + "/providers/github-actions"
	wifCI       = "ci-deployer@demo-project.iam.gserviceaccount.com"
)

// wifKey signs the CI job's OIDC tokens (GitHub's key, in the tests).
type wifKey struct{ *rsa.PrivateKey }

func newWIFKey(t *testing.T) wifKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return wifKey{k}
}

// jwks is the key as a JSON Web Key Set (the provider's oidc.jwksJson).
func (k wifKey) jwks() string {
	b, _ := json.Marshal(map[string]any{"keys": []any{map[string]string{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "gh",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())}}})
	return string(b)
}

// jobToken is the OIDC token of a job of repository.
func (k wifKey) jobToken(t *testing.T, repository string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": wifIssuer, "aud": "https://iam.googleapis.com/" + wifProvider,
		"sub": "repo:" + repository + ":ref:refs/heads/main", "repository": repository, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	tok.Header["kid"] = "gh"
	s, err := tok.SignedString(k.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wifSeed: the pool trusts GitHub's key; acme/app's jobs may impersonate
// the CI account (Workload Identity User for the principalSet of the
// repository), which reads the project and creates the callers' tokens.
func wifSeed(k wifKey) string {
	return `defaults: {project: demo-project, location: us-central1}
projects:
  - id: demo-project
    number: "` + wifNumber + `"
    policy:
      - role: roles/viewer
        members: [serviceAccount:` + wifCI + `]
      - role: roles/iam.serviceAccountTokenCreator
        members: [serviceAccount:` + wifCI + `]
      - role: roles/iam.workloadIdentityUser
        members: ["principalSet://iam.googleapis.com/` + wifPool + `/attribute.repository/acme/app"]
serviceAccounts:
  - accountId: ci-deployer
  - accountId: orders-caller
  - accountId: audit-bot
services:
  - name: orders-api
    policy:
      - role: roles/run.invoker
        members: [serviceAccount:orders-caller@demo-project.iam.gserviceaccount.com]
workloadIdentityPools:
  - pool: github
    providers:
      - id: github-actions
        issuerUri: ` + wifIssuer + `
        jwksJson: '` + k.jwks() + `'
        attributeMapping:
          google.subject: assertion.sub
          attribute.repository: assertion.repository
`
}

const wifDecl = `serviceAccounts:
  - name: orders-caller
  - name: audit-bot
grants:
  - service: orders-api
    members: [orders-caller]
    invoke:
      refusedCaller: audit-bot
`

// writeExternalAccount writes, 0600 in a temp dir, the credentials file
// the GitHub action writes: Google's STS and IAM Credentials URLs (or
// base's, when set) and the job token from source — a file, or the
// action's URL source when sourceURL is set.
func writeExternalAccount(t *testing.T, base, jobToken, sourceURL string) string {
	t.Helper()
	dir := t.TempDir()
	src := map[string]any{}
	if sourceURL != "" {
		src = map[string]any{"url": sourceURL, "headers": map[string]string{"Authorization": "Bearer request-token"},
			"format": map[string]string{"type": "json", "subject_token_field_name": "value"}}
	} else {
		tokFile := filepath.Join(dir, "oidc-token")
		if err := os.WriteFile(tokFile, []byte(jobToken), 0o600); err != nil {
			t.Fatal(err)
		}
		src["file"] = tokFile
	}
	sts, creds := "https://sts.googleapis.com", "https://iamcredentials.googleapis.com"
	if base != "" {
		sts, creds = base, base
	}
	b, _ := json.Marshal(map[string]any{
		"type": "external_account", "audience": "//iam.googleapis.com/" + wifProvider,
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": sts + "/v1/token",
		"service_account_impersonation_url": creds + "/v1/projects/-/serviceAccounts/" + wifCI + ":generateAccessToken",
		"credential_source":                 src, "universe_domain": "googleapis.com",
	})
	path := filepath.Join(dir, "gha-creds.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wifEnv is the environment of a CI job: no emulator token, ADC from the
// credentials file.
func wifEnv(credsFile string) []string {
	return []string{target.TokenEnv + "=", target.CredentialsEnv + "=" + credsFile, tfprovider.SleepScaleEnv + "=0.02"}
}

func TestInvokeWithWorkloadIdentityFederation(t *testing.T) {
	t.Parallel()
	key := newWIFKey(t)
	p := startProofEmu(t, wifSeed(key), nil)
	file := writeDecl(t, wifDecl)
	github := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer request-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": key.jobToken(t, "acme/app")})
	}))
	defer github.Close()
	tests := []struct {
		name  string
		creds string
		bin   bool
	}{
		{"Google's URLs, file source", writeExternalAccount(t, "", key.jobToken(t, "acme/app"), ""), false},
		{"Google's URLs, the action's URL source", writeExternalAccount(t, "", "", github.URL+"/?audience=x"), false},
		{"the emulator's URLs, file source", writeExternalAccount(t, p.URL, key.jobToken(t, "acme/app"), ""), false},
		{"the built binary", writeExternalAccount(t, "", key.jobToken(t, "acme/app"), ""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.ResetCalls()
			args := []string{"invoke", "-f", file, "--emulator=" + p.URL}
			var r cliResult
			if tt.bin {
				r = runBin(t, wifEnv(tt.creds), args...)
			} else {
				r = runInProcess(t, inProcess{Env: wifEnv(tt.creds)}, args...)
			}
			p.check(t, "invoke", r)
			wantExit(t, r, 0, "invoke with external_account ADC")
			rows, _ := proofTable(t, r.Stdout)
			proofWant(t, rows, "invoke", "service orders-api", "invoke as "+sa("orders-caller"), "PASS", "→ 200")
			proofWant(t, rows, "invoke", "service orders-api", "refuses "+sa("audit-bot"), "PASS", "403")
			calls := p.Calls()
			if calls["sts.v1.token"] != 1 || calls["iamcredentials.v1.generateAccessToken"] != 1 {
				t.Errorf("one run made %d STS exchanges and %d generateAccessToken calls, want 1 each", calls["sts.v1.token"], calls["iamcredentials.v1.generateAccessToken"])
			}
			if n := calls["iamcredentials.v1.generateIdToken"]; n < 2 {
				t.Errorf("%d generateIdToken calls, want one per caller (2)", n)
			}
			for _, leak := range []string{key.jobToken(t, "acme/app")[:40], "request-token"} {
				if strings.Contains(r.Stdout+r.Stderr, leak) {
					t.Errorf("the output holds credential text %.12s…", leak)
				}
			}
		})
	}
}

// TestWorkloadIdentityFederationRefused: a job the pool's grant does not
// cover, or a token the provider refuses, fails the run before any call,
// with STS's or IAM's reason and no token text.
func TestWorkloadIdentityFederationRefused(t *testing.T) {
	t.Parallel()
	key, stranger := newWIFKey(t), newWIFKey(t)
	p := startProofEmu(t, wifSeed(key), nil)
	file := writeDecl(t, wifDecl)
	tests := []struct{ name, jobToken, want string }{
		{"another repository", key.jobToken(t, "acme/other"), "iam.serviceAccounts.getAccessToken"},
		{"a token GitHub did not sign", stranger.jobToken(t, "acme/app"), "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := writeExternalAccount(t, "", tt.jobToken, "")
			r := runInProcess(t, inProcess{Env: wifEnv(creds)}, "invoke", "-f", file, "--emulator="+p.URL)
			p.check(t, "invoke", r)
			wantExit(t, r, 1, "invoke with refused ADC")
			for _, w := range []string{tt.want, target.TokenEnv, target.CredentialsEnv} {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
				}
			}
			if n := p.Calls()["iamcredentials.v1.generateIdToken"]; n != 0 {
				t.Errorf("%d ID tokens minted", n)
			}
		})
	}
}

// TestPlanWithWorkloadIdentityFederation: plan with real Terraform and the
// offline provider on the same credentials. Terraform gets the CI
// account's access token through its environment (the provider never
// reads the ADC file, which is dropped from Terraform's environment), and
// the run makes one exchange; no token text lands in the working directory.
func TestPlanWithWorkloadIdentityFederation(t *testing.T) {
	testutil.NeedTerraform(t)
	t.Parallel()
	key := newWIFKey(t)
	p := startProofEmu(t, wifSeed(key), nil)
	file := writeDecl(t, wifDecl)
	creds := writeExternalAccount(t, "", key.jobToken(t, "acme/app"), "")
	r := runInProcess(t, inProcess{Env: wifEnv(creds), Terraform: true}, "plan", "-f", file, "--emulator="+p.URL)
	p.check(t, "plan", r)
	wantExit(t, r, 2, "plan with external_account ADC")
	if !strings.Contains(r.Stdout, "orders-api") {
		t.Errorf("plan output:\n%s", r.Stdout)
	}
	if n := p.Calls()["sts.v1.token"]; n != 1 {
		t.Errorf("plan made %d STS exchanges, want 1", n)
	}
	if files := proofNoTokenFiles(t, filepath.Dir(file), p.Tokens()...); files == 0 {
		t.Error("no working directory files were checked")
	}
}
