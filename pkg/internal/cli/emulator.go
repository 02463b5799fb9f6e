package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// NewCmdEmulator builds `emulator`, the parent of `emulator serve`.
func NewCmdEmulator(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the local Google Cloud emulator (IAM, Cloud Run, Cloud Functions, data plane)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdEmulatorServe(f, nil))
	return cmd
}

// EmulatorServeOptions are the inputs of `invokerctl emulator serve`.
type EmulatorServeOptions struct {
	cmdEnv
	Addr             string
	Project          string
	Seed             string
	State            string
	Latency          time.Duration
	ErrorRate        float64
	ErrorCode        int
	Quota            float64
	PropagationDelay time.Duration
	MetadataAccount  string
	Token            string
	EnvFile          string
	Verbose          bool
}

// NewCmdEmulatorServe builds `emulator serve`; runF replaces
// emulatorServeRun in tests.
func NewCmdEmulatorServe(f *cmdutil.Factory, runF func(*EmulatorServeOptions) error) *cobra.Command {
	opts := &EmulatorServeOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve every emulated API on one address until interrupted",
		Long: `Serve the emulated Google APIs (IAM, IAM Credentials, OAuth2 token endpoint and
certificates, metadata server, Resource Manager, Cloud Run Admin v1/v2, Cloud
Functions v2) on one address, and every Cloud Run service's URL on its own
loopback port.

Once ready it prints shell "export NAME=VALUE" lines that point gcloud, the
Terraform google provider and Go client libraries at it, on standard output
or, with --env-file PATH, into PATH (source it). They include the
emulator's owner token: PATH is created readable by its owner only (mode
0600), an existing file is narrowed to 0600 before it is rewritten, and a
symbolic link, a non-regular file or a file that cannot be made 0600 is
refused; PATH is removed when the emulator stops. Logs go to standard
error. It serves until SIGINT or SIGTERM, then saves the state (--state)
and exits 0.`,
		Example: `  invokerctl emulator serve --seed examples/emulator-seed.yaml --env-file emulator.env &
  . ./emulator.env
  gcloud run services get-iam-policy orders-api --region us-central1`,
		Args: cobra.NoArgs,
		RunE: runE(&opts.cmdEnv, opts, runF, emulatorServeRun),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", "127.0.0.1:0", "listen address (port 0: a free port); loopback unless you mean otherwise")
	fl.StringVar(&opts.Project, "project", "", "default project id (default: the seed's defaults.project, else demo-project)")
	fl.StringVar(&opts.Seed, "seed", "", "seed file (YAML or JSON) creating projects, accounts, groups, services, functions, policies")
	fl.StringVar(&opts.State, "state", "", "state file: loaded at start, written atomically after every change and at exit")
	fl.DurationVar(&opts.Latency, "latency", 0, "latency added to every request")
	fl.Float64Var(&opts.ErrorRate, "error-rate", 0, "fraction (0..1) of API requests failed with --error-code")
	fl.IntVar(&opts.ErrorCode, "error-code", 503, "status of injected errors: 429 (with Retry-After) or 503")
	fl.Float64Var(&opts.Quota, "quota", 0, "API requests per second beyond which 429 is answered (0: unlimited)")
	fl.DurationVar(&opts.PropagationDelay, "propagation-delay", 0, "time before an IAM policy change reaches the data plane")
	fl.StringVar(&opts.MetadataAccount, "metadata-account", "", "service account email the metadata server speaks for")
	fl.StringVar(&opts.Token, "token", "", "bootstrap owner's static access token (default: random)")
	fl.StringVar(&opts.EnvFile, "env-file", "", "write the export lines (they hold the owner token) to this file, mode 0600, instead of standard output; removed at exit")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "log every request (never tokens) to standard error")
	return cmd
}

func (o *EmulatorServeOptions) validate() error {
	if o.ErrorRate < 0 || o.ErrorRate > 1 {
		return cmdutil.Usagef("--error-rate must be between 0 and 1, not %v", o.ErrorRate)
	}
	if o.ErrorCode != 429 && o.ErrorCode != 503 {
		return cmdutil.Usagef("--error-code must be 429 or 503, not %d", o.ErrorCode)
	}
	if o.Quota < 0 {
		return cmdutil.Usagef("--quota must not be negative")
	}
	if o.Latency < 0 || o.PropagationDelay < 0 {
		return cmdutil.Usagef("--latency and --propagation-delay must not be negative")
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return cmdutil.Usagef("--addr %q: %v", o.Addr, err)
	}
	return nil
}

