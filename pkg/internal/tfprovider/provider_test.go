package tfprovider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
)

// schemaToJSON renders a protocol schema back into the shape of
// `terraform providers schema -json`.
func schemaToJSON(s *tfprotov5.Schema) map[string]any {
	return map[string]any{"version": float64(s.Version), "block": blockToJSON(s.Block)}
}

func blockToJSON(b *tfprotov5.SchemaBlock) map[string]any {
	out := map[string]any{"description_kind": "plain"}
	if b.Description != "" {
		out["description"] = b.Description
	}
	if len(b.Attributes) > 0 {
		attrs := map[string]any{}
		for _, a := range b.Attributes {
			tj, _ := a.Type.MarshalJSON()
			var t any
			_ = json.Unmarshal(tj, &t)
			m := map[string]any{"type": t, "description_kind": "plain"}
			if a.Description != "" {
				m["description"] = a.Description
			}
			for k, v := range map[string]bool{"required": a.Required, "optional": a.Optional, "computed": a.Computed, "sensitive": a.Sensitive} {
				if v {
					m[k] = true
				}
			}
			attrs[a.Name] = m
		}
		out["attributes"] = attrs
	}
	if len(b.BlockTypes) > 0 {
		bts := map[string]any{}
		for _, nb := range b.BlockTypes {
			m := map[string]any{"block": blockToJSON(nb.Block), "nesting_mode": strings.ToLower(strings.TrimPrefix(nb.Nesting.String(), "NESTING_"))}
			if nb.MinItems > 0 {
				m["min_items"] = float64(nb.MinItems)
			}
			if nb.MaxItems > 0 {
				m["max_items"] = float64(nb.MaxItems)
			}
			bts[nb.TypeName] = m
		}
		out["block_types"] = bts
	}
	return out
}

