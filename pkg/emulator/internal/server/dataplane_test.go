package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2/google"
	crmv1 "google.golang.org/api/cloudresourcemanager/v1"
	iam "google.golang.org/api/iam/v1"
	run "google.golang.org/api/run/v2"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/seed"
)

// rtURI is the uri of a service of the fixture.
func rtURI(t *testing.T, e *core.Server, service string) string {
	t.Helper()
	svc, err := rtRun(t, e, e.BootstrapToken()).Projects.Locations.Services.Get(rtParent + "/services/" + service).Do()
	if err != nil {
		t.Fatal(err)
	}
	return svc.Uri
}

// rtCall invokes url with the given headers and returns status and body.
func rtCall(t *testing.T, url string, headers map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func rtWant(t *testing.T, what string, got, want int, body string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: status %d, want %d (%s)", what, got, want, strings.TrimSpace(body))
	}
}

func TestDataPlaneTokenChecksAndPolicies(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	callerKey := rtKey(t, e, "caller-one")
	tok := rtIDToken(t, callerKey, private)

	status, body, hdr := rtCall(t, private+"/orders?id=7", bearer(tok))
	rtWant(t, "granted caller", status, 200, body)
	var echo map[string]any
	if err := json.Unmarshal([]byte(body), &echo); err != nil {
		t.Fatalf("echo body: %v: %s", err, body)
	}
	if echo["caller"] != "serviceAccount:caller-one@demo-project.iam.gserviceaccount.com" ||
		echo["service"] != "private-api" || echo["path"] != "/orders" || echo["method"] != "GET" ||
		echo["audience"] != private || echo["query"] != "id=7" {
		t.Errorf("echo = %v", echo)
	}
	if hdr.Get("X-Emulator-Caller") != "serviceAccount:caller-one@demo-project.iam.gserviceaccount.com" {
		t.Errorf("X-Emulator-Caller = %q", hdr.Get("X-Emulator-Caller"))
	}
	// The forwarded token has its signature removed, as Cloud Run does.
	if h, _ := echo["headers"].(map[string]any); !strings.HasSuffix(h["Authorization"].(string), ".SIGNATURE_REMOVED_BY_GOOGLE") {
		t.Errorf("forwarded Authorization = %v", h["Authorization"])
	}

	// Accepted audiences: uri with a trailing slash, the run.app URL, a custom audience.
	for _, aud := range []string{private + "/", "https://private-api-123456789012.us-central1.run.app", "https://private.example.com"} {
		status, body, _ = rtCall(t, private, bearer(rtIDToken(t, callerKey, aud)))
		rtWant(t, "audience "+aud, status, 200, body)
	}
	// Wrong audience (another service's URL, a path, two slashes): 401.
	for _, aud := range []string{rtURI(t, e, "public-api"), private + "/orders", private + "//"} {
		status, body, _ = rtCall(t, private, bearer(rtIDToken(t, callerKey, aud)))
		rtWant(t, "audience "+aud, status, 401, body)
	}
	// Missing token 403 (HTML, not Google JSON); garbage 401.
	status, body, hdr = rtCall(t, private, nil)
	rtWant(t, "no token", status, 403, body)
	if !strings.Contains(body, "Error: Forbidden") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Errorf("403 page: %s %s", hdr.Get("Content-Type"), body)
	}
	status, body, _ = rtCall(t, private, bearer("garbage.token.here"))
	rtWant(t, "garbage token", status, 401, body)
	if !strings.Contains(body, "Error: Unauthorized") {
		t.Errorf("401 page: %s", body)
	}
	// An access token is not an ID token: 401.
	cfg, err := google.JWTConfigFromJSON(callerKey, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatal(err)
	}
	at, err := cfg.TokenSource(context.Background()).Token()
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ = rtCall(t, private, bearer(at.AccessToken))
	rtWant(t, "access token", status, 401, body)

	// X-Serverless-Authorization is checked first.
	status, body, _ = rtCall(t, private, map[string]string{"X-Serverless-Authorization": "Bearer " + tok, "Authorization": "Bearer garbage"})
	rtWant(t, "valid X-Serverless-Authorization, bad Authorization", status, 200, body)
	status, body, _ = rtCall(t, private, map[string]string{"X-Serverless-Authorization": "Bearer garbage", "Authorization": "Bearer " + tok})
	rtWant(t, "bad X-Serverless-Authorization, valid Authorization", status, 401, body)

	// A valid caller without run.routes.invoke: 403.
	strangerKey := rtKey(t, e, "stranger")
	status, body, _ = rtCall(t, private, bearer(rtIDToken(t, strangerKey, private)))
	rtWant(t, "stranger", status, 403, body)

	// Group membership (nested) through the project policy grants.
	status, body, _ = rtCall(t, private, bearer(rtIDToken(t, rtKey(t, e, "grouped"), private)))
	rtWant(t, "nested group member via project policy", status, 200, body)

	// A custom role carrying run.routes.invoke grants; only where bound.
	customKey := rtKey(t, e, "custom-caller")
	cr := rtURI(t, e, "custom-role-api")
	status, body, _ = rtCall(t, cr, bearer(rtIDToken(t, customKey, cr)))
	rtWant(t, "custom role", status, 200, body)
	status, body, _ = rtCall(t, private, bearer(rtIDToken(t, customKey, private)))
	rtWant(t, "custom role elsewhere", status, 403, body)

	// allUsers: no token needed, and a bad token is passed through.
	public := rtURI(t, e, "public-api")
	status, body, _ = rtCall(t, public, nil)
	rtWant(t, "allUsers without token", status, 200, body)
	status, body, _ = rtCall(t, public, bearer("garbage"))
	rtWant(t, "allUsers with a bad token", status, 200, body)
	// allAuthenticatedUsers: any valid token, but a token.
	authn := rtURI(t, e, "authn-api")
	status, body, _ = rtCall(t, authn, nil)
	rtWant(t, "allAuthenticatedUsers without token", status, 403, body)
	status, body, _ = rtCall(t, authn, bearer(rtIDToken(t, strangerKey, authn)))
	rtWant(t, "allAuthenticatedUsers with a stranger's token", status, 200, body)
	status, body, _ = rtCall(t, authn, bearer("garbage"))
	rtWant(t, "allAuthenticatedUsers with a bad token", status, 401, body)
	// invokerIamDisabled: open.
	status, body, _ = rtCall(t, rtURI(t, e, "open-api"), nil)
	rtWant(t, "invokerIamDisabled", status, 200, body)
	// Ingress none / internal: refused (404 by default) even for allUsers.
	status, body, _ = rtCall(t, rtURI(t, e, "closed-api"), nil)
	rtWant(t, "ingress none", status, 404, body)
	status, body, _ = rtCall(t, rtURI(t, e, "internal-api"), nil)
	rtWant(t, "ingress internal", status, 404, body)
	// The seeded response status.
	status, body, _ = rtCall(t, rtURI(t, e, "teapot-api"), nil)
	rtWant(t, "responseStatus", status, 418, body)

	c := e.Calls()
	if c["run.dataplane.invoke.ok"] == 0 || c["run.dataplane.invoke.no_token"] != 2 || c["run.dataplane.invoke.wrong_audience"] != 3 ||
		c["run.dataplane.invoke.denied"] != 2 || c["run.dataplane.invoke.ingress_denied"] != 2 {
		t.Errorf("counters = %v", c)
	}
	if c["run.dataplane.invoke"] < 25 {
		t.Errorf("run.dataplane.invoke = %d", c["run.dataplane.invoke"])
	}
}