// emulatorOptions turns flags into emulator.Options (loading the seed, so
// a bad seed fails before anything listens).
func (o *EmulatorServeOptions) emulatorOptions(logOut io.Writer) (emulator.Options, error) {
	level := slog.LevelInfo
	if o.Verbose {
		level = slog.LevelDebug
	}
	eo := emulator.Options{
		Addr:                   o.Addr,
		Project:                o.Project,
		StateFile:              o.State,
		BootstrapToken:         o.Token,
		MetadataServiceAccount: o.MetadataAccount,
		Latency:                o.Latency,
		ErrorRate:              o.ErrorRate,
		ErrorCode:              o.ErrorCode,
		QPS:                    o.Quota,
		PropagationDelay:       o.PropagationDelay,
		Logger:                 slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level})),
	}
	if o.Seed != "" {
		seed, err := loadSeed(o.cmdEnv, o.Seed)
		if err != nil {
			return eo, err
		}
		eo.Seed = seed
		if eo.Project == "" {
			eo.Project = seed.Defaults.Project
		}
	}
	return eo, nil
}

// isLoopbackAddr reports whether host:port binds only the loopback interface.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func emulatorServeRun(o *EmulatorServeOptions) error {
	ctx, ios := o.Ctx, o.IO
	if err := o.validate(); err != nil {
		return err
	}
	if !isLoopbackAddr(o.Addr) {
		fmt.Fprintf(ios.ErrOut, "warning: --addr %s is not a loopback address: anyone who can reach it can use the emulator's owner token and keys\n", o.Addr)
	}
	eo, err := o.emulatorOptions(ios.ErrOut)
	if err != nil {
		return err
	}
	emu, err := startEmulator(o.cmdEnv, eo)
	if err != nil {
		return err
	}
	// gcloud reads an access token only from a file: keep the bootstrap
	// token in a private one for the emulator's lifetime.
	tokenDir, err := os.MkdirTemp("", "invokerctl-emulator-")
	if err != nil {
		_ = emu.Close()
		return err
	}
	defer os.RemoveAll(tokenDir)
	tokenFile := filepath.Join(tokenDir, "bootstrap-token")
	if err := os.WriteFile(tokenFile, []byte(emu.BootstrapToken()), 0o600); err != nil {
		_ = emu.Close()
		return err
	}
	var exports strings.Builder
	for _, kv := range emulatorEnv(emu, tokenFile) {
		fmt.Fprintf(&exports, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	if o.EnvFile == "" {
		fmt.Fprint(ios.Out, exports.String())
	} else {
		if err := writeEnvFile(o.EnvFile, []byte(exports.String())); err != nil {
			_ = emu.Close()
			return err
		}
		defer os.Remove(o.EnvFile)
		src := o.EnvFile
		if !strings.Contains(src, "/") {
			src = "./" + src // `. name` would search $PATH
		}
		fmt.Fprintf(ios.ErrOut, "invokerctl emulator: wrote the environment to %s (mode 0600); source it with: . %s\n", o.EnvFile, shellQuote(src))
	}
	fmt.Fprintf(ios.ErrOut, "invokerctl emulator: serving %s (project %s); stop with Ctrl-C or SIGTERM\n", emu.URL(), emu.Project())
	<-ctx.Done()
	fmt.Fprintln(ios.ErrOut, "invokerctl emulator: shutting down")
	if err := emu.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("emulator: shutting down: %w", err)
	}
	fmt.Fprintln(ios.ErrOut, "invokerctl emulator: stopped")
	return nil
}

// emulatorEnv is the environment that points clients at emu, in print order.
// tokenFile holds the bootstrap token for gcloud.
func emulatorEnv(emu *emulator.Emulator, tokenFile string) [][2]string {
	u := emu.URL()
	return [][2]string{
		{"INVOKERCTL_EMULATOR_URL", u},
		{"INVOKERCTL_EMULATOR_TOKEN", emu.BootstrapToken()},
		{"GCE_METADATA_HOST", emu.Addr()},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_RUN", u + "/"},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM", u + "/"},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS", u + "/"},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER", u + "/"},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDASSET", u + "/"},
		{"CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE", u + "/storage/v1/"},
		{"CLOUDSDK_CORE_PROJECT", emu.Project()},
		{"CLOUDSDK_AUTH_ACCESS_TOKEN_FILE", tokenFile},
		{"GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT", u + "/v2/"},
		{"GOOGLE_IAM_CUSTOM_ENDPOINT", u + "/v1/"},
		{"GOOGLE_IAM_BETA_CUSTOM_ENDPOINT", u + "/v1/"},
		{"GOOGLE_IAM_CREDENTIALS_CUSTOM_ENDPOINT", u + "/v1/"},
		{"GOOGLE_RESOURCE_MANAGER_CUSTOM_ENDPOINT", u + "/v1/"},
		{"GOOGLE_RESOURCE_MANAGER_V3_CUSTOM_ENDPOINT", u + "/v3/"},
		{"GOOGLE_CLOUDFUNCTIONS2_CUSTOM_ENDPOINT", u + "/v2/"},
		{"GOOGLE_BACKEND_STORAGE_CUSTOM_ENDPOINT", u + "/storage/v1/"},
		{"GOOGLE_PROJECT", emu.Project()},
		{"GOOGLE_OAUTH_ACCESS_TOKEN", emu.BootstrapToken()},
	}
}

// shellQuote quotes s for POSIX shells: always in single quotes; a single
// quote inside is closed, escaped with a backslash and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