// TestSchemasMatchSubset checks the conversion from the JSON subset to the
// protocol is lossless; TestTerraformSchemaMatchesSubset checks the same
// through a real terraform binary.
func TestSchemasMatchSubset(t *testing.T) {
	var want struct {
		Provider          map[string]any            `json:"provider"`
		ResourceSchemas   map[string]map[string]any `json:"resource_schemas"`
		DataSourceSchemas map[string]map[string]any `json:"data_source_schemas"`
	}
	if err := json.Unmarshal(schemaJSON, &want); err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(configOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := p.GetProviderSchema(context.Background(), &tfprotov5.GetProviderSchemaRequest{})
	if got := schemaToJSON(resp.Provider); !reflect.DeepEqual(got, want.Provider) {
		t.Error("provider schema differs")
	}
	if len(resp.ResourceSchemas) != len(want.ResourceSchemas) || len(resp.DataSourceSchemas) != len(want.DataSourceSchemas) {
		t.Fatalf("serving %d resources and %d data sources, subset has %d and %d", len(resp.ResourceSchemas), len(resp.DataSourceSchemas), len(want.ResourceSchemas), len(want.DataSourceSchemas))
	}
	for n, w := range want.ResourceSchemas {
		if got := schemaToJSON(resp.ResourceSchemas[n]); !reflect.DeepEqual(got, w) {
			t.Errorf("resource %s schema differs", n)
		}
	}
	for n, w := range want.DataSourceSchemas {
		if got := schemaToJSON(resp.DataSourceSchemas[n]); !reflect.DeepEqual(got, w) {
			t.Errorf("data source %s schema differs", n)
		}
	}
}

// plan runs PlanResourceChange through the protocol.
func plan(t *testing.T, p *provider, typ string, prior, cfg map[string]any) (map[string]any, []string) {
	t.Helper()
	s := p.schemas.Resources[typ]
	// Terraform's proposed new state: config, with prior values for
	// computed attributes the config leaves null.
	proposed := copyMap(cfg)
	for _, a := range s.Block.Attributes {
		if a.Computed && cfg[a.Name] == nil && prior != nil {
			proposed[a.Name] = prior[a.Name]
		}
	}
	enc := func(m map[string]any) *tfprotov5.DynamicValue {
		dv, err := encode(s, m)
		if err != nil {
			t.Fatal(err)
		}
		return dv
	}
	resp, err := p.PlanResourceChange(context.Background(), &tfprotov5.PlanResourceChangeRequest{
		TypeName: typ, PriorState: enc(prior), ProposedNewState: enc(proposed), Config: enc(cfg),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Fatalf("plan: %s %s", d.Summary, d.Detail)
	}
	if !resp.UnsafeToUseLegacyTypeSystem {
		t.Error("the provider must announce the legacy type system, like the SDK-based original")
	}
	planned, err := decode(s, resp.PlannedState)
	if err != nil {
		t.Fatal(err)
	}
	var replace []string
	for _, a := range resp.RequiresReplace {
		replace = append(replace, a.String())
	}
	return planned, replace
}

func TestPlanServiceAccountPredictsEmail(t *testing.T) {
	f := newTestGoogle(t, "")
	for _, tt := range []struct {
		universe string
		predict  bool
	}{{"", true}, {"googleapis.com", true}, {"emulator.invalid", false}} {
		p, _ := newTestProvider(t, f, map[string]any{"universe_domain": nilIfEmpty(tt.universe)})
		planned, replace := plan(t, p, "google_service_account", nil, map[string]any{"account_id": "invoker-one"})
		if len(replace) != 0 {
			t.Errorf("create plan requires replace: %v", replace)
		}
		if tt.predict {
			if planned["email"] != "invoker-one@proj-1.iam.gserviceaccount.com" || planned["member"] != "serviceAccount:invoker-one@proj-1.iam.gserviceaccount.com" {
				t.Errorf("universe %q: planned email/member = %v / %v", tt.universe, planned["email"], planned["member"])
			}
		} else if !isUnknown(planned["email"]) || !isUnknown(planned["member"]) {
			t.Errorf("universe %q: email should be unknown, got %v", tt.universe, planned["email"])
		}
		if planned["project"] != "proj-1" || planned["disabled"] != false || !isUnknown(planned["unique_id"]) || !isUnknown(planned["id"]) {
			t.Errorf("planned = %v", planned)
		}
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestPlanIamMemberSuppressionsAndReplace(t *testing.T) {
	f := newTestGoogle(t, "")
	p, _ := newTestProvider(t, f, nil)
	full := "projects/proj-1/locations/us-central1/services/svc"
	prior := map[string]any{
		"id": full + "/roles/run.invoker/user:a@example.com", "name": full, "project": "proj-1", "location": "us-central1",
		"role": "roles/run.invoker", "member": "user:a@example.com", "etag": "BwY=", "condition": []any{},
	}
	tests := []struct {
		name        string
		cfg         map[string]any
		wantReplace []string
	}{
		{"short name and other case is a no-op", map[string]any{"name": "svc", "location": "us-central1", "role": "roles/run.invoker", "member": "user:A@Example.com", "condition": []any{}}, nil},
		{"full name is a no-op", map[string]any{"name": full, "role": "roles/run.invoker", "member": "user:a@example.com", "condition": []any{}}, nil},
		{"another member replaces", map[string]any{"name": full, "role": "roles/run.invoker", "member": "user:b@example.com", "condition": []any{}}, []string{`AttributeName("member")`}},
		{"another role replaces", map[string]any{"name": full, "role": "roles/run.admin", "member": "user:a@example.com", "condition": []any{}}, []string{`AttributeName("role")`}},
		{"another service replaces", map[string]any{"name": "other", "role": "roles/run.invoker", "member": "user:a@example.com", "condition": []any{}}, []string{`AttributeName("name")`}},
		{"adding a condition replaces", map[string]any{"name": full, "role": "roles/run.invoker", "member": "user:a@example.com", "condition": []any{map[string]any{"title": "t", "expression": "true"}}}, []string{`AttributeName("condition")`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			planned, replace := plan(t, p, "google_cloud_run_v2_service_iam_member", prior, tt.cfg)
			if !equalStrings(replace, tt.wantReplace) {
				t.Errorf("replace = %v, want %v", replace, tt.wantReplace)
			}
			if tt.wantReplace == nil && !reflect.DeepEqual(planned, prior) {
				t.Errorf("no-op plan should equal prior state:\n%v\n%v", planned, prior)
			}
		})
	}
}

func TestPlanIamBindingUpdateInPlace(t *testing.T) {
	f := newTestGoogle(t, "")
	p, _ := newTestProvider(t, f, nil)
	full := "projects/proj-1/locations/us-central1/services/svc"
	prior := map[string]any{
		"id": full + "/roles/run.invoker", "name": full, "project": "proj-1", "location": "us-central1",
		"role": "roles/run.invoker", "members": []any{"user:a@example.com"}, "etag": "BwY=", "condition": []any{},
	}
	planned, replace := plan(t, p, "google_cloud_run_v2_service_iam_binding", prior, map[string]any{"name": full, "role": "roles/run.invoker", "members": []any{"user:A@example.com"}, "condition": []any{}})
	if len(replace) != 0 || !reflect.DeepEqual(planned, prior) {
		t.Errorf("re-cased members should be a no-op: %v %v", planned, replace)
	}
	planned, replace = plan(t, p, "google_cloud_run_v2_service_iam_binding", prior, map[string]any{"name": full, "role": "roles/run.invoker", "members": []any{"user:a@example.com", "user:b@example.com"}, "condition": []any{}})
	if len(replace) != 0 {
		t.Errorf("members change should update in place, replace = %v", replace)
	}
	if !isUnknown(planned["etag"]) {
		t.Errorf("etag should be unknown after an update, got %v", planned["etag"])
	}
}

func TestValidateConfigs(t *testing.T) {
	f := newTestGoogle(t, "")
	p, _ := newTestProvider(t, f, nil)
	validate := func(typ string, cfg map[string]any) []*tfprotov5.Diagnostic {
		dv, err := encode(p.schemas.Resources[typ], cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := p.ValidateResourceTypeConfig(context.Background(), &tfprotov5.ValidateResourceTypeConfigRequest{TypeName: typ, Config: dv})
		return resp.Diagnostics
	}
	if d := validate("google_cloud_run_v2_service_iam_member", map[string]any{"name": "s", "role": "r", "member": "deleted:user:a@example.com?uid=1"}); len(d) != 1 {
		t.Errorf("deleted member: %d diagnostics", len(d))
	}
	if d := validate("google_cloud_run_v2_service_iam_member", map[string]any{"name": "s", "role": "r", "member": "user:a@example.com"}); len(d) != 0 {
		t.Errorf("valid member: %v", d[0].Summary)
	}
	if d := validate("google_service_account", map[string]any{"account_id": "Bad_Id"}); len(d) != 1 {
		t.Errorf("bad account id: %d diagnostics", len(d))
	}
	if d := validate("google_service_account_iam_member", map[string]any{"service_account_id": "sa@p.iam.gserviceaccount.com", "role": "r", "member": "user:a@example.com"}); len(d) != 1 {
		t.Errorf("service_account_id must be a full name: %d diagnostics", len(d))
	}
	// Unknown values are not validated.
	if d := validate("google_cloud_run_v2_service_iam_member", map[string]any{"name": "s", "role": "r", "member": unknown{}}); len(d) != 0 {
		t.Errorf("unknown member: %v", d[0].Summary)
	}
}

func TestEndpointsAndEnvFallbacks(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]any
		env     map[string]string
		check   func(c *Config) string
		wantErr string
	}{
		{
			name: "defaults are Google",
			cfg:  map[string]any{"access_token": "x"},
			check: func(c *Config) string {
				return c.CloudRunV2BasePath + " " + c.IAMBasePath + " " + c.ResourceManagerBasePath + " " + c.Functions2BasePath + " " + c.IAMCredentialsBasePath
			},
		},
		{
			name: "attributes; iam beta wins; handwritten clients lose their version",
			cfg:  map[string]any{"access_token": "x", "cloud_run_v2_custom_endpoint": "http://h:1/v2/", "iam_custom_endpoint": "http://old:1/v1/", "iam_beta_custom_endpoint": "http://new:1/v1/", "resource_manager_custom_endpoint": "http://h:1/v1/"},
			check: func(c *Config) string {
				return c.CloudRunV2BasePath + " " + c.IAMBasePath + " " + c.ResourceManagerBasePath
			},
		},
		{
			name: "env fallbacks",
			cfg:  map[string]any{},
			env:  map[string]string{"GOOGLE_OAUTH_ACCESS_TOKEN": "x", "GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT": "http://e:2/v2/", "GOOGLE_IAM_CUSTOM_ENDPOINT": "http://e:2/v1/", "GOOGLE_CLOUDFUNCTIONS2_CUSTOM_ENDPOINT": "http://e:2/v2/", "GOOGLE_PROJECT": "envproj", "GOOGLE_REGION": "europe-west1"},
			check: func(c *Config) string {
				return c.CloudRunV2BasePath + " " + c.IAMBasePath + " " + c.Functions2BasePath + " " + c.Project + " " + c.Region
			},
		},
		{
			name:  "attribute beats env",
			cfg:   map[string]any{"access_token": "x", "cloud_run_v2_custom_endpoint": "http://attr:1/v2/"},
			env:   map[string]string{"GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT": "http://env:1/v2/"},
			check: func(c *Config) string { return c.CloudRunV2BasePath },
		},
		{
			name:  "universe domain",
			cfg:   map[string]any{"access_token": "x", "universe_domain": "example.test"},
			check: func(c *Config) string { return c.CloudRunV2BasePath },
		},
		{name: "endpoint without version segment", cfg: map[string]any{"access_token": "x", "cloud_run_v2_custom_endpoint": "http://h:1"}, wantErr: "cloud_run_v2_custom_endpoint"},
		{name: "bad env endpoint", cfg: map[string]any{"access_token": "x"}, env: map[string]string{"GOOGLE_IAM_BETA_CUSTOM_ENDPOINT": "http://h:1/v1"}, wantErr: "iam_beta_custom_endpoint"},
		{name: "other endpoints are validated too", cfg: map[string]any{"access_token": "x", "compute_custom_endpoint": "nope"}, wantErr: "compute_custom_endpoint"},
	}
	want := map[string]string{
		"defaults are Google": "https://run.googleapis.com/v2/ https://iam.googleapis.com/ https://cloudresourcemanager.googleapis.com/ https://cloudfunctions.googleapis.com/v2/ https://iamcredentials.googleapis.com/",
		"attributes; iam beta wins; handwritten clients lose their version": "http://h:1/v2/ http://new:1/ http://h:1/",
		"env fallbacks":       "http://e:2/v2/ http://e:2/ http://e:2/v2/ envproj europe-west1",
		"attribute beats env": "http://attr:1/v2/",
		"universe domain":     "https://run.example.test/v2/",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT", "GOOGLE_IAM_CUSTOM_ENDPOINT", "GOOGLE_IAM_BETA_CUSTOM_ENDPOINT", "GOOGLE_CLOUDFUNCTIONS2_CUSTOM_ENDPOINT", "GOOGLE_RESOURCE_MANAGER_CUSTOM_ENDPOINT", "GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "GOOGLE_REGION", "GOOGLE_CREDENTIALS"} {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := newConfig(context.Background(), tt.cfg, configOptions{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want mention of %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); got != want[tt.name] {
				t.Errorf("got  %s\nwant %s", got, want[tt.name])
			}
		})
	}
}

func TestAccessTokenAndHeaders(t *testing.T) {
	f := newTestGoogle(t, "the-token")
	f.addService("us-central1", "svc")
	// A recording reverse proxy in front of the emulator sees the headers
	// exactly as the provider sent them.
	var mu sync.Mutex
	var seen http.Header
	target, _ := url.Parse(f.e.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	f.front = front.URL
	p, _ := newTestProvider(t, f, map[string]any{"access_token": "the-token", "user_project_override": true, "billing_project": "billing-1"})
	if _, err := p.dataSources["google_cloud_run_v2_service"].read(context.Background(), p, map[string]any{"name": "svc"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	sent := seen
	mu.Unlock()
	if sent.Get("Authorization") != "Bearer the-token" || sent.Get("X-Goog-User-Project") != "billing-1" || sent.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", sent)
	}
	if !strings.Contains(sent.Get("User-Agent"), "terraform-provider-google/8.0.0") {
		t.Errorf("user agent = %q", sent.Get("User-Agent"))
	}
	// A wrong token surfaces the 401 without retries.
	f.resetLog()
	p2, _ := newTestProvider(t, f, map[string]any{"access_token": "wrong"})
	_, err := p2.dataSources["google_cloud_run_v2_service"].read(context.Background(), p2, map[string]any{"name": "svc"})
	if err == nil || !strings.Contains(err.Error(), "googleapi: Error 401") || len(f.requests()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(f.requests()))
	}
}

// TestCredentialsJWTBearerExchange drives the key-file path: the provider
// signs an assertion, trades it at the key's token_uri and uses the token.
func TestCredentialsJWTBearerExchange(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	var assertion jwt.MapClaims
	var tokenCalls int
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tokenCalls++
		_ = r.ParseForm()
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, 400)
			return
		}
		tok, err := jwt.Parse(r.Form.Get("assertion"), func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
		if err != nil {
			http.Error(w, `{"error":"invalid_grant"}`, 400)
			return
		}
		assertion = tok.Claims.(jwt.MapClaims)
		writeJSON(w, 200, map[string]any{"access_token": "minted-token", "expires_in": 3599, "token_type": "Bearer"})
	}))
	defer tokenSrv.Close()
	keyFile := map[string]any{
		"type": "service_account", "project_id": "proj-1", "private_key_id": "kid-1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "deployer@proj-1.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenSrv.URL + "/token",
	}
	b, _ := json.Marshal(keyFile)
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, creds := range []string{path, string(b)} {
		f := newTestGoogle(t, "minted-token")
		f.addService("us-central1", "svc")
		p, _ := newTestProvider(t, f, map[string]any{"access_token": nil, "credentials": creds})
		if _, err := p.dataSources["google_cloud_run_v2_service"].read(context.Background(), p, map[string]any{"name": "svc"}); err != nil {
			t.Fatal(err)
		}
		if assertion["iss"] != "deployer@proj-1.iam.gserviceaccount.com" || assertion["aud"] != tokenSrv.URL+"/token" ||
			!strings.Contains(assertion["scope"].(string), "https://www.googleapis.com/auth/cloud-platform") {
			t.Errorf("assertion claims = %v", assertion)
		}
	}
	if tokenCalls != 2 {
		t.Errorf("%d token exchanges, want one per provider", tokenCalls)
	}
}