func TestDataPlaneCallerFromSubWhenTokenHasNoEmail(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	e.Mu.Lock()
	sa := *e.St.ServiceAccounts["caller-one@demo-project.iam.gserviceaccount.com"]
	e.Mu.Unlock()
	// generateIdToken with includeEmail=false mints such tokens: sub only.
	tok, err := e.MintIDToken(&sa, private, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, body, hdr := rtCall(t, private, bearer(tok))
	rtWant(t, "token without email", status, 200, body)
	if hdr.Get("X-Emulator-Caller") != "serviceAccount:caller-one@demo-project.iam.gserviceaccount.com" {
		t.Errorf("caller = %q", hdr.Get("X-Emulator-Caller"))
	}
	ghost := sa
	ghost.UniqueID = "100000000000000000001"
	tok, _ = e.MintIDToken(&ghost, private, false, nil)
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "token whose sub names no account", status, 403, body)
}

func TestDataPlaneProjectLevelGrantIsInherited(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	tok := rtIDToken(t, rtKey(t, e, "stranger"), private)
	status, body, _ := rtCall(t, private, bearer(tok))
	rtWant(t, "before the project grant", status, 403, body)
	crm, err := crmv1.NewService(context.Background(), withToken(e, e.BootstrapToken())...)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := crm.Projects.GetIamPolicy("demo-project", &crmv1.GetIamPolicyRequest{}).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &crmv1.Binding{Role: "roles/run.servicesInvoker",
		Members: []string{"serviceAccount:stranger@demo-project.iam.gserviceaccount.com"}})
	if _, err := crm.Projects.SetIamPolicy("demo-project", &crmv1.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "after the project grant", status, 200, body)
}

