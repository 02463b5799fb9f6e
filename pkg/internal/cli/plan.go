package cli

import (
	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// PlanOptions are the inputs of `invokerctl plan`.
type PlanOptions struct {
	cmdEnv
	ProvisionFlags
}

// NewCmdPlan builds `plan`; runF replaces planRun in tests.
func NewCmdPlan(f *cmdutil.Factory, runF func(*PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{cmdEnv: newCmdEnv(f)}
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
		Args: noArgs,
		RunE: eachDeclaration(&opts.cmdEnv, opts, runF, planRun),
	}
	addProvisionFlags(cmd, &opts.ProvisionFlags, false)
	return cmd
}

func planRun(opts *PlanOptions) error {
	s, err := openProvision(opts.cmdEnv, &opts.ProvisionFlags)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.checkTargets(opts.cmdEnv); err != nil {
		return err
	}
	if err := s.runner.Init(opts.Ctx); err != nil {
		return tfInterrupted(opts.Ctx, "running terraform init", errNothingChanged, withUnlockHint(err, &opts.ProvisionFlags))
	}
	res, err := s.runner.Plan(opts.Ctx, false)
	if err != nil {
		return tfInterrupted(opts.Ctx, "running terraform plan", errNothingChanged, withUnlockHint(err, &opts.ProvisionFlags))
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, s.result(res)); err != nil {
			return err
		}
	} else {
		res.Summary.Render(opts.IO.Out)
	}
	if res.Changes {
		return cmdutil.WithExitCode(cmdutil.ExitChanges, nil)
	}
	return nil
}
