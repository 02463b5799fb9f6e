package tf

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
)

// Which declared backend is used against which target, with which
// -backend-config arguments and environment: against the emulator only a
// gcs backend is kept, pointed at the emulator's Cloud Storage through the
// environment, without the settings that would reach Google.
func TestBackendPerTarget(t *testing.T) {
	gcs := &config.Backend{Type: "gcs", Config: map[string]string{
		"bucket": "b", "prefix": "p", "impersonate_service_account": "tf@x.iam.gserviceaccount.com",
		"credentials": "/k.json", "storage_custom_endpoint": "https://elsewhere/storage/v1/",
	}}
	s3 := &config.Backend{Type: "s3", Config: map[string]string{"bucket": "b", "key": "k"}}
	tests := []struct {
		name       string
		backend    *config.Backend
		emulator   bool
		wantBlock  string // backend type in the root module, "" for none
		wantConfig string
		wantEnv    string // GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT
	}{
		{"gcs on Google", gcs, false, "gcs", "bucket=b credentials=/k.json impersonate_service_account=tf@x.iam.gserviceaccount.com prefix=p storage_custom_endpoint=https://elsewhere/storage/v1/", ""},
		{"gcs on the emulator", gcs, true, "gcs", "bucket=b prefix=p", "http://127.0.0.1:18080/storage/v1/"},
		{"s3 on Google", s3, false, "s3", "bucket=b key=k", ""},
		{"s3 on the emulator", s3, true, "", "", ""},
		{"none on the emulator", nil, true, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := loadQuickstart(t)
			d.Terraform.Backend = tt.backend
			tg := target.Google()
			if tt.emulator {
				tg = emuTarget(t)
			}
			b, err := RootModule(d, tg)
			if err != nil {
				t.Fatal(err)
			}
			var root struct {
				Terraform struct {
					Backend map[string]any `json:"backend"`
				} `json:"terraform"`
			}
			if err := json.Unmarshal(b, &root); err != nil {
				t.Fatal(err)
			}
			gotBlock := ""
			for k := range root.Terraform.Backend {
				gotBlock = k
			}
			if gotBlock != tt.wantBlock {
				t.Errorf("backend block %q, want %q", gotBlock, tt.wantBlock)
			}
			if got := strings.Join(BackendConfig(d, tg), " "); got != tt.wantConfig {
				t.Errorf("backend config %q, want %q", got, tt.wantConfig)
			}
			ws := &Workspace{Dir: t.TempDir(), Decl: d, Target: tg}
			env := ws.Env(map[string]string{"GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT": "https://user/", "GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT": "x"}, EnvSettings{})
			if tt.emulator {
				if env["GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT"] != tt.wantEnv || env["GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT"] != "" {
					t.Errorf("env: endpoint %q, impersonation %q", env["GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT"], env["GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT"])
				}
				if env["GOOGLE_OAUTH_ACCESS_TOKEN"] != "tok-secret-123" {
					t.Error("the emulator token is not in the environment")
				}
			} else if env["GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT"] != "https://user/" {
				t.Error("against Google the user's backend environment changed")
			}
			if UsesEmulatorBackend(d, tg) != (tt.wantEnv != "") {
				t.Errorf("UsesEmulatorBackend = %v", !(tt.wantEnv != ""))
			}
		})
	}
}

// StateLocked reads Terraform's lock report from a lock error, whether
// the lock was met by plan/apply or by init; other errors are not locks.
func TestStateLocked(t *testing.T) {
	report := `
Lock Info:
  ID:        1796254337630545
  Path:      gs://b/p/default.tflock
  Operation: OperationTypeApply
  Who:       ci@runner
  Version:   1.11.4
  Created:   2026-12-02 23:32:17 +0000 UTC
  Info:      
`
	tests := []struct {
		name string
		msg  string
		want LockInfo
		ok   bool
	}{
		{"plan", "Error: Error acquiring the state lock\n\nError message: writing ... conditionNotMet" + report, LockInfo{ID: "1796254337630545", Path: "gs://b/p/default.tflock", Operation: "OperationTypeApply", Who: "ci@runner", Created: "2026-12-02 23:32:17 +0000 UTC"}, true},
		{"init", "Error: Error loading state: writing ... conditionNotMet" + strings.ReplaceAll(report, "OperationTypeApply", "init"), LockInfo{ID: "1796254337630545", Path: "gs://b/p/default.tflock", Operation: "init", Who: "ci@runner", Created: "2026-12-02 23:32:17 +0000 UTC"}, true},
		{"not a lock", "Error: googleapi: Error 403: forbidden", LockInfo{}, false},
	}
	for _, tt := range tests {
		got, ok := StateLocked(&StepError{Step: "plan", Err: errors.New(tt.msg)})
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
