package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// TestGcloudAssetAndFolders runs the installed gcloud against the emulator
// with the endpoint overrides `invokerctl emulator serve` exports:
// asset search-all-iam-policies over a folder scope, folder policies and
// project ancestry. Skipped where gcloud is absent.
func TestGcloudAssetAndFolders(t *testing.T) {
	t.Parallel()
	e, _ := hierStart(t, core.Options{})
	run := gcloudAt(t, e, "audit-proj")
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
	if err := json.Unmarshal([]byte(out), &results); err != nil {
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
	if err := json.Unmarshal([]byte(out), &pol); err != nil || len(pol.Bindings) != 1 || pol.Bindings[0].Role != "roles/viewer" || pol.Etag == "" {
		t.Fatalf("folders get-iam-policy: %v %s", err, out)
	}
	if out := run("resource-manager", "folders", "describe", "100", "--format=value(displayName)"); strings.TrimSpace(out) != "Payments" {
		t.Errorf("folders describe: %s", out)
	}
	if out := run("projects", "get-ancestors", "pay-proj", "--format=value(id)"); strings.Join(strings.Fields(out), " ") != "pay-proj 200 100 4242" {
		t.Errorf("get-ancestors: %q", out)
	}
}
