package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
)

func init() { register(newDestroyCmd) }

func newDestroyCmd(ios *iostreams.IOStreams) *cobra.Command {
	o := &provisionOptions{}
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
		Args: provisionArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDestroy(cmd.Context(), ios, o, defaultProvisionDeps())
		},
	}
	addProvisionFlags(cmd, o, true)
	return cmd
}

func runDestroy(ctx context.Context, ios *iostreams.IOStreams, o *provisionOptions, deps provisionDeps) error {
	return planAndApply(ctx, ios, o, deps, true)
}
