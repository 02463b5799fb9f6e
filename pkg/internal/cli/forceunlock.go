package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

// ForceUnlockOptions are the inputs of `invokerctl force-unlock`.
type ForceUnlockOptions struct {
	cmdEnv
	ProvisionFlags
	LockID string
}

// NewCmdForceUnlock builds `force-unlock`; runF replaces forceUnlockRun in
// tests.
func NewCmdForceUnlock(f *cmdutil.Factory, runF func(*ForceUnlockOptions) error) *cobra.Command {
	opts := &ForceUnlockOptions{cmdEnv: newCmdEnv(f)}
	cmd := &cobra.Command{
		Use:   "force-unlock -f FILE LOCK_ID [--auto-approve]",
		Short: "Release a state lock left by a run that was killed",
		Long: `Release the Terraform state lock LOCK_ID of the declaration's backend (terraform force-unlock),
after confirmation. Use it only for a lock whose run is gone — a killed or crashed apply:
releasing the lock of a run still in progress lets two runs write the state at once.
plan, apply and destroy print this command, with the lock's ID, when they find the state locked.

Exit codes: 0 released, 1 error or not confirmed.`,
		Example: `  invokerctl force-unlock -f invokers.yaml 1712345678901234
  invokerctl force-unlock -f invokers.yaml --emulator=http://127.0.0.1:8080 1712345678901234 --auto-approve`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.Usagef("force-unlock takes one argument, the lock ID (got %d)", len(args))
			}
			opts.LockID = args[0]
			return nil
		},
		RunE: runE(&opts.cmdEnv, opts, runF, forceUnlockRun),
	}
	addProvisionFlags(cmd, &opts.ProvisionFlags, true)
	return cmd
}

func forceUnlockRun(opts *ForceUnlockOptions) error {
	if err := needConfirmation(opts.cmdEnv, &opts.ProvisionFlags); err != nil {
		return err
	}
	s, err := openProvision(opts.cmdEnv, &opts.ProvisionFlags)
	if err != nil {
		return err
	}
	defer s.Close()
	human := humanOut(opts.cmdEnv, &opts.ProvisionFlags)
	if !opts.AutoApprove {
		ok, err := confirm(opts.Ctx, opts.IO.In, human, fmt.Sprintf("Release state lock %s (only if its run is gone)", opts.LockID))
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotConfirmed
		}
	}
	if err := s.runner.ForceUnlock(opts.Ctx, opts.LockID); err != nil {
		return err
	}
	fmt.Fprintf(human, "Released state lock %s.\n", opts.LockID)
	return nil
}

// withUnlockHint adds to a Terraform error that found the state locked who
// holds the lock and the command that releases it, should that run be gone.
func withUnlockHint(err error, o *ProvisionFlags) error {
	info, ok := tf.StateLocked(err)
	if !ok || info.ID == "" {
		return err
	}
	cmd := []string{"invokerctl", "force-unlock", "-f", o.File}
	if o.Workdir != "" {
		cmd = append(cmd, "--workdir", o.Workdir)
	}
	switch {
	case o.Emulator == inProcessEmulator:
		cmd = append(cmd, "--emulator")
	case o.Emulator != "":
		cmd = append(cmd, "--emulator="+o.Emulator)
	}
	cmd = append(cmd, info.ID)
	if info.Operation == "init" && strings.HasPrefix(info.Path, "gs://") {
		// The gcs backend takes this lock to create the first, empty
		// state; Terraform needs that same lock to force-unlock, so only
		// removing the lock object (at exactly its generation) releases it.
		return fmt.Errorf("%w\nThe state is locked by %s (init, since %s; lock ID %s), before any state was written.\nIf that run is gone (killed), remove the lock object with:\n  gcloud storage rm --if-generation-match=%s %s",
			err, info.Who, info.Created, info.ID, info.ID, info.Path)
	}
	return fmt.Errorf("%w\nThe state is locked by %s (%s, since %s; lock ID %s).\nIf that run is gone (killed), release the lock with:\n  %s",
		err, info.Who, info.Operation, info.Created, info.ID, strings.Join(cmd, " "))
}
