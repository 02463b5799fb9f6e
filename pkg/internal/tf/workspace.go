package tf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
	"github.com/invokerctl/invokerctl/terraform"
)

// Files and directories inside a working directory.
const (
	RootModuleFile = "main.tf.json"
	VarsFile       = "terraform.tfvars.json"
	PlanFile       = "invokers.tfplan"
	StateFile      = "terraform.tfstate"
	CLIConfigFile  = "terraformrc"
	MirrorDir      = "provider-mirror"
	ModuleDir      = "modules/cloud-run-invokers"
	lockFile       = ".terraform.lock.hcl"
)

// ProviderConstraint is the hashicorp/google version range the module and the
// generated root module accept.
const ProviderConstraint = ">= 6.0, < 9.0"

// DefaultWorkdir is the working directory for a declaration when --workdir is
// not given: .invokerctl/<project>-<hash> next to the declaration. The hash
// covers the declaration's absolute path and the kind of target, so the
// same file planned against the emulator never shares state with Google.
func DefaultWorkdir(declPath, project string, kind target.Kind) (string, error) {
	abs, err := filepath.Abs(declPath)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs + "\x00" + string(kind)))
	return filepath.Join(filepath.Dir(abs), ".invokerctl", project+"-"+hex.EncodeToString(sum[:])[:10]), nil
}

// Workspace is a working directory laid out for one declaration and target.
type Workspace struct {
	Dir    string
	Decl   *config.Declaration
	Target target.Target
	// ProviderExecutable is the binary that serves the offline provider
	// (the invokerctl executable) — used only for an emulator target.
	ProviderExecutable string
}

// Path joins name to the working directory.
func (w *Workspace) Path(name string) string { return filepath.Join(w.Dir, filepath.FromSlash(name)) }

