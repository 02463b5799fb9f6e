package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/target"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
	"github.com/invokerctl/invokerctl/pkg/internal/tfprovider"
)

func init() { register(newPlanCmd) }

// inProcessEmulator is the --emulator value when no URL is given.
const inProcessEmulator = "in-process"

// provisionOptions are the flags plan, apply and destroy share.
type provisionOptions struct {
	File             string
	Terraform        string
	TerraformVersion string
	Workdir          string
	JSON             bool
	// Emulator is "" (Google), inProcessEmulator, or a URL.
	Emulator string
	Seed     string
	// AutoApprove skips the confirmation (apply, destroy).
	AutoApprove bool
	// humanToStderr sends summaries and prompts to stderr (run, whose
	// stdout is the final report).
	humanToStderr bool
}

// provisionDeps are what the run functions need from the outside world;
// tests replace them.
type provisionDeps struct {
	getenv func(string) string
	// startEmulator starts an in-process emulator for project with the
	// seed file (may be empty).
	startEmulator func(project, seed string) (url, token string, stop func(), err error)
	// isTerminal says whether r is an interactive terminal.
	isTerminal func(r io.Reader) bool
	// providerExecutable serves the offline provider; "" means this
	// executable.
	providerExecutable string
}

func defaultProvisionDeps() provisionDeps {
	return provisionDeps{
		getenv: os.Getenv,
		startEmulator: func(project, seed string) (string, string, func(), error) {
			emu, err := emulator.New(emulator.Options{Project: project, SeedFile: seed})
			if err != nil {
				return "", "", nil, err
			}
			return emu.URL(), emu.BootstrapToken(), func() { _ = emu.Close() }, nil
		},
		isTerminal: func(r io.Reader) bool {
			f, ok := r.(*os.File)
			if !ok {
				return false
			}
			fi, err := f.Stat()
			return err == nil && fi.Mode()&os.ModeCharDevice != 0
		},
	}
}

// addProvisionFlags registers the shared flags on cmd.
func addProvisionFlags(cmd *cobra.Command, o *provisionOptions, confirm bool) {
	f := cmd.Flags()
	f.StringVarP(&o.File, "file", "f", "", "declaration to provision (invokers.yaml)")
	f.StringVar(&o.Terraform, "terraform", "", "Terraform (or OpenTofu) binary to use; default: terraform >= 1.5 on PATH, else a download")
	f.StringVar(&o.TerraformVersion, "terraform-version", "", "use exactly this Terraform version (found on PATH or downloaded)")
	f.StringVar(&o.Workdir, "workdir", "", "Terraform working directory; default .invokerctl/<project>-<hash> next to the declaration")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON on stdout (Terraform's own output goes to stderr)")
	addEmulatorFlags(cmd, &o.Emulator, &o.Seed)
	if confirm {
		f.BoolVar(&o.AutoApprove, "auto-approve", false, "do not ask for confirmation")
	}
}

// provisionArgs rejects positional arguments, with a hint for the common
// `--emulator URL` spelling (the URL needs `=`).
func provisionArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if strings.Contains(args[0], "://") {
		return &usageError{err: fmt.Errorf("unexpected argument %q: write --emulator=%s", args[0], args[0])}
	}
	return &usageError{err: fmt.Errorf("unexpected argument %q\nRun '%s --help' for usage.", args[0], cmd.CommandPath())}
}

// provisionSession is a loaded declaration, its target and an open Runner.
type provisionSession struct {
	decl   *config.Declaration
	target target.Target
	runner *tf.Runner
	stop   func()
}

func (s *provisionSession) Close() {
	if s.runner != nil {
		s.runner.Close()
	}
	if s.stop != nil {
		s.stop()
	}
}

