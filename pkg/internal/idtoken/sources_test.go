package idtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

const aud = "https://svc-abc-uc.a.run.app"

func TestKeySource(t *testing.T) {
	f := newFakeGoogle(t)
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, f.keyJSON(t, "sa@p.iam.gserviceaccount.com"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := NewKeyFile(path, KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ks, ok := src.(*KeySource)
	if !ok || ks.Email() != "sa@p.iam.gserviceaccount.com" || !strings.Contains(src.Describe(), path) {
		t.Fatalf("source = %T %s", src, src.Describe())
	}
	tok, err := src.Token(context.Background(), aud)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Audience() != aud || tok.Caller() != "sa@p.iam.gserviceaccount.com" || f.count("token") != 1 {
		t.Fatalf("token %v after %d exchanges", tok, f.count("token"))
	}
	if got := f.lastBody["target_audience"]; got != aud {
		t.Fatalf("assertion target_audience = %v", got)
	}
	if got := f.lastBody["aud"]; got != f.srv.URL+"/token" {
		t.Fatalf("assertion aud = %v, want the key's token_uri", got)
	}
	// Printing the source must not reveal the private key.
	for _, s := range []string{fmt.Sprintf("%+v", *ks), fmt.Sprintf("%v", []any{*ks}), fmt.Sprintf("%#v", ks)} {
		if strings.Contains(s, "PRIVATE KEY") || strings.Contains(s, "MII") {
			t.Fatalf("source rendering reveals the key: %s", s)
		}
	}
}

func TestKeySourceTokenEndpointRefuses(t *testing.T) {
	f := newFakeGoogle(t)
	var key map[string]string
	_ = json.Unmarshal(f.keyJSON(t, "sa@p.iam.gserviceaccount.com"), &key)
	key["token_uri"] = f.srv.URL + "/nope"
	b, _ := json.Marshal(key)
	src, err := NewKeyJSON(b, "inline", KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(context.Background(), aud)
	var me *MintError
	if !errors.As(err, &me) || me.Audience != aud || !strings.Contains(err.Error(), "service-account key inline") {
		t.Fatalf("err = %v", err)
	}
}

func TestCredentialsFileTypes(t *testing.T) {
	tests := []struct {
		name   string
		json   string
		check  func(error) bool
		errSub string
	}{
		{"authorized_user", `{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`,
			func(err error) bool { var e *UserCredentialsError; return errors.As(err, &e) }, "--credentials CALLER=impersonate"},
		{"external_account", `{"type":"external_account","audience":"//iam.googleapis.com/x"}`,
			func(err error) bool { var e *UnsupportedCredentialsError; return errors.As(err, &e) }, `"external_account"`},
		{"impersonated with external source", `{"type":"impersonated_service_account","service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam.gserviceaccount.com:generateAccessToken","source_credentials":{"type":"external_account"}}`,
			func(err error) bool { var e *UnsupportedCredentialsError; return errors.As(err, &e) }, "source_credentials"},
		{"impersonated without source", `{"type":"impersonated_service_account","service_account_impersonation_url":"https://x/v1/projects/-/serviceAccounts/t@p:generateAccessToken"}`,
			func(err error) bool { return err != nil }, "source_credentials"},
		{"service account without key", `{"type":"service_account","client_email":"a@b"}`,
			func(err error) bool { return err != nil }, "private_key"},
		{"no type", `{}`, func(err error) bool { return err != nil }, "no type"},
		{"not json", `nope`, func(err error) bool { return err != nil }, "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewKeyJSON([]byte(tc.json), "creds.json", KeyOptions{})
			if !tc.check(err) || !strings.Contains(err.Error(), tc.errSub) || !strings.Contains(err.Error(), "creds.json") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestImpersonatedFromCredentialsFile(t *testing.T) {
	f := newFakeGoogle(t)
	var sa map[string]any
	_ = json.Unmarshal(f.keyJSON(t, "caller@p.iam.gserviceaccount.com"), &sa)
	file, _ := json.Marshal(map[string]any{
		"type":                              "impersonated_service_account",
		"service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken",
		"delegates":                         []string{"projects/-/serviceAccounts/hop@p.iam.gserviceaccount.com"},
		"source_credentials":                sa,
	})
	src, err := NewKeyJSON(file, "adc.json", KeyOptions{HTTPClient: &http.Client{Transport: rewrite{f.srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	im, ok := src.(*Impersonated)
	if !ok || im.Target() != "target@p.iam.gserviceaccount.com" {
		t.Fatalf("source = %T %s", src, src.Describe())
	}
	tok, err := src.Token(context.Background(), aud)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Caller() != "target@p.iam.gserviceaccount.com" {
		t.Fatalf("caller = %s", tok.Caller())
	}
	if f.lastAuth != "Bearer ya29.fake-access-token" || f.count("token") != 1 {
		t.Fatalf("generateIdToken authorization = %q after %d token exchanges", f.lastAuth, f.count("token"))
	}
	if d := fmt.Sprint(f.lastBody["delegates"]); d != "[projects/-/serviceAccounts/hop@p.iam.gserviceaccount.com]" {
		t.Fatalf("delegates = %s", d)
	}
}

func TestImpersonated(t *testing.T) {
	f := newFakeGoogle(t)
	client := &http.Client{Transport: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "caller-token"}),
		Base:   rewrite{f.srv.URL},
	}}
	src, err := NewImpersonated(ImpersonationOptions{
		Target:     "serviceAccount:target@p.iam.gserviceaccount.com",
		Delegates:  []string{"hop1@p.iam.gserviceaccount.com", "serviceAccount:hop2@p.iam.gserviceaccount.com"},
		HTTPClient: client,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "impersonation of target@p.iam.gserviceaccount.com via hop1@p.iam.gserviceaccount.com → hop2@p.iam.gserviceaccount.com"; src.Describe() != want {
		t.Fatalf("Describe = %q", src.Describe())
	}
	tok, err := src.Token(context.Background(), aud)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Caller() != "target@p.iam.gserviceaccount.com" || tok.Audience() != aud {
		t.Fatalf("token = %v", tok)
	}
	if f.lastAuth != "Bearer caller-token" || f.lastBody["includeEmail"] != true || f.lastBody["audience"] != aud {
		t.Fatalf("request auth=%q body=%v", f.lastAuth, f.lastBody)
	}
	if d := fmt.Sprint(f.lastBody["delegates"]); d != "[projects/-/serviceAccounts/hop1@p.iam.gserviceaccount.com projects/-/serviceAccounts/hop2@p.iam.gserviceaccount.com]" {
		t.Fatalf("delegates = %s", d)
	}

	denied, _ := NewImpersonated(ImpersonationOptions{Target: "denied@p.iam.gserviceaccount.com", HTTPClient: client})
	_, err = denied.Token(context.Background(), aud)
	var me *MintError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "getOpenIdToken") {
		t.Fatalf("denied: err = %v", err)
	}

	for _, bad := range []string{"", "user:someone@example.com", "projects/p/x"} {
		if _, err := NewImpersonated(ImpersonationOptions{Target: bad}); err == nil {
			t.Errorf("target %q accepted", bad)
		}
	}
	if _, err := NewImpersonated(ImpersonationOptions{Target: "a@b", Delegates: []string{" "}}); err == nil {
		t.Error("empty delegate accepted")
	}
}

func TestMetadata(t *testing.T) {
	f := newFakeGoogle(t)
	u, _ := url.Parse(f.srv.URL)
	t.Setenv("GCE_METADATA_HOST", u.Host)
	src := NewMetadata(MetadataOptions{HTTPClient: f.srv.Client()})
	if !strings.Contains(src.Describe(), u.Host) {
		t.Fatalf("Describe = %q", src.Describe())
	}
	custom := "https://custom.example.com/aud?x=1&y"
	tok, err := src.Token(context.Background(), custom)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Audience() != custom || tok.Caller() != "vm@p.iam.gserviceaccount.com" {
		t.Fatalf("token = %v", tok)
	}
	if f.lastQuery.Get("format") != "full" || f.lastQuery.Get("audience") != custom {
		t.Fatalf("query = %v", f.lastQuery)
	}
}

func TestADC(t *testing.T) {
	f := newFakeGoogle(t)
	noGCE := func(context.Context) bool { return false }
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.json")
	_ = os.WriteFile(keyPath, f.keyJSON(t, "sa@p.iam.gserviceaccount.com"), 0o600)
	userPath := filepath.Join(dir, "application_default_credentials.json")
	_ = os.WriteFile(userPath, []byte(`{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`), 0o600)

	t.Run("GOOGLE_APPLICATION_CREDENTIALS", func(t *testing.T) {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", keyPath)
		src, err := NewADC(context.Background(), ADCOptions{OnGCE: noGCE})
		if _, ok := src.(*KeySource); err != nil || !ok {
			t.Fatalf("src=%T err=%v", src, err)
		}
	})
	t.Run("gcloud user credentials", func(t *testing.T) {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
		t.Setenv("CLOUDSDK_CONFIG", dir)
		_, err := NewADC(context.Background(), ADCOptions{OnGCE: noGCE})
		var ue *UserCredentialsError
		if !errors.As(err, &ue) || ue.Origin != userPath {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("metadata host", func(t *testing.T) {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
		t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
		t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
		src, err := NewADC(context.Background(), ADCOptions{OnGCE: noGCE})
		if _, ok := src.(*Metadata); err != nil || !ok {
			t.Fatalf("src=%T err=%v", src, err)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		empty := t.TempDir()
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
		t.Setenv("CLOUDSDK_CONFIG", empty)
		t.Setenv("GCE_METADATA_HOST", "")
		_, err := NewADC(context.Background(), ADCOptions{OnGCE: noGCE})
		var ne *NoCredentialsError
		if !errors.As(err, &ne) || len(ne.Tried) != 3 || !strings.Contains(err.Error(), empty) {
			t.Fatalf("err = %v", err)
		}
	})
}
