// Package cli holds invokerctl's cobra commands: one file per verb, each with
// an options struct and a run function that takes its dependencies.
package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../pkg/cli.Version=...".
var Version = "dev"

// NewRootCmd builds the command tree writing to ios.
func NewRootCmd(ios *iostreams.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:           "invokerctl",
		Short:         "Declare, provision and prove who may invoke Cloud Run services",
		Long:          "invokerctl provisions roles/run.invoker grants on Cloud Run services and Cloud Run functions (2nd gen)\nwith Terraform, then proves them: it reads the effective IAM policies and invokes each service\nwith the caller's ID token.",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	for _, add := range subcommands {
		root.AddCommand(add(ios))
	}
	return root
}

// subcommands is filled by each command file's init, so adding a verb means
// adding one file.
var subcommands []func(*iostreams.IOStreams) *cobra.Command

func register(f func(*iostreams.IOStreams) *cobra.Command) { subcommands = append(subcommands, f) }

// Run executes invokerctl with args and returns the process exit code.
func Run(ctx context.Context, ios *iostreams.IOStreams, args []string) int {
	root := NewRootCmd(ios)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ec *exitCodeError
		if !(errors.As(err, &ec) && ec.err == nil) {
			fmt.Fprintf(ios.ErrOut, "Error: %v\n", err)
		}
	}
	return ExitCodeOf(err)
}
