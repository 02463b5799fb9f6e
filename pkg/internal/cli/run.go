package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
)

// RunOptions are the inputs of `invokerctl run`.
type RunOptions struct {
	cmdEnv
	ProvisionFlags
	ProofFlags
}

// NewCmdRun builds `run`; runF replaces runRun in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "run -f FILE",
		Short: "plan → apply → verify → invoke, stopping at the first failing stage",
		Long: `Provision the declaration with Terraform (plan, confirm unless --auto-approve, apply that
plan), confirm the bindings through the Google APIs (verify), then call each service with
its caller's ID token and prove the refusals (invoke). Terraform's output, the plan summary
and progress go to stderr; the report (--format table, json, junit or markdown) goes to
stdout, and its Markdown summary is appended to $GITHUB_STEP_SUMMARY when that is set.

Exit codes: 0 every stage passed; 1 an error (bad declaration, Terraform or API failure,
not confirmed); 3 verify failed; 4 invoke failed.`,
		Example: `  invokerctl run -f invokers.yaml --auto-approve
  invokerctl run -f invokers.yaml --auto-approve --format junit > invokers.xml
  invokerctl run -f invokers.yaml --auto-approve --format markdown > comment.md
  invokerctl run -f examples/quickstart/invokers.yaml --emulator --seed examples/quickstart/seed.yaml --auto-approve`,
		Args: noArgs,
		RunE: runE(&opts.cmdEnv, opts, runF, runRun),
	}
	addProvisionFlags(cmd, &opts.ProvisionFlags, true)
	cmd.Flags().Lookup("json").Hidden = true // --format json replaces it here
	addProofFlags(cmd, &opts.ProofFlags, true)
	return cmd
}

func runRun(opts *RunOptions) error {
	opts.command = "run"
	if opts.JSON {
		return cmdutil.Usagef("run takes --format json, not --json")
	}
	if err := opts.ProofFlags.validate(); err != nil {
		return err
	}
	if err := needConfirmation(opts.cmdEnv, &opts.ProvisionFlags); err != nil {
		return err
	}
	if opts.File != "" && len(opts.specs) > 0 {
		// A bad declaration is reported by openProvision, as for plan.
		// The declaration is read once: it may be a FIFO.
		decl, err := loadDeclaration(opts.cmdEnv, opts.File)
		if cmdutil.IsInterrupted(err) {
			return err
		}
		if err == nil {
			if err := opts.checkCredentials(decl); err != nil {
				return err
			}
			opts.loaded = decl
		}
	}
	opts.humanToStderr = true
	s, err := openProvision(opts.cmdEnv, &opts.ProvisionFlags)
	if err != nil {
		return err
	}
	defer s.Close()
	return runStages(opts.cmdEnv, &opts.ProvisionFlags, &opts.ProofFlags, s)
}

// runStages runs apply, verify and invoke on an open provisioning session
// (run and demo), writing the report to stdout.
func runStages(env cmdEnv, o *ProvisionFlags, po *ProofFlags, s *provisionSession) error {
	ios := env.IO
	if po.command == "" {
		po.command = "run" // demo runs run's stages
	}
	fmt.Fprintf(ios.ErrOut, "==> Stage 1/3: provision (terraform plan and apply)\n")
	applied, err := s.planApply(env, o, false)
	if err != nil {
		return fmt.Errorf("stage provision failed: %w", err)
	}
	p, err := newProofStages(env, s.decl, s.target, po)
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "==> Stage 2/3: verify the bindings\n")
	if err := p.runVerify(); err != nil {
		return fmt.Errorf("stage verify failed: %w", err)
	}
	if verr := verifyError(p.verify); verr != nil {
		if err := p.write(ios.Out, "verify", applied); err != nil {
			return err
		}
		return fmt.Errorf("stage verify failed: %w", verr)
	}
	fmt.Fprintf(ios.ErrOut, "==> Stage 3/3: invoke each service as its caller\n")
	if err := p.runInvoke(); err != nil {
		return fmt.Errorf("stage invoke failed: %w", err)
	}
	failed := ""
	if pipeline.Failed(p.invoke) {
		failed = "invoke"
	}
	if err := p.write(ios.Out, failed, applied); err != nil {
		return err
	}
	if err := p.invokeVerdict(); err != nil {
		return fmt.Errorf("stage invoke failed: %w", err)
	}
	return nil
}
