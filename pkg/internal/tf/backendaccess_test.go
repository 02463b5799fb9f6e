package tf

import (
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// A gcs backend has access of its own (which invokerctl cannot check for
// it) against Google with credentials, impersonation or an endpoint of its
// own, declared or in the environment; never against an emulator.
func TestBackendHasOwnAccess(t *testing.T) {
	emu, err := target.Emulator("http://127.0.0.1:1", "token")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		config map[string]string
		env    map[string]string
		target target.Target
		want   bool
	}{
		{name: "Google, ADC", target: target.Google(), env: map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/ci/creds.json"}},
		{name: "Google, declared impersonation", target: target.Google(), config: map[string]string{"impersonate_service_account": "tf@p.iam.gserviceaccount.com"}, want: true},
		{name: "Google, declared endpoint", target: target.Google(), config: map[string]string{"storage_custom_endpoint": "https://storage-psc.p.rep.googleapis.com/storage/v1/"}, want: true},
		{name: "Google, backend credentials in the environment", target: target.Google(), env: map[string]string{"GOOGLE_BACKEND_CREDENTIALS": "{}"}, want: true},
		{name: "Google, impersonation in the environment", target: target.Google(), env: map[string]string{"GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": "tf@p.iam.gserviceaccount.com"}, want: true},
		{name: "Google, an access token in the environment", target: target.Google(), env: map[string]string{"GOOGLE_OAUTH_ACCESS_TOKEN": "x"}, want: true},
		{name: "emulator: invokerctl hands the backend its endpoint and token", target: emu,
			config: map[string]string{"impersonate_service_account": "tf@p.iam.gserviceaccount.com"}, env: map[string]string{"GOOGLE_CREDENTIALS": "{}"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{"bucket": "b"}
			for k, v := range tc.config {
				cfg[k] = v
			}
			d := &config.Declaration{Terraform: config.TerraformSettings{Backend: &config.Backend{Type: "gcs", Config: cfg}}}
			if got := BackendHasOwnAccess(d, tc.target, func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
