package cli

import (
	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// DestroyOptions are the inputs of `invokerctl destroy`.
type DestroyOptions struct {
	cmdEnv
	ProvisionFlags
}

// NewCmdDestroy builds `destroy`; runF replaces destroyRun in tests.
func NewCmdDestroy(f *cmdutil.Factory, runF func(*DestroyOptions) error) *cobra.Command {
	opts := &DestroyOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "destroy -f FILE [--auto-approve]",
		Short: "Remove the accounts and grants a declaration created",
		Long: `Plan the destruction of everything Terraform manages for the declaration (its accounts,
its invoker members or bindings, its token-creator grants), show it and, once confirmed,
apply exactly that plan. Members granted outside the declaration are left alone, except on
targets the declaration owned authoritatively, whose invoker binding is removed.

Exit codes: 0 destroyed or nothing to do, 1 error or not confirmed.`,
		Example: `  invokerctl destroy -f invokers.yaml
  invokerctl destroy -f invokers.yaml --auto-approve`,
		Args: noArgs,
		RunE: eachDeclaration(&opts.cmdEnv, opts, runF, destroyRun),
	}
	addProvisionFlags(cmd, &opts.ProvisionFlags, true)
	return cmd
}

func destroyRun(opts *DestroyOptions) error {
	return planAndApply(opts.cmdEnv, &opts.ProvisionFlags, true)
}