func TestDataPlaneExpiredToken(t *testing.T) {
	e, clock := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	tok := rtIDToken(t, rtKey(t, e, "caller-one"), private)
	clock.Advance(50 * time.Minute)
	status, body, _ := rtCall(t, private, bearer(tok))
	rtWant(t, "token at 50 min", status, 200, body)
	// Google's verifiers allow core.IDTokenClockSkew past exp (whole
	// seconds: iat is the minting second), not more.
	clock.Advance(10*time.Minute + core.IDTokenClockSkew - time.Second)
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "token within the clock skew past exp", status, 200, body)
	clock.Advance(2 * time.Second)
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "token past exp + the clock skew", status, 401, body)
}

func TestDataPlaneTokenSignedByAnotherKey(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	real := rtIDToken(t, rtKey(t, e, "caller-one"), private)
	// Same header (kid) and claims as a real token, signed by a key that is not Google's.
	parsed, _, err := jwt.NewParser().ParseUnverified(real, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forged := jwt.NewWithClaims(jwt.SigningMethodRS256, parsed.Claims)
	forged.Header["kid"] = parsed.Header["kid"]
	raw, err := forged.SignedString(other)
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ := rtCall(t, private, bearer(raw))
	rtWant(t, "forged signature", status, 401, body)
	// Unknown kid too.
	forged.Header["kid"] = "not-a-google-key"
	raw, _ = forged.SignedString(other)
	status, body, _ = rtCall(t, private, bearer(raw))
	rtWant(t, "unknown kid", status, 401, body)
	// Google's key, but not Google's issuer.
	claims := jwt.MapClaims{}
	for k, v := range parsed.Claims.(jwt.MapClaims) {
		claims[k] = v
	}
	claims["iss"] = "https://issuer.example.com"
	wrongIss := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	wrongIss.Header["kid"] = e.Mgmt.SignKID
	raw, err = wrongIss.SignedString(e.Mgmt.Signers[e.Mgmt.SignKID])
	if err != nil {
		t.Fatal(err)
	}
	status, body, _ = rtCall(t, private, bearer(raw))
	rtWant(t, "wrong issuer", status, 401, body)
	status, body, _ = rtCall(t, private, bearer(real))
	rtWant(t, "the real token", status, 200, body)
}

func TestDataPlaneDisabledAndDeletedAccounts(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	private := rtURI(t, e, "private-api")
	tok := rtIDToken(t, rtKey(t, e, "caller-one"), private)
	is := ownerIAM(t, e)
	name := "projects/demo-project/serviceAccounts/caller-one@demo-project.iam.gserviceaccount.com"
	if _, err := is.Projects.ServiceAccounts.Disable(name, &iam.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	status, body, _ := rtCall(t, private, bearer(tok))
	rtWant(t, "disabled account's valid token", status, 403, body)
	if _, err := is.Projects.ServiceAccounts.Enable(name, &iam.EnableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "re-enabled account", status, 200, body)

	// Delete, then recreate the same account id: the old token is refused,
	// and the binding (now deleted:serviceAccount:...) does not grant the new account.
	if _, err := is.Projects.ServiceAccounts.Delete(name).Do(); err != nil {
		t.Fatal(err)
	}
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "deleted account's token", status, 403, body)
	if _, err := is.Projects.ServiceAccounts.Create("projects/demo-project", &iam.CreateServiceAccountRequest{AccountId: "caller-one"}).Do(); err != nil {
		t.Fatal(err)
	}
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "old token after re-creation", status, 403, body)
	status, body, _ = rtCall(t, private, bearer(rtIDToken(t, rtKey(t, e, "caller-one"), private)))
	rtWant(t, "re-created account (binding is deleted:)", status, 403, body)
}

