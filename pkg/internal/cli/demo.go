package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/examples"
	"github.com/invokerctl/invokerctl/pkg/emulator"
	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// DemoOptions are the inputs of `invokerctl demo`.
type DemoOptions struct {
	cmdEnv
	Dir              string
	Keep             bool
	PropagationDelay time.Duration
	Format           string
	Terraform        string
}

// NewCmdDemo builds `demo`; runF replaces demoRun in tests.
func NewCmdDemo(f *cmdutil.Factory, runF func(*DemoOptions) error) *cobra.Command {
	opts := &DemoOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline offline: emulator, terraform, verify, invoke",
		Long: `Start the emulator in-process with the quickstart's project (two Cloud Run services, an
HTTP function and an event-driven function), then run the quickstart declaration through
every stage with the real terraform binary and the offline provider: plan and apply,
verify the bindings, invoke each service as its caller — waiting out an IAM propagation
delay the emulator imposes — and prove that a caller without a grant and an
unauthenticated call are refused. Nothing leaves this machine.

Exit codes: as for run (0 all stages passed).`,
		Args: cobra.NoArgs,
		RunE: runE(&opts.cmdEnv, opts, runF, demoRun),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", "", "directory for the declaration and Terraform's working directory (default: a new temporary directory)")
	fl.BoolVar(&opts.Keep, "keep", false, "keep the temporary directory")
	fl.DurationVar(&opts.PropagationDelay, "propagation-delay", 5*time.Second, "how long the emulator takes to apply a policy change to the data plane")
	fl.StringVar(&opts.Format, "format", "table", "report format: table, json, junit or markdown")
	fl.StringVar(&opts.Terraform, "terraform", "", "Terraform binary (default: terraform >= 1.5 on PATH)")
	return cmd
}

func demoRun(opts *DemoOptions) error {
	po := &ProofFlags{Format: opts.Format, MaxWait: 2 * time.Minute}
	if err := po.validate(); err != nil {
		return err
	}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "invokerctl-demo-")
		if err != nil {
			return err
		}
		dir = tmp
		if !opts.Keep {
			defer os.RemoveAll(tmp)
		}
	}
	decl, err := writeQuickstart(dir)
	if err != nil {
		return err
	}
	seedData, err := fs.ReadFile(examples.Quickstart, "quickstart/seed.yaml")
	if err != nil {
		return err
	}
	seed, err := emulator.ParseSeed(seedData, "examples/quickstart/seed.yaml")
	if err != nil {
		return err
	}
	ios := opts.IO
	fmt.Fprintf(ios.ErrOut, "invokerctl demo: the quickstart declaration (examples/quickstart/invokers.yaml), offline.\n")
	fmt.Fprintf(ios.ErrOut, "Working in %s; the emulator applies policy changes to the data plane after %s.\n\n", dir, opts.PropagationDelay)

	// The in-process emulator holds the embedded seed and the delay.
	f := *opts.Factory
	f.StartEmulator = func(eo emulator.Options) (*emulator.Emulator, error) {
		eo.Seed, eo.PropagationDelay = seed, opts.PropagationDelay
		return opts.Factory.StartEmulator(eo)
	}
	env := opts.cmdEnv
	env.Factory = &f
	prov := &ProvisionFlags{File: decl, Emulator: inProcessEmulator, AutoApprove: true, Terraform: opts.Terraform,
		Workdir: filepath.Join(dir, "work"), humanToStderr: true}
	s, err := openProvision(env, prov)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := runStages(env, prov, po, s); err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "\nDemo complete: the grants were provisioned by Terraform, confirmed through the Run Admin API,\nand proven by calling each service with its caller's ID token.\n")
	return nil
}

// writeQuickstart writes the embedded quickstart declaration into dir and
// returns its path.
func writeQuickstart(dir string) (string, error) {
	data, err := fs.ReadFile(examples.Quickstart, "quickstart/invokers.yaml")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "invokers.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("writing the demo declaration: %w", err)
	}
	return path, nil
}
