package server

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// TestGcloudAssetAndFolders runs the installed gcloud against the emulator
// with the endpoint overrides `invokerctl emulator serve` exports:
// asset search-all-iam-policies over a folder scope, folder policies and
// project ancestry. Skipped where gcloud is absent.
func TestGcloudAssetAndFolders(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud not on PATH; skipping the gcloud test")
	}
	if testing.Short() {
		t.Skip("gcloud is slow; skipped with -short")
	}
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(e.BootstrapToken()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"CLOUDSDK_CONFIG="+filepath.Join(dir, "config"),
		"CLOUDSDK_CORE_PROJECT=audit-proj",
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_AUTH_ACCESS_TOKEN_FILE="+tokFile,
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER="+e.URL()+"/",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDASSET="+e.URL()+"/",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1",
	)
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, gcloud, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("gcloud %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return out
	}
	var results []struct {
		Resource     string   `json:"resource"`
		AssetType    string   `json:"assetType"`
		Project      string   `json:"project"`
		Folders      []string `json:"folders"`
		Organization string   `json:"organization"`
		Policy       struct {
			Bindings []struct {
				Role    string   `json:"role"`
				Members []string `json:"members"`
			} `json:"bindings"`
		} `json:"policy"`
	}
	// gcloud pages through every result itself (--page-size 2: 4 calls).
	out := run("asset", "search-all-iam-policies", "--scope=folders/100", `--query=policy:"roles/run.invoker"`, "--page-size=2", "--format=json")
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("search output: %v\n%s", err, out)
	}
	if len(results) != 7 || results[0].AssetType != "run.googleapis.com/Service" || results[0].Project != "projects/100000000001" ||
		results[0].Organization != "organizations/4242" || len(results[0].Folders) != 2 || results[0].Policy.Bindings[0].Role != "roles/run.invoker" {
		t.Fatalf("search results %+v", results)
	}
	if n := e.Calls()["cloudasset.v1.searchAllIamPolicies"]; n != 4 {
		t.Errorf("searchAllIamPolicies calls: %d, want 4", n)
	}
	var pol struct {
		Bindings []struct {
			Role string `json:"role"`
		} `json:"bindings"`
		Etag string `json:"etag"`
	}
	out = run("resource-manager", "folders", "get-iam-policy", "200", "--format=json")
	if err := json.Unmarshal(out, &pol); err != nil || len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/viewer" || pol.Etag == "" {
		t.Fatalf("folders get-iam-policy: %v %s", err, out)
	}
	if out := run("resource-manager", "folders", "describe", "100", "--format=value(displayName)"); strings.TrimSpace(string(out)) != "Payments" {
		t.Errorf("folders describe: %s", out)
	}
	if out := run("projects", "get-ancestors", "pay-proj", "--format=value(id)"); strings.Join(strings.Fields(string(out)), " ") != "pay-proj 200 100 4242" {
		t.Errorf("get-ancestors: %q", out)
	}
}
