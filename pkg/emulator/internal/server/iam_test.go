package server

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	iam "google.golang.org/api/iam/v1"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
	"github.com/invokerctl/invokerctl/pkg/emulator/internal/model"
)

func TestServiceAccountLifecycle(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{Project: "proj-1", ProjectNumber: "111122223333"})
	s := ownerIAM(t, e)
	sas := s.Projects.ServiceAccounts

	sa, err := sas.Create("projects/proj-1", &iam.CreateServiceAccountRequest{AccountId: "sa-one",
		ServiceAccount: &iam.ServiceAccount{DisplayName: "One", Description: "first"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if sa.Email != "sa-one@proj-1.iam.gserviceaccount.com" || sa.Name != "projects/proj-1/serviceAccounts/"+sa.Email ||
		sa.ProjectId != "proj-1" || sa.Oauth2ClientId != sa.UniqueId || !regexp.MustCompile(`^[0-9]{21}$`).MatchString(sa.UniqueId) ||
		sa.DisplayName != "One" || sa.Description != "first" || sa.Disabled {
		t.Fatalf("created %+v", sa)
	}
	// Creating in a project named by number uses the project id.
	byNum, err := sas.Create("projects/111122223333", &iam.CreateServiceAccountRequest{AccountId: "sa-two"}).Do()
	if err != nil || byNum.Email != "sa-two@proj-1.iam.gserviceaccount.com" {
		t.Fatalf("create by number: %v %+v", err, byNum)
	}
	_, err = sas.Create("projects/proj-1", &iam.CreateServiceAccountRequest{AccountId: "sa-one"}).Do()
	if ge := wantCode(t, err, 409); !strings.Contains(string(ge.Body), "ALREADY_EXISTS") {
		t.Fatalf("409 body: %s", ge.Body)
	}
	for _, bad := range []string{"short", "Upper-case1", "ends-with-dash-", "1starts-with-digit", strings.Repeat("a", 31)} {
		_, err := sas.Create("projects/proj-1", &iam.CreateServiceAccountRequest{AccountId: bad}).Do()
		wantCode(t, err, 400)
	}
	_, err = sas.Create("projects/nope", &iam.CreateServiceAccountRequest{AccountId: "sa-three"}).Do()
	wantCode(t, err, 404)

	// Lookups: "-" project, uniqueId, "%40".
	for _, name := range []string{"projects/-/serviceAccounts/" + sa.Email, "projects/proj-1/serviceAccounts/" + sa.UniqueId, "projects/-/serviceAccounts/SA-ONE@proj-1.iam.gserviceaccount.com"} {
		got, err := sas.Get(name).Do()
		if err != nil || got.UniqueId != sa.UniqueId {
			t.Fatalf("get %s: %v %+v", name, err, got)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v1/projects/-/serviceAccounts/sa-one%40proj-1.iam.gserviceaccount.com?alt=json", nil)
	req.Header.Set("Authorization", "Bearer "+e.BootstrapToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), sa.UniqueId) || strings.Contains(string(body), `"disabled"`) {
		t.Fatalf("get with %%40: %d %s", resp.StatusCode, body)
	}
	_, err = sas.Get("projects/-/serviceAccounts/ghost@proj-1.iam.gserviceaccount.com").Do()
	wantCode(t, err, 404)

	// List with paging.
	if _, err := sas.Create("projects/proj-1", &iam.CreateServiceAccountRequest{AccountId: "sa-three"}).Do(); err != nil {
		t.Fatal(err)
	}
	page1, err := sas.List("projects/proj-1").PageSize(2).Do()
	if err != nil || len(page1.Accounts) != 2 || page1.NextPageToken == "" {
		t.Fatalf("page 1: %v %+v", err, page1)
	}
	page2, err := sas.List("projects/proj-1").PageSize(2).PageToken(page1.NextPageToken).Do()
	if err != nil || len(page2.Accounts) != 1 || page2.NextPageToken != "" {
		t.Fatalf("page 2: %v %+v", err, page2)
	}

	// Patch (snake_case mask, as the provider sends) and legacy update.
	patched, err := sas.Patch(sa.Name, &iam.PatchServiceAccountRequest{
		ServiceAccount: &iam.ServiceAccount{DisplayName: "Uno", Description: "ignored", Etag: sa.Etag}, UpdateMask: "display_name"}).Do()
	if err != nil || patched.DisplayName != "Uno" || patched.Description != "first" {
		t.Fatalf("patch: %v %+v", err, patched)
	}
	updated, err := sas.Update(sa.Name, &iam.ServiceAccount{DisplayName: "Eins", Description: "erste"}).Do()
	if err != nil || updated.DisplayName != "Eins" || updated.Description != "erste" {
		t.Fatalf("update: %v %+v", err, updated)
	}

	// Disable and enable.
	if _, err := sas.Disable(sa.Name, &iam.DisableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if got, _ := sas.Get(sa.Name).Do(); !got.Disabled {
		t.Fatal("not disabled")
	}
	if _, err := sas.Enable(sa.Name, &iam.EnableServiceAccountRequest{}).Do(); err != nil {
		t.Fatal(err)
	}
	if got, _ := sas.Get(sa.Name).Do(); got.Disabled {
		t.Fatal("still disabled")
	}

	// Delete; a re-created account is a new identity.
	if _, err := sas.Delete(sa.Name).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = sas.Get(sa.Name).Do()
	wantCode(t, err, 404)
	again, err := sas.Create("projects/proj-1", &iam.CreateServiceAccountRequest{AccountId: "sa-one"}).Do()
	if err != nil || again.UniqueId == sa.UniqueId || again.Email != sa.Email {
		t.Fatalf("re-create: %v %+v (old uniqueId %s)", err, again, sa.UniqueId)
	}
}

func TestDeleteRewritesMembersToDeleted(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	victim := createSA(t, e, "victim-sa")
	other := createSA(t, e, "other-sa")
	member := "serviceAccount:" + victim.Email
	grantOnProject(t, e, "roles/viewer", member)
	grantOnSA(t, e, other.Email, "roles/iam.serviceAccountTokenCreator", member)
	// A Cloud Run service policy naming it (stored as the run half stores it).
	e.Mu.Lock()
	svc := &model.Service{ProjectID: e.Project(), Location: "us-central1", Name: "svc",
		Policy: &model.Policy{Version: 1, Etag: model.NewEtag(), Bindings: []*model.Binding{{Role: "roles/run.invoker", Members: []string{member, "user:keep@example.com"}}}}}
	e.St.Services["projects/"+e.Project()+"/locations/us-central1/services/svc"] = svc
	svcEtag := svc.Policy.Etag
	e.Mu.Unlock()

	if _, err := ownerIAM(t, e).Projects.ServiceAccounts.Delete("projects/-/serviceAccounts/" + victim.Email).Do(); err != nil {
		t.Fatal(err)
	}
	want := "deleted:serviceAccount:" + victim.Email + "?uid=" + victim.UniqueId
	pp, err := ownerCRM(t, e).Projects.GetIamPolicy(e.Project(), nil).Do()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pp.Bindings[1].Members, want) {
		t.Errorf("project policy members %v lack %s", pp.Bindings[1].Members, want)
	}
	sp, err := ownerIAM(t, e).Projects.ServiceAccounts.GetIamPolicy("projects/-/serviceAccounts/" + other.Email).Do()
	if err != nil || !slices.Equal(sp.Bindings[0].Members, []string{want}) {
		t.Errorf("account policy: %v %+v", err, sp)
	}
	e.Mu.Lock()
	got := slices.Clone(svc.Policy.Bindings[0].Members)
	etagChanged := svc.Policy.Etag != svcEtag
	e.Mu.Unlock()
	if !slices.Equal(got, []string{want, "user:keep@example.com"}) || !etagChanged {
		t.Errorf("service policy members %v (etag changed %v)", got, etagChanged)
	}

	// The re-created account does not inherit the deleted bindings.
	again := createSA(t, e, "victim-sa")
	e.Mu.Lock()
	defer e.Mu.Unlock()
	if e.PrincipalPermitted("serviceAccount:"+again.Email, "resourcemanager.projects.get", e.Project()) {
		t.Error("re-created account inherits the deleted account's project role")
	}
}

func TestServiceAccountKeys(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "keyed-sa")
	keys := ownerIAM(t, e).Projects.ServiceAccounts.Keys
	k, err := keys.Create(sa.Name, &iam.CreateServiceAccountKeyRequest{KeyAlgorithm: "KEY_ALG_RSA_2048", PrivateKeyType: "TYPE_GOOGLE_CREDENTIALS_FILE"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(k.PrivateKeyData)
	if err != nil {
		t.Fatalf("privateKeyData is not standard base64: %v", err)
	}
	var file map[string]string
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	keyID := k.Name[strings.LastIndex(k.Name, "/")+1:]
	if file["type"] != "service_account" || file["client_email"] != sa.Email || file["client_id"] != sa.UniqueId ||
		file["private_key_id"] != keyID || file["token_uri"] != e.URL()+"/token" || file["project_id"] != e.Project() {
		t.Fatalf("key file %v", file)
	}
	if _, ok := file["universe_domain"]; ok || strings.Contains(string(raw), "googleapis.com") {
		t.Fatalf("key file must not name a universe or googleapis.com: %s", raw)
	}
	if k.Name != sa.Name+"/keys/"+keyID || k.KeyAlgorithm != "KEY_ALG_RSA_2048" || k.KeyType != "USER_MANAGED" {
		t.Fatalf("key %+v", k)
	}
	block, _ := pem.Decode([]byte(file["private_key"]))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}

	got, err := keys.Get("projects/-/serviceAccounts/" + sa.Email + "/keys/" + keyID).PublicKeyType("TYPE_X509_PEM_FILE").Do()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _ := base64.StdEncoding.DecodeString(got.PublicKeyData)
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		t.Fatalf("publicKeyData is not a base64 PEM certificate: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PublicKey.(*rsa.PublicKey).Equal(&priv.(*rsa.PrivateKey).PublicKey) {
		t.Fatal("certificate does not match the private key")
	}
	if got.KeyAlgorithm != "KEY_ALG_RSA_2048" || got.PrivateKeyData != "" {
		t.Fatalf("keys.get %+v", got)
	}
	list, err := keys.List(sa.Name).KeyTypes("USER_MANAGED").Do()
	if err != nil || len(list.Keys) != 1 || list.Keys[0].Name != k.Name {
		t.Fatalf("list: %v %+v", err, list)
	}

	// The key file works with the real idtoken library...
	path := t.TempDir() + "/key.json"
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := idtoken.NewTokenSource(context.Background(), "https://aud", option.WithCredentialsFile(path)); err != nil {
		t.Fatalf("key file: %v", err)
	}
	// ...until the key is deleted.
	if _, err := keys.Delete(k.Name).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = keys.Get(k.Name).Do()
	wantCode(t, err, 404)
	if _, err := idtoken.NewTokenSource(context.Background(), "https://aud", option.WithCredentialsFile(path)); err == nil {
		t.Fatal("deleted key still accepted at the token endpoint")
	}
	_, err = keys.Create(sa.Name, &iam.CreateServiceAccountKeyRequest{KeyAlgorithm: "KEY_ALG_EC_P256"}).Do()
	wantCode(t, err, 400)
}

func TestServiceAccountIamPolicy(t *testing.T) {
	t.Parallel()
	e := newTestEmulator(t, core.Options{})
	sa := createSA(t, e, "policy-sa")
	caller := createSA(t, e, "policy-caller")
	s := ownerIAM(t, e)
	name := "projects/-/serviceAccounts/" + sa.Email
	empty, err := s.Projects.ServiceAccounts.GetIamPolicy(name).Do()
	if err != nil || empty.Etag == "" || len(empty.Bindings) != 0 || empty.Version != 1 {
		t.Fatalf("empty policy: %v %+v", err, empty)
	}
	grantOnSA(t, e, sa.Email, "roles/iam.serviceAccountUser", "serviceAccount:"+caller.Email)
	tok := accessTokenFor(t, e, caller.Email)
	res, err := iamAs(t, e, tok).Projects.ServiceAccounts.TestIamPermissions(name, &iam.TestIamPermissionsRequest{
		Permissions: []string{"iam.serviceAccounts.actAs", "iam.serviceAccounts.delete", "iam.serviceAccounts.getOpenIdToken"}}).Do()
	if err != nil || !slices.Equal(res.Permissions, []string{"iam.serviceAccounts.actAs"}) {
		t.Fatalf("testIamPermissions: %v %+v", err, res)
	}
	// The caller may not read the policy (no getIamPolicy permission).
	_, err = iamAs(t, e, tok).Projects.ServiceAccounts.GetIamPolicy(name).Do()
	wantCode(t, err, 403)
	_, err = s.Projects.ServiceAccounts.GetIamPolicy("projects/-/serviceAccounts/ghost@" + e.Project() + ".iam.gserviceaccount.com").Do()
	wantCode(t, err, 404)
}

// TestGcloudIAM runs the installed gcloud against the emulator: account
// create/list/describe, key create, account and project policies, and
// impersonated identity tokens. Skipped where gcloud is absent.
func TestGcloudIAM(t *testing.T) {
	e := newTestEmulator(t, core.Options{Project: "gc-proj"})
	run := gcloudAgainst(t, e, "gc-proj", map[string]string{
		"iam": e.URL() + "/", "iamcredentials": e.URL() + "/", "cloudresourcemanager": e.URL() + "/",
	})
	t.Parallel()
	dir := t.TempDir()
	email := "gc-account@gc-proj.iam.gserviceaccount.com"
	run("iam", "service-accounts", "create", "gc-account", "--display-name", "From gcloud")
	if out := run("iam", "service-accounts", "list", "--format=value(email)"); !strings.Contains(out, email) {
		t.Fatalf("list: %s", out)
	}
	keyPath := filepath.Join(dir, "key.json")
	run("iam", "service-accounts", "keys", "create", keyPath, "--iam-account", email)
	if b, err := os.ReadFile(keyPath); err != nil || !strings.Contains(string(b), e.URL()+"/token") {
		t.Fatalf("key file: %v %s", err, b)
	}
	run("iam", "service-accounts", "add-iam-policy-binding", email, "--member=user:owner@example.com", "--role=roles/iam.serviceAccountTokenCreator")
	tok := strings.TrimSpace(run("auth", "print-identity-token", "--impersonate-service-account="+email, "--audiences=https://svc.example"))
	if c, err := e.VerifyIDToken(tok[strings.LastIndex(tok, "\n")+1:]); err != nil || c.Audience != "https://svc.example" {
		t.Fatalf("impersonated identity token: %v %q", err, tok)
	}
	if out := run("projects", "get-iam-policy", "gc-proj", "--format=json"); !strings.Contains(out, "roles/owner") {
		t.Fatalf("get-iam-policy: %s", out)
	}
	if e.Calls()["crm.v1.projects.getIamPolicy"] != 1 || e.Calls()["iamcredentials.v1.generateIdToken"] == 0 {
		t.Fatalf("counters %v", e.Calls())
	}
}