func TestDataPlaneDeletedMemberNeverMatches(t *testing.T) {
	seed, err := seed.ParseSeed([]byte(`
projects: [{id: demo-project, number: "123456789012"}]
serviceAccounts: [{project: demo-project, accountId: caller-one}]
services:
  - project: demo-project
    location: us-central1
    name: private-api
    policy:
      - role: roles/run.invoker
        members: ["deleted:serviceAccount:caller-one@demo-project.iam.gserviceaccount.com?uid=123456789012345678901"]
`), "inline")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := rtStart(t, core.Options{Seed: seed})
	private := rtURI(t, e, "private-api")
	status, body, _ := rtCall(t, private, bearer(rtIDToken(t, rtKey(t, e, "caller-one"), private)))
	rtWant(t, "deleted: member", status, 403, body)
}

func TestDataPlanePropagationDelay(t *testing.T) {
	e, clock := rtStart(t, core.Options{PropagationDelay: 5 * time.Minute})
	private := rtURI(t, e, "private-api")
	tok := rtIDToken(t, rtKey(t, e, "stranger"), private)
	rs := rtRun(t, e, e.BootstrapToken())
	name := rtParent + "/services/private-api"
	pol, err := rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &run.GoogleIamV1Binding{Role: "roles/run.invoker",
		Members: []string{"serviceAccount:stranger@demo-project.iam.gserviceaccount.com"}})
	pol.Bindings[0].Members = pol.Bindings[0].Members[:1]
	if _, err := rs.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
	// The management API sees the change at once...
	got, _ := rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	if !strings.Contains(mustJSON(got), "stranger@") {
		t.Fatalf("policy lacks the grant: %s", mustJSON(got))
	}
	// ...the data plane only after the delay.
	status, body, _ := rtCall(t, private, bearer(tok))
	rtWant(t, "right after the grant", status, 403, body)
	clock.Advance(4 * time.Minute)
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "4 min after the grant", status, 403, body)
	clock.Advance(90 * time.Second)
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "5.5 min after the grant", status, 200, body)

	// A revocation also takes the delay to bite.
	pol, _ = rs.Projects.Locations.Services.GetIamPolicy(name).Do()
	var kept []*run.GoogleIamV1Binding
	for _, b := range pol.Bindings {
		if !strings.Contains(strings.Join(b.Members, ","), "stranger@") {
			kept = append(kept, b)
		}
	}
	pol.Bindings = kept
	if _, err := rs.Projects.Locations.Services.SetIamPolicy(name, &run.GoogleIamV1SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		t.Fatal(err)
	}
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "right after the revocation", status, 200, body)
	clock.Advance(6 * time.Minute)
	status, body, _ = rtCall(t, private, bearer(tok))
	rtWant(t, "6 min after the revocation", status, 403, body)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDataPlaneByHostOnTheMainListener(t *testing.T) {
	e, _ := rtStart(t, core.Options{})
	host := "public-api-123456789012.us-central1.run.app"
	// Host header (curl --resolve style).
	req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v2/projects/x", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"service": "public-api"`) || !strings.Contains(string(b), `"path": "/v2/projects/x"`) {
		t.Errorf("Host %s: %d %s", host, resp.StatusCode, b)
	}
	// Absolute-form request through the emulator as an HTTP proxy.
	proxy, _ := url.Parse(e.URL())
	pc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	resp, err = pc.Get("http://private-api-123456789012.us-central1.run.app/hello")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "Error: Forbidden") {
		t.Errorf("proxied private-api without token: %d %s", resp.StatusCode, b)
	}
	// An unknown run.app host is not the data plane: Google JSON 404.
	req, _ = http.NewRequest(http.MethodGet, e.URL()+"/", nil)
	req.Host = "nope-123456789012.us-central1.run.app"
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), `"NOT_FOUND"`) {
		t.Errorf("unknown host: %d %s", resp.StatusCode, b)
	}
}

