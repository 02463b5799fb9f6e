// Package cli holds invokerctl's cobra commands, in the shape of gh's
// (cli/cli): one file per verb with an options struct, a NewCmdX(f, runF)
// constructor and a run function; the root lists every verb. What the
// verbs share lives in files named for it (command, flags, target,
// provision, confirm, outputs, proof_stages, proof_report).
package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
)

// Version is set at build time with -ldflags "-X .../pkg/internal/cli.Version=...".
var Version = "dev"

// NewCmdRoot builds the command tree on f.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "invokerctl",
		Short:         "Declare, provision and prove who may invoke Cloud Run services",
		Long:          "invokerctl provisions roles/run.invoker grants on Cloud Run services and Cloud Run functions (2nd gen)\nwith Terraform, then proves them: it reads the effective IAM policies and invokes each service\nwith the caller's ID token.\n\nSIGINT or SIGTERM ends any command promptly (Terraform is interrupted and given time to stop) with\nexit code 130 or 143 (128 + the signal) and a message saying what it was doing; emulator serve\nstops on either and exits 0.",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	ios := f.IOStreams
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cmdutil.Usage(fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath()))
	})
	root.AddCommand(
		NewCmdValidate(f, nil),
		NewCmdPlan(f, nil),
		NewCmdApply(f, nil),
		NewCmdDestroy(f, nil),
		NewCmdVerify(f, nil),
		NewCmdInvoke(f, nil),
		NewCmdRun(f, nil),
		NewCmdAudit(f, nil),
		NewCmdDrift(f, nil),
		NewCmdDemo(f, nil),
		NewCmdEmulator(f),
		NewCmdForceUnlock(f, nil),
		NewCmdVersion(f, nil),
	)
	return root
}

// Run executes invokerctl with args and returns the process exit code.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		// Whatever failed once the command was interrupted failed
		// because of it (Terraform stopped, a request cancelled).
		err = cmdutil.Interrupted(ctx, "", err)
	}
	if err != nil && !cmdutil.IsSilent(err) {
		fmt.Fprintf(f.IOStreams.ErrOut, "Error: %v\n", err)
	}
	return cmdutil.ExitCodeOf(err)
}
