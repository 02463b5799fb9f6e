package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// ApplyOptions are the inputs of `invokerctl apply`.
type ApplyOptions struct {
	cmdEnv
	ProvisionFlags
}

// NewCmdApply builds `apply`; runF replaces applyRun in tests.
func NewCmdApply(f *cmdutil.Factory, runF func(*ApplyOptions) error) *cobra.Command {
	opts := &ApplyOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--auto-approve]",
		Short: "Provision a declaration: create its accounts and grant roles/run.invoker",
		Long: `Validate the declaration, plan, show the grant changes and, once confirmed, apply exactly
that plan. Without --auto-approve the confirmation is asked on the terminal; when standard
input is not a terminal, apply refuses. After applying, the accounts and the bindings
Terraform manages are listed (or printed as JSON with --json).

State is kept in the working directory (or the declared backend) and never deleted: a
failed apply is resumed by running apply again.

Exit codes: 0 applied or nothing to do, 1 error or not confirmed.`,
		Example: `  invokerctl apply -f invokers.yaml
  invokerctl apply -f invokers.yaml --auto-approve --json
  invokerctl apply -f invokers.yaml --emulator=http://127.0.0.1:8080 --auto-approve`,
		Args: noArgs,
		RunE: eachDeclaration(&opts.cmdEnv, opts, runF, applyRun),
	}
	addProvisionFlags(cmd, &opts.ProvisionFlags, true)
	return cmd
}

func applyRun(opts *ApplyOptions) error {
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