func TestPrepareProviderConfigValidatesEndpoints(t *testing.T) {
	p, err := newProvider(configOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dv, _ := encode(p.schemas.Provider, map[string]any{"cloud_run_v2_custom_endpoint": "http://h:1", "access_token": "a", "credentials": "{}"})
	resp, _ := p.PrepareProviderConfig(context.Background(), &tfprotov5.PrepareProviderConfigRequest{Config: dv})
	if len(resp.Diagnostics) != 2 {
		t.Errorf("diagnostics = %d, want endpoint and conflicting credentials", len(resp.Diagnostics))
	}
}

func TestInstallMirrorAndCLIConfig(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "invokerctl")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(dir, "mirror ${x}")
	for i := 0; i < 2; i++ { // installing twice replaces the first copy
		if err := InstallMirror(mirror, exe); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(mirror, "registry.terraform.io/hashicorp/google/8.0.0", runtimeDir(), "terraform-provider-google_v8.0.0")
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("mode = %v, want executable", fi.Mode())
	}
	cfg := CLIConfig(mirror)
	for _, want := range []string{`filesystem_mirror {`, `path    = "` + strings.ReplaceAll(mirror, "${", "$${") + `"`, `include = ["registry.terraform.io/hashicorp/google"]`, `exclude = ["registry.terraform.io/hashicorp/google"]`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("CLI config lacks %q:\n%s", want, cfg)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	if d, ok := retryAfter("7", timeNow()); !ok || d.Seconds() != 7 {
		t.Errorf("seconds: %v %v", d, ok)
	}
	if _, ok := retryAfter("soon", timeNow()); ok {
		t.Error("garbage accepted")
	}
	future := timeNow().Add(5e9).UTC().Format(http.TimeFormat)
	if d, ok := retryAfter(future, timeNow()); !ok || d <= 0 || d.Seconds() > 6 {
		t.Errorf("date: %v %v", d, ok)
	}
}

func TestCredentialsAuthorizedUser(t *testing.T) {
	var grant string
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		grant = r.Form.Get("grant_type")
		writeJSON(w, 200, map[string]any{"access_token": "user-token", "expires_in": 3599, "token_type": "Bearer"})
	}))
	defer tokenSrv.Close()
	creds, _ := json.Marshal(map[string]any{
		"type": "authorized_user", "client_id": "cid", "client_secret": "secret", "refresh_token": "rt", "token_uri": tokenSrv.URL + "/token",
	})
	f := newTestGoogle(t, "user-token")
	f.addService("us-central1", "svc")
	p, _ := newTestProvider(t, f, map[string]any{"access_token": nil, "credentials": string(creds)})
	if _, err := p.dataSources["google_cloud_run_v2_service"].read(context.Background(), p, map[string]any{"name": "svc"}); err != nil {
		t.Fatal(err)
	}
	if grant != "refresh_token" {
		t.Errorf("grant_type = %q, want refresh_token", grant)
	}
}
