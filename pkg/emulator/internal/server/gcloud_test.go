package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invokerctl/invokerctl/pkg/emulator/internal/core"
)

// gcloudAt returns a runner of the installed gcloud pointed at e with the
// endpoint overrides `invokerctl emulator serve` exports for IAM, IAM
// Credentials, Resource Manager and Cloud Asset, as the bootstrap owner in
// project.
func gcloudAt(t *testing.T, e *core.Server, project string) func(args ...string) string {
	t.Helper()
	u := e.URL() + "/"
	return gcloudAgainst(t, e, project, map[string]string{
		"iam": u, "iamcredentials": u, "cloudresourcemanager": u, "cloudasset": u,
	})
}

// gcloudAgainst returns a runner of the installed gcloud pointed at e: its
// own configuration directory, project, the bootstrap token as its access
// token file, and the given api_endpoint_overrides (API name → URL). The
// runner answers gcloud's stdout and fails the test (with stderr) when
// gcloud fails. It skips the test where gcloud is absent or under -short.
func gcloudAgainst(t *testing.T, e *core.Server, project string, overrides map[string]string) func(args ...string) string {
	t.Helper()
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud not on PATH; skipping the gcloud test")
	}
	if testing.Short() {
		t.Skip("gcloud is slow; skipped with -short")
	}
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(e.BootstrapToken()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"CLOUDSDK_CONFIG="+filepath.Join(dir, "config"),
		"CLOUDSDK_CORE_PROJECT="+project,
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_AUTH_ACCESS_TOKEN_FILE="+tokFile,
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1",
	)
	for api, url := range overrides {
		env = append(env, "CLOUDSDK_API_ENDPOINT_OVERRIDES_"+strings.ToUpper(api)+"="+url)
	}
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, gcloud, args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gcloud %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return string(out)
	}
}
