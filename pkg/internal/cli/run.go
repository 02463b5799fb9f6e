package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/config"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/pipeline"
)

func init() { register(newRunCmd) }

func newRunCmd(ios *iostreams.IOStreams) *cobra.Command {
	o, po := &provisionOptions{}, &proofOptions{}
	cmd := &cobra.Command{
		Use:   "run -f FILE",
		Short: "plan → apply → verify → invoke, stopping at the first failing stage",
		Long: `Provision the declaration with Terraform (plan, confirm unless --auto-approve, apply that
plan), confirm the bindings through the Google APIs (verify), then call each service with
its caller's ID token and prove the refusals (invoke). Terraform's output, the plan summary
and progress go to stderr; the report (--format table, json or junit) goes to stdout.

Exit codes: 0 every stage passed; 1 an error (bad declaration, Terraform or API failure,
not confirmed); 3 verify failed; 4 invoke failed.`,
		Example: `  invokerctl run -f invokers.yaml --auto-approve
  invokerctl run -f invokers.yaml --auto-approve --format junit > invokers.xml
  invokerctl run -f examples/quickstart/invokers.yaml --emulator --seed examples/quickstart/seed.yaml --auto-approve`,
		Args: provisionArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd.Context(), ios, o, po, defaultProvisionDeps(), defaultProofDeps())
		},
	}
	addProvisionFlags(cmd, o, true)
	cmd.Flags().Lookup("json").Hidden = true // --format json replaces it here
	addProofFlags(cmd, po, true)
	return cmd
}

func runRun(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, po *proofOptions, deps provisionDeps, pdeps proofDeps) error {
	if o.JSON {
		return &usageError{err: fmt.Errorf("run takes --format json, not --json")}
	}
	if err := po.validate(); err != nil {
		return err
	}
	if o.File != "" && !o.AutoApprove && !deps.isTerminal(ios.In) {
		return errNoTerminal
	}
	if o.File != "" && len(po.specs) > 0 {
		// A bad declaration is reported by openProvision, as for plan.
		if decl, err := config.Load(o.File); err == nil {
			if err := po.checkCredentials(decl); err != nil {
				return err
			}
		}
	}
	o.humanToStderr = true
	s, err := openProvision(ctx, ios, o, deps)
	if err != nil {
		return err
	}
	defer s.Close()
	return runStages(ctx, ios, o, po, s, pdeps)
}

// runStages runs apply, verify and invoke on an open provisioning session.
func runStages(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, po *proofOptions, s *provisionSession, pdeps proofDeps) error {
	fmt.Fprintf(ios.ErrOut, "==> Stage 1/3: provision (terraform plan and apply)\n")
	applied, err := s.planApply(ctx, ios, o, false)
	if err != nil {
		return fmt.Errorf("stage provision failed: %w", err)
	}
	p := &proofStages{ios: ios, decl: s.decl, target: s.target, o: po, deps: pdeps}
	if err := p.open(ctx); err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "==> Stage 2/3: verify the bindings\n")
	if err := p.runVerify(ctx); err != nil {
		return fmt.Errorf("stage verify failed: %w", err)
	}
	if verr := verifyError(p.verify); verr != nil {
		if err := p.write(ios.Out, "verify", applied); err != nil {
			return err
		}
		return fmt.Errorf("stage verify failed: %w", verr)
	}
	fmt.Fprintf(ios.ErrOut, "==> Stage 3/3: invoke each service as its caller\n")
	if err := p.runInvoke(ctx); err != nil {
		return fmt.Errorf("stage invoke failed: %w", err)
	}
	failed := ""
	if pipeline.Failed(p.invoke) {
		failed = "invoke"
	}
	if err := p.write(ios.Out, failed, applied); err != nil {
		return err
	}
	if failed != "" {
		return WithExitCode(ExitInvokeFailed, fmt.Errorf("stage invoke failed: %w", errInvokeFailed))
	}
	return nil
}