// Prepare makes Dir absolute, then writes the module copy, the root module,
// the variables and, for an emulator target, the provider mirror and the
// CLI configuration. It never touches state, the plan file or .terraform.
//
// Dir is made absolute first because Terraform runs inside it: a relative
// path handed to Terraform (the CLI configuration, the mirror inside it)
// would be read against the working directory a second time.
func (w *Workspace) Prepare() error {
	abs, err := filepath.Abs(w.Dir)
	if err != nil {
		return fmt.Errorf("working directory %s: %w", w.Dir, err)
	}
	w.Dir = abs
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return fmt.Errorf("creating working directory: %w", err)
	}
	if err := copyModule(w.Path(ModuleDir)); err != nil {
		return err
	}
	root, err := RootModule(w.Decl, w.Target)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(w.Path(RootModuleFile), root, 0o644); err != nil {
		return err
	}
	vars, err := json.MarshalIndent(VarsFor(w.Decl), "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(w.Path(VarsFile), append(vars, '\n'), 0o644); err != nil {
		return err
	}
	if !w.Target.IsEmulator() {
		// Against Google the CLI configuration is the user's own; a
		// leftover emulator one must not linger.
		_ = os.Remove(w.Path(CLIConfigFile))
		return nil
	}
	exe := w.ProviderExecutable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("locating the invokerctl executable for the offline provider: %w", err)
		}
	}
	if err := tfprovider.InstallMirror(w.Path(MirrorDir), exe); err != nil {
		return err
	}
	if err := writeFileAtomic(w.Path(CLIConfigFile), []byte(tfprovider.CLIConfig(w.Path(MirrorDir))), 0o600); err != nil {
		return err
	}
	// The offline provider's checksum changes with every build of
	// invokerctl; its lock entry would refuse the new one.
	if err := os.Remove(w.Path(lockFile)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// HasState reports whether the working directory holds local state.
func (w *Workspace) HasState() bool {
	_, err := os.Stat(w.Path(StateFile))
	return err == nil
}

// copyModule replaces dst with the embedded module.
func copyModule(dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return fs.WalkDir(terraform.Modules, terraform.InvokersModule, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, terraform.InvokersModule), "/")
		out := filepath.Join(dst, filepath.FromSlash(rel))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if path.Ext(p) != ".tf" && path.Base(p) != "README.md" {
			return nil
		}
		b, err := fs.ReadFile(terraform.Modules, p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}

func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// Vars are the root module's variables (terraform.tfvars.json), the shape of
// the module's inputs.
type Vars struct {
	ProjectID          string                `json:"project_id"`
	Region             string                `json:"region"`
	ServiceAccounts    map[string]AccountVar `json:"service_accounts"`
	InvokerGrants      map[string]GrantVar   `json:"invoker_grants"`
	TokenCreatorMember *string               `json:"token_creator_member"`
}

// AccountVar is one entry of var.service_accounts.
type AccountVar struct {
	AccountID   string `json:"account_id"`
	DisplayName string `json:"display_name"`
	Description string `json:"description"`
}

// GrantVar is one entry of var.invoker_grants.
type GrantVar struct {
	Service       *string  `json:"service"`
	Function      *string  `json:"function"`
	Location      string   `json:"location"`
	Members       []string `json:"members"`
	Authoritative bool     `json:"authoritative"`
}

// VarsFor turns a declaration into the root module's variables. Grants are
// keyed by Grant.Key(), accounts by their short name; members are resolved.
func VarsFor(d *config.Declaration) Vars {
	v := Vars{
		ProjectID:       d.Project,
		Region:          d.Location,
		ServiceAccounts: map[string]AccountVar{},
		InvokerGrants:   map[string]GrantVar{},
	}
	for _, sa := range d.ServiceAccounts {
		v.ServiceAccounts[sa.Name] = AccountVar{AccountID: sa.AccountID, DisplayName: sa.DisplayName, Description: sa.Description}
	}
	for _, g := range d.Grants {
		name := g.Name
		gv := GrantVar{Location: g.Location, Members: append([]string(nil), g.ResolvedMembers...), Authoritative: g.Authoritative}
		if g.Kind == config.KindFunction {
			gv.Function = &name
		} else {
			gv.Service = &name
		}
		v.InvokerGrants[g.Key()] = gv
	}
	if tc := d.SmokeTest.TokenCreator; tc != "" {
		v.TokenCreatorMember = &tc
	}
	return v
}

// moduleOutputs are passed through from the module to the root.
var moduleOutputs = []string{
	"service_account_emails", "service_account_members", "target_services",
	"invoker_members", "invoker_bindings", "token_creator_bindings",
}

// RootModule renders the generated root module (JSON syntax): the provider
// requirement, the backend (see usedBackend), the provider configuration, the
// variables, the module call and its outputs.
func RootModule(d *config.Declaration, t target.Target) ([]byte, error) {
	tfBlock := map[string]any{
		"required_version": ">= " + MinVersion[:3],
		"required_providers": map[string]any{
			"google": map[string]any{"source": "hashicorp/google", "version": ProviderConstraint},
		},
	}
	if b := usedBackend(d, t); b != nil {
		// A partial configuration: the settings come from
		// `init -backend-config`, so they are not frozen into this file.
		tfBlock["backend"] = map[string]any{b.Type: map[string]any{}}
	}
	provider := map[string]any{
		"project": "${var.project_id}",
		"region":  "${var.region}",
	}
	// Against the emulator every API the module uses points at it. The
	// token comes from GOOGLE_OAUTH_ACCESS_TOKEN in Terraform's
	// environment, never from a file.
	for k, v := range t.ProviderEndpoints() {
		provider[k] = escapeTemplate(v)
	}
	variables := map[string]any{
		"project_id": map[string]any{"type": "string", "description": "Project of the declaration."},
		"region":     map[string]any{"type": "string", "description": "Default location of the declaration."},
		"service_accounts": map[string]any{
			"type":        "map(object({account_id = string, display_name = string, description = string}))",
			"description": "Accounts to create, keyed by short name.",
		},
		"invoker_grants": map[string]any{
			"type":        "map(object({service = string, function = string, location = string, members = list(string), authoritative = bool}))",
			"description": "roles/run.invoker grants, keyed by kind/location/name.",
		},
		"token_creator_member": map[string]any{
			"type": "string", "default": nil,
			"description": "Member granted roles/iam.serviceAccountTokenCreator on each created account.",
		},
	}
	module := map[string]any{
		"source":               "./" + ModuleDir,
		"project_id":           "${var.project_id}",
		"service_accounts":     "${var.service_accounts}",
		"invoker_grants":       "${var.invoker_grants}",
		"token_creator_member": "${var.token_creator_member}",
	}
	outputs := map[string]any{}
	for _, o := range moduleOutputs {
		outputs[o] = map[string]any{"value": "${module.invokers." + o + "}"}
	}
	root := map[string]any{
		"//":        fmt.Sprintf("Generated by invokerctl from %s; changes are overwritten on every run.", filepath.Base(d.File)),
		"terraform": tfBlock,
		"provider":  map[string]any{"google": provider},
		"variable":  variables,
		"module":    map[string]any{"invokers": module},
		"output":    outputs,
	}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// escapeTemplate keeps a literal from being read as a template in JSON
// syntax, where strings are templates.
func escapeTemplate(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{")
}

// usedBackend is the declared backend that Terraform uses against t: any
// backend against Google; against the emulator only a gcs backend, which the
// emulator's Cloud Storage serves (its endpoint and token come from the
// environment, see Env), while other backend types are dropped and state
// stays in the working directory.
func usedBackend(d *config.Declaration, t target.Target) *config.Backend {
	if d == nil {
		return nil
	}
	b := d.Terraform.Backend
	if b == nil || t.IsEmulator() && b.Type != "gcs" {
		return nil
	}
	return b
}

// UsesEmulatorBackend reports whether the declaration's gcs backend is
// pointed at the emulator target t.
func UsesEmulatorBackend(d *config.Declaration, t target.Target) bool {
	return t.IsEmulator() && usedBackend(d, t) != nil
}

// gcsEmulatorDropped are gcs backend settings left out against the
// emulator: credentials and impersonation would send the backend to Google
// for a token, a declared endpoint would send it away from the emulator,
// and customer-supplied or KMS keys are not emulated.
var gcsEmulatorDropped = map[string]bool{
	"credentials": true, "access_token": true, "impersonate_service_account": true,
	"impersonate_service_account_delegates": true, "storage_custom_endpoint": true,
	"encryption_key": true, "kms_encryption_key": true,
}

// gcsOwnConfig and gcsOwnEnv are the gcs backend settings, declared or in
// the environment Terraform inherits, with which the backend reaches its
// bucket as another identity or through another endpoint than the
// target's.
var (
	gcsOwnConfig = []string{"credentials", "access_token", "impersonate_service_account", "storage_custom_endpoint"}
	gcsOwnEnv    = []string{
		"GOOGLE_BACKEND_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON",
		"GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_BACKEND_IMPERSONATE_SERVICE_ACCOUNT", "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",
		"GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT", "GOOGLE_STORAGE_CUSTOM_ENDPOINT",
	}
)

// BackendHasOwnAccess says whether d's gcs backend reaches its bucket
// against t otherwise than with t's credentials and endpoint: against
// Google, with credentials, an account to impersonate or an endpoint of
// its own, declared or in the environment getenv reads. Against an
// emulator Env hands the backend the emulator's endpoint and token, and
// the declared ones are dropped (gcsEmulatorDropped).
func BackendHasOwnAccess(d *config.Declaration, t target.Target, getenv func(string) string) bool {
	b := usedBackend(d, t)
	if b == nil || b.Type != "gcs" || t.IsEmulator() {
		return false
	}
	for _, k := range gcsOwnConfig {
		if b.Config[k] != "" {
			return true
		}
	}
	for _, k := range gcsOwnEnv {
		if getenv(k) != "" {
			return true
		}
	}
	return false
}

// BackendConfig lists the -backend-config KEY=VALUE arguments for init, in a
// stable order: the declared settings, against the emulator without those
// in gcsEmulatorDropped; none when no backend is used.
func BackendConfig(d *config.Declaration, t target.Target) []string {
	b := usedBackend(d, t)
	if b == nil {
		return nil
	}
	keys := make([]string, 0, len(b.Config))
	for k := range b.Config {
		if t.IsEmulator() && gcsEmulatorDropped[k] {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+b.Config[k])
	}
	return out
}