// openProvision validates the declaration (before anything else runs),
// resolves the target, finds Terraform and lays out the working directory.
func openProvision(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, deps provisionDeps) (*provisionSession, error) {
	if o.File == "" {
		return nil, &usageError{err: errors.New("-f FILE is required: the declaration to provision")}
	}
	if err := checkSeedFlag(o.Emulator, o.Seed); err != nil {
		return nil, err
	}
	decl, err := config.Load(o.File)
	if err != nil {
		return nil, err
	}
	s := &provisionSession{decl: decl}
	if s.target, s.stop, err = resolveTarget(ios, o.Emulator, o.Seed, decl.Project, deps); err != nil {
		return nil, err
	}
	if decl.Terraform.Backend != nil && s.target.IsEmulator() {
		fmt.Fprintf(ios.ErrOut, "Note: the declared %s backend is not used against the emulator; state stays in the working directory.\n", decl.Terraform.Backend.Type)
	}
	environ := os.Environ()
	if s.target.IsEmulator() && deps.getenv(tfprovider.SleepScaleEnv) == "" {
		// The emulator has no eventual consistency to wait out: scale the
		// provider's fixed waits (10 s after each account creation, IAM
		// verification reads) down, keeping some back-off for retries.
		environ = append(environ, tfprovider.SleepScaleEnv+"=0.1")
	}
	s.runner, err = tf.Open(ctx, tf.Options{
		Decl:               decl,
		Target:             s.target,
		Workdir:            o.Workdir,
		Find:               tf.FindOptions{ExecPath: o.Terraform, Version: o.TerraformVersion},
		ProviderExecutable: deps.providerExecutable,
		Stdout:             ios.ErrOut,
		Stderr:             ios.ErrOut,
		Environ:            environ,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	fmt.Fprintf(ios.ErrOut, "Using %s in %s against %s.\n", s.runner.ExecPath(), s.runner.WS.Dir, s.target)
	return s, nil
}

// provisionResult is the --json document of plan, apply and destroy.
type provisionResult struct {
	File    string      `json:"file"`
	Project string      `json:"project"`
	Target  target.Kind `json:"target"`
	Workdir string      `json:"workdir"`
	Changes bool        `json:"changes"`
	Summary *tf.Summary `json:"summary"`
	// Applied is set by apply and destroy.
	Applied *bool       `json:"applied,omitempty"`
	Outputs *tf.Outputs `json:"outputs,omitempty"`
}

func (s *provisionSession) result(res *tf.PlanResult) *provisionResult {
	return &provisionResult{File: s.decl.File, Project: s.decl.Project, Target: s.target.Kind(), Workdir: s.runner.WS.Dir,
		Changes: res.Changes, Summary: res.Summary}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPlanCmd(ios *iostreams.IOStreams) *cobra.Command {
	o := &provisionOptions{}
	cmd := &cobra.Command{
		Use:   "plan -f FILE",
		Short: "Show what provisioning a declaration would change",
		Long: `Validate the declaration, then run terraform init and plan in its working directory and
summarize the plan as grant changes: accounts to create or delete, invoker members to add
or remove per service. Terraform's own output goes to stderr as it runs.

Exit codes: 0 no changes, 2 changes present (like terraform plan -detailed-exitcode), 1 error.`,
		Example: `  invokerctl plan -f invokers.yaml
  invokerctl plan -f examples/quickstart/invokers.yaml --emulator --seed examples/quickstart/seed.yaml
  invokerctl plan -f invokers.yaml --emulator=http://127.0.0.1:8080 --json`,
		Args: provisionArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), ios, o, defaultProvisionDeps())
		},
	}
	addProvisionFlags(cmd, o, false)
	return cmd
}

func runPlan(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, deps provisionDeps) error {
	s, err := openProvision(ctx, ios, o, deps)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.runner.Init(ctx); err != nil {
		return err
	}
	res, err := s.runner.Plan(ctx, false)
	if err != nil {
		return err
	}
	if o.JSON {
		if err := writeJSON(ios.Out, s.result(res)); err != nil {
			return err
		}
	} else {
		res.Summary.Render(ios.Out)
	}
	if res.Changes {
		return WithExitCode(ExitChanges, nil)
	}
	return nil
}
