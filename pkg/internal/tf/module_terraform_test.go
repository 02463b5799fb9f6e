package tf

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

// offlineTerraform is what every test that runs the real terraform binary on
// a root calling the module needs, set up once per test: the binary, a
// filesystem mirror holding the offline build of hashicorp/google, a CLI
// configuration that installs the provider from that mirror only, and an
// environment without Google credentials whose HTTPS proxy refuses every
// CONNECT, so nothing can reach Google.
type offlineTerraform struct {
	path string
	env  map[string]string
}

func newOfflineTerraform(t *testing.T) *offlineTerraform {
	t.Helper()
	tfPath := needTerraform(t)
	dir := t.TempDir()
	mirror := filepath.Join(dir, "mirror")
	if err := tfprovider.InstallMirror(mirror, invokerctlBinary(t)); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(rc, []byte(tfprovider.CLIConfig(mirror)), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy, err := startRefusingProxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	env := environMap(os.Environ())
	for k := range env {
		if isGoogleCredentialEnv(k) || strings.HasPrefix(k, "TF_") {
			delete(env, k)
		}
	}
	env["TF_CLI_CONFIG_FILE"] = rc
	env["CHECKPOINT_DISABLE"] = "1"
	env["TF_IN_AUTOMATION"] = "1"
	env["HTTPS_PROXY"], env["https_proxy"] = proxy.URL(), proxy.URL()
	// The provider's waits (IAM propagation checks, back-off) are for
	// Google; the emulator needs none.
	env[tfprovider.SleepScaleEnv] = "0"
	return &offlineTerraform{path: tfPath, env: env}
}

// envList turns env into the form os/exec takes.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// emulatorEnv points the provider at emu the way a user of the module points
// the real hashicorp/google provider at other endpoints: no provider block
// settings, only GOOGLE_<API>_CUSTOM_ENDPOINT variables and an access token in
// GOOGLE_OAUTH_ACCESS_TOKEN. GCE_METADATA_HOST answers the provider's
// credential probe at once.
func (o *offlineTerraform) emulatorEnv(t *testing.T, emu *emulator.Emulator) map[string]string {
	t.Helper()
	return o.emulatorEnvAt(t, emu.URL(), emu.BootstrapToken())
}

// emulatorEnvAt is emulatorEnv for an emulator served at url (such as a
// test's gate in front of one).
func (o *offlineTerraform) emulatorEnvAt(t *testing.T, url, token string) map[string]string {
	t.Helper()
	tg, err := target.Emulator(url, token)
	if err != nil {
		t.Fatal(err)
	}
	env := make(map[string]string, len(o.env)+12)
	for k, v := range o.env {
		env[k] = v
	}
	for attr, url := range tg.ProviderEndpoints() {
		env["GOOGLE_"+strings.ToUpper(attr)] = url
	}
	env["GOOGLE_OAUTH_ACCESS_TOKEN"] = tg.Token()
	env["GCE_METADATA_HOST"] = tg.MetadataHost()
	env["NO_PROXY"], env["no_proxy"] = tg.Hostname(), tg.Hostname()
	return env
}

// initRoot lays the module out at root/modules/cloud-run-invokers (where the
// root at root/rootDir finds it), runs `terraform init` in root/rootDir with
// env and returns a terraform-exec handle on it whose output goes to log.
func (o *offlineTerraform) initRoot(t *testing.T, ctx context.Context, root, rootDir string, env map[string]string, log *bytes.Buffer) *tfexec.Terraform {
	t.Helper()
	if err := copyModule(filepath.Join(root, ModuleDir)); err != nil {
		t.Fatal(err)
	}
	tf, err := tfexec.NewTerraform(filepath.Join(root, rootDir), o.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.SetEnv(tfexec.CleanEnv(env)); err != nil {
		t.Fatal(err)
	}
	tf.SetStdout(log)
	tf.SetStderr(log)
	if err := tf.Init(ctx, tfexec.Backend(false)); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, log.String())
	}
	return tf
}
