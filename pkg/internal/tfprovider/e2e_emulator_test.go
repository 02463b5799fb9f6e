package tfprovider

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator"
)

// emulatorGET calls the emulator as its bootstrap owner.
func emulatorGET(t *testing.T, e *emulator.Emulator, path string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+e.BootstrapToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestTerraformLifecycleEmulator runs the provider under terraform against
// the project's emulator, with a burst of 503s injected into the apply.
func TestTerraformLifecycleEmulator(t *testing.T) {
	providerMirror(t) // skips in -short mode before starting anything
	const project, number = "e2e-project", "210987654321"
	e, err := emulator.New(emulator.Options{
		Project:       project,
		ProjectNumber: number,
		Seed: &emulator.Seed{
			Services: []emulator.SeedService{{Project: project, Location: "us-central1", Name: "svc"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	svc := "/v2/projects/" + project + "/locations/us-central1/services/svc"
	email := "e2e-caller@" + project + ".iam.gserviceaccount.com"

	lifecycle(t, e.URL(), e.BootstrapToken(), project,
		func(phase string) {
			// The next API calls of the apply proper fail: 503s on the first
			// apply (the account create and the policy writes), 429s with
			// Retry-After on the update. The checks below read the emulator
			// successfully, so every injected failure was consumed.
			if phase == "apply" {
				e.FailNext(4, http.StatusServiceUnavailable)
			} else {
				e.FailNext(2, http.StatusTooManyRequests)
			}
		},
		func(out map[string]any) {
			checkOutputs(t, out, project, number)
			code, pol := emulatorGET(t, e, svc+":getIamPolicy")
			b, _ := json.Marshal(pol["bindings"])
			if code != 200 || !strings.Contains(string(b), "serviceAccount:"+email) || !strings.Contains(strings.ToLower(string(b)), "user:dev@example.com") {
				t.Errorf("emulator policy after apply: %d %s", code, b)
			}
			if code, sa := emulatorGET(t, e, "/v1/projects/"+project+"/serviceAccounts/"+email); code != 200 || sa["displayName"] != "E2E caller" {
				t.Errorf("emulator account after apply: %d %v", code, sa)
			}
		},
		func() {
			code, pol := emulatorGET(t, e, svc+":getIamPolicy")
			b, _ := json.Marshal(pol["bindings"])
			if code != 200 || strings.Contains(string(b), "run.invoker") || strings.Contains(string(b), "run.developer") {
				t.Errorf("emulator policy after destroy: %d %s", code, b)
			}
			if code, _ := emulatorGET(t, e, "/v1/projects/"+project+"/serviceAccounts/"+email); code != 404 {
				t.Errorf("account after destroy: HTTP %d, want 404", code)
			}
		})
}
