package tf

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// Environment variables invokerctl sets for Terraform.
const (
	envCLIConfig   = "TF_CLI_CONFIG_FILE"
	envPluginCache = "TF_PLUGIN_CACHE_DIR"
	envAccessToken = "GOOGLE_OAUTH_ACCESS_TOKEN"
	envMetadata    = "GCE_METADATA_HOST"
	envCheckpoint  = "CHECKPOINT_DISABLE"
	// envBackendEndpoint is the gcs backend's storage_custom_endpoint. Set
	// in the environment rather than by -backend-config, it is not saved in
	// .terraform, so an emulator on another port needs no re-initialization.
	envBackendEndpoint = "GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT"
)

// googleCredentialEnv are the provider's environment settings that would
// send an emulator run to Google (credentials, impersonation, endpoints,
// universe); they are removed from Terraform's environment for an emulator
// target so only the generated configuration and the emulator token apply.
func isGoogleCredentialEnv(k string) bool {
	switch k {
	case "GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON",
		"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",
		"GOOGLE_CLOUD_UNIVERSE_DOMAIN", "GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_BILLING_PROJECT",
		"GOOGLE_USER_PROJECT_OVERRIDE", "GOOGLE_BACKEND_CREDENTIALS",
		"GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT", "GOOGLE_ENCRYPTION_KEY", "GOOGLE_KMS_ENCRYPTION_KEY":
		return true
	}
	return strings.HasPrefix(k, "GOOGLE_") && strings.HasSuffix(k, "_CUSTOM_ENDPOINT")
}

// DefaultPluginCacheDir is the provider plugin cache shared by every working
// directory (TF_PLUGIN_CACHE_DIR), unless the user set their own.
func DefaultPluginCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "invokerctl", "plugin-cache")
}

// EnvSettings are the inputs of Env besides the process environment.
type EnvSettings struct {
	// PluginCacheDir is used for a Google target when the environment
	// sets no TF_PLUGIN_CACHE_DIR.
	PluginCacheDir string
	// RefusingProxy is the URL of a local proxy that refuses every
	// CONNECT, used as HTTPS_PROXY for an emulator target (see Env).
	RefusingProxy string
}

// Env computes Terraform's environment from the process environment base
// (pure, so it is unit-tested).
//
// Against Google it only adds the shared plugin cache. Against the emulator:
//   - TF_CLI_CONFIG_FILE points at the generated CLI configuration that
//     installs the offline provider from the working directory's mirror;
//   - GOOGLE_OAUTH_ACCESS_TOKEN carries the emulator token (never a file);
//   - GCE_METADATA_HOST is the emulator, so the provider's ADC probe at
//     configure time answers at once instead of probing 169.254.169.254;
//   - HTTPS_PROXY is a local proxy that refuses every CONNECT, so the one
//     call the provider makes to a hard-coded https:// Google host at
//     configure time (the userinfo lookup, contract §2.1.3) fails at once
//     with a non-retryable error instead of waiting on DNS; the emulator
//     itself is http:// and never proxied. This keeps universe_domain at
//     googleapis.com, so account emails stay known at plan time;
//   - for a declared gcs backend, GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT
//     points the backend at the emulator's Cloud Storage, which takes the
//     same GOOGLE_OAUTH_ACCESS_TOKEN (the backend's access_token setting);
//   - credentials and endpoint overrides from the user's environment are
//     dropped, so nothing reaches Google by accident.
//
// Variables terraform-exec manages itself (TF_LOG, TF_INPUT, ...) are
// removed, as SetEnv requires.
func (w *Workspace) Env(base map[string]string, s EnvSettings) map[string]string {
	env := make(map[string]string, len(base)+8)
	for k, v := range base {
		env[k] = v
	}
	if !w.Target.IsEmulator() {
		if env[envPluginCache] == "" && s.PluginCacheDir != "" {
			env[envPluginCache] = s.PluginCacheDir
		}
		return tfexec.CleanEnv(env)
	}
	for k := range env {
		if isGoogleCredentialEnv(k) {
			delete(env, k)
		}
	}
	// The mirror is local: a shared plugin cache adds nothing and is not
	// safe for concurrent init.
	delete(env, envPluginCache)
	env[envCLIConfig] = w.Path(CLIConfigFile)
	env[envAccessToken] = w.Target.Token()
	env[envMetadata] = w.Target.MetadataHost()
	env[envCheckpoint] = "1"
	if UsesEmulatorBackend(w.Decl, w.Target) {
		env[envBackendEndpoint] = w.Target.URL() + "/storage/v1/"
	}
	if s.RefusingProxy != "" {
		for _, k := range []string{"HTTPS_PROXY", "https_proxy"} {
			env[k] = s.RefusingProxy
		}
	}
	// Never send the emulator through a user's proxy.
	noProxy := w.Target.Hostname()
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		if v := env[k]; v != "" {
			env[k] = v + "," + noProxy
		} else {
			env[k] = noProxy
		}
	}
	return tfexec.CleanEnv(env)
}

// environMap turns os.Environ() into a map.
func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}
