package target

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestEmulator(t *testing.T) {
	tg, err := Emulator("http://127.0.0.1:8080/", "secret-token")
	if err != nil {
		t.Fatal(err)
	}
	if !tg.IsEmulator() || tg.Kind() != KindEmulator {
		t.Fatal("not an emulator")
	}
	if tg.URL() != "http://127.0.0.1:8080" || tg.APIEndpoint() != "http://127.0.0.1:8080/" || tg.MetadataHost() != "127.0.0.1:8080" || tg.Hostname() != "127.0.0.1" {
		t.Errorf("urls: %q %q %q %q", tg.URL(), tg.APIEndpoint(), tg.MetadataHost(), tg.Hostname())
	}
	if strings.Contains(tg.String(), "secret") {
		t.Errorf("String leaks the token: %s", tg)
	}
	tok, err := tg.TokenSource().Token()
	if err != nil || tok.AccessToken != "secret-token" {
		t.Errorf("token source: %v %v", tok, err)
	}
	ep := tg.ProviderEndpoints()
	if ep["cloud_run_v2_custom_endpoint"] != "http://127.0.0.1:8080/v2/" || ep["iam_beta_custom_endpoint"] != "http://127.0.0.1:8080/v1/" || ep["iam_custom_endpoint"] != "http://127.0.0.1:8080/v1/" {
		t.Errorf("endpoints: %v", ep)
	}
	for k, v := range ep {
		if !strings.HasSuffix(v, "/") || strings.Count(strings.TrimPrefix(v, "http://"), "/") != 2 {
			t.Errorf("%s = %q must end in /<segment>/", k, v)
		}
	}
}

// Every endpoint setting we write must exist in the real provider's schema.
func TestProviderEndpointsExistInSchema(t *testing.T) {
	// The real v8.0.0 schema ships with the offline provider, which proves
	// its own schema equal to it.
	raw, err := os.ReadFile("../tfprovider/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Provider struct {
			Block struct {
				Attributes map[string]json.RawMessage `json:"attributes"`
			} `json:"block"`
		} `json:"provider"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	tg, _ := Emulator("http://h:1", "t")
	for k := range tg.ProviderEndpoints() {
		if _, ok := schema.Provider.Block.Attributes[k]; !ok {
			t.Errorf("%s is not a provider attribute", k)
		}
	}
}

func TestEmulatorErrors(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://h:1", "http://h:1/v1/", "http://u:p@h:1"} {
		if _, err := Emulator(u, "t"); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := Emulator("http://h:1", ""); !errors.Is(err, ErrNoToken) {
		t.Errorf("missing token: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{URLEnv: "http://127.0.0.1:9", TokenEnv: "tok"}
	tg, err := FromEnv("", func(k string) string { return env[k] })
	if err != nil || tg.URL() != "http://127.0.0.1:9" || tg.Token() != "tok" {
		t.Fatalf("%v %v", tg, err)
	}
	tg, err = FromEnv("http://127.0.0.1:7", func(k string) string { return env[k] })
	if err != nil || tg.URL() != "http://127.0.0.1:7" {
		t.Fatalf("explicit URL wins: %v %v", tg, err)
	}
	if _, err := FromEnv("", func(string) string { return "" }); err == nil {
		t.Fatal("no URL accepted")
	}
}

func TestGoogle(t *testing.T) {
	g := Google()
	if g.IsEmulator() || g.ProviderEndpoints() != nil || g.TokenSource() != nil || g.APIEndpoint() != "" || g.MetadataHost() != "" {
		t.Fatal("Google target must not carry emulator settings")
	}
}

func TestAuthorizedClientRewritesToEmulator(t *testing.T) {
	var gotAuth, gotPath string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
	}))
	defer srv.Close()
	tg, err := Emulator(srv.URL, "tok-123")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tg.AuthorizedClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Post("https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateIdToken", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotAuth != "Bearer tok-123" || gotPath != "/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateIdToken" {
		t.Fatalf("auth %q path %q", gotAuth, gotPath)
	}
}