func TestDataPlaneIngressDeniedStatusConfigurable(t *testing.T) {
	e, _ := rtStart(t, core.Options{IngressDeniedStatus: http.StatusForbidden})
	status, body, _ := rtCall(t, rtURI(t, e, "closed-api"), nil)
	rtWant(t, "ingress none with IngressDeniedStatus 403", status, 403, body)
}

func TestDataPlanePortsSurviveRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	seed, err := seed.ParseSeed([]byte(rtSeed), "rtSeed")
	if err != nil {
		t.Fatal(err)
	}
	e1, err := New(core.Options{StateFile: state, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	uris := map[string]string{}
	for _, s := range []string{"public-api", "private-api"} {
		uris[s] = rtURI(t, e1, s)
	}
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	// Take public-api's port so the restart must move it.
	u, _ := url.Parse(uris["public-api"])
	blocker, err := net.Listen("tcp", u.Host)
	if err != nil {
		t.Fatalf("occupy %s: %v", u.Host, err)
	}
	defer blocker.Close()

	e2, err := New(core.Options{StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := rtURI(t, e2, "private-api"); got != uris["private-api"] {
		t.Errorf("private-api uri after restart = %s, want %s", got, uris["private-api"])
	}
	moved := rtURI(t, e2, "public-api")
	if moved == uris["public-api"] {
		t.Errorf("public-api kept a taken port: %s", moved)
	}
	status, body, _ := rtCall(t, moved, nil)
	rtWant(t, "moved public-api", status, 200, body)
	status, body, _ = rtCall(t, uris["private-api"], nil)
	rtWant(t, "private-api after restart, no token", status, 403, body)
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st model.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	mu, _ := url.Parse(moved)
	if got := st.Services[rtParent+"/services/public-api"]; got == nil || ":"+strconv.Itoa(got.Port) != ":"+mu.Port() || got.URI != moved {
		t.Errorf("state file does not record the new port %s: %+v", mu.Port(), got)
	}
}

// BenchmarkDataPlaneInvoke measures one authorized call through a
// service's own listener (token verification and the policy check).
func BenchmarkDataPlaneInvoke(b *testing.B) {
	seed, err := seed.ParseSeed([]byte(rtSeed), "rtSeed")
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(core.Options{Seed: seed})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.Mu.Lock()
	svc := *e.St.Services[rtParent+"/services/private-api"]
	sa := *e.St.ServiceAccounts["caller-one@demo-project.iam.gserviceaccount.com"]
	e.Mu.Unlock()
	tok, err := e.MintIDToken(&sa, svc.URI, true, nil)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, svc.URI, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
