package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// ApplyOptions are the inputs of `invokerctl apply`.
type ApplyOptions struct {
	cmdEnv
	ProvisionFlags
	// PlanPath is the saved plan of `apply PLAN`.
	PlanPath string
}

// NewCmdApply builds `apply`; runF replaces applyRun in tests.
func NewCmdApply(f *cmdutil.Factory, runF func(*ApplyOptions) error) *cobra.Command {
	opts := &ApplyOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR [--auto-approve] | apply PLAN|DIR",
		Short: "Provision a declaration: create its accounts and grant roles/run.invoker",
		Long: `Validate the declaration, plan, show the grant changes and, once confirmed, apply exactly
that plan. Without --auto-approve the confirmation is asked on the terminal; when standard
input is not a terminal, apply refuses. After applying, the accounts and the bindings
Terraform manages are listed (or printed as JSON with --json).

State is kept in the working directory (or the declared backend) and never deleted: a
failed apply is resumed by running apply again.

With a plan file saved by 'invokerctl plan --out PLAN', apply applies exactly that plan,
without asking (the review was the approval; --auto-approve is accepted). It first checks
that the declaration at the plan's recorded path is unchanged, that the target (--emulator,
$INVOKERCTL_EMULATOR_URL or Google) and the project are the plan's, and that this invokerctl,
its Terraform module and the installed provider are the ones that made it; then it lays out
the working directory (--workdir, a fresh one on another runner is fine with remote state)
and applies. A plan whose state moved on since it was made is refused by Terraform. Every
refusal changes nothing.

With a directory of plan files (plan -f DIR --out PLANS/), apply PLANS/ reads and checks
every plan in it first and applies none if one is refused; then it applies each, with one
summary and the worst exit code at the end.

Exit codes: 0 applied or nothing to do, 1 error, refusal or not confirmed, 64 a usage error.`,
		Example: `  invokerctl apply -f invokers.yaml
  invokerctl apply -f invokers.yaml --auto-approve --json
  invokerctl apply -f invokers.yaml --emulator=http://127.0.0.1:8080 --auto-approve
  invokerctl plan -f invokers.yaml --out reviewed.plan && invokerctl apply reviewed.plan
  invokerctl plan -f declarations/ --out plans/ && invokerctl apply plans/`,
		Args: applyArgs(opts),
		RunE: eachDeclaration(&opts.cmdEnv, opts, runF, applyRun),
	}
	addProvisionFlags(cmd, &opts.ProvisionFlags, true)
	return cmd
}

// applyArgs accepts one positional PLAN, and not together with -f.
func applyArgs(opts *ApplyOptions) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 || strings.Contains(args[0], "://") {
			return noArgs(cmd, args)
		}
		if len(args) > 1 {
			return cmdutil.Usagef("apply takes one plan file, got %d arguments", len(args))
		}
		if ext := strings.ToLower(filepath.Ext(args[0])); ext == ".yaml" || ext == ".yml" {
			return cmdutil.Usagef("unexpected argument %q: a declaration is given with -f (apply -f %s); a positional argument is a plan file saved by 'plan --out'", args[0], args[0])
		}
		if cmd.Flags().Changed("file") {
			return cmdutil.Usagef("give either -f FILE (plan and apply) or a saved PLAN file, not both")
		}
		opts.PlanPath = args[0]
		return nil
	}
}

func applyRun(opts *ApplyOptions) error {
	if opts.PlanPath != "" {
		return applyPlanRun(opts)
	}
	return planAndApply(opts.cmdEnv, &opts.ProvisionFlags, false)
}

// planAndApply is apply, or destroy when destroy is set: plan, show,
// confirm, apply that plan file, and report.
func planAndApply(env cmdEnv, o *ProvisionFlags, destroy bool) error {
	if err := needConfirmation(env, o); err != nil {
		return err
	}
	s, err := openProvision(env, o)
	if err != nil {
		return err
	}
	defer s.Close()
	out, err := s.planApply(env, o, destroy)
	if o.JSON && out != nil {
		if jerr := writeJSON(env.IO.Out, out); err == nil {
			err = jerr
		}
	}
	if err != nil || o.JSON {
		return err
	}
	applied := *out.Applied
	switch {
	case destroy && applied:
		fmt.Fprintln(env.IO.Out, "Destroyed: the accounts and grants of this declaration are gone.")
	case applied:
		fmt.Fprintln(env.IO.Out, "Applied.")
		renderOutputs(env.IO.Out, out.Outputs)
	case !destroy:
		renderOutputs(env.IO.Out, out.Outputs)
	}
	return nil
}
