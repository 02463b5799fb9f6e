package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
	"github.com/invokerctl/invokerctl/pkg/internal/tf"
)

// What every verb's options and RunE are built from.

// cmdEnv is what every run function takes from its command besides flags:
// the streams, the factory and the command's context.
type cmdEnv struct {
	IO      *iostreams.IOStreams
	Factory *cmdutil.Factory
	Ctx     context.Context
}

func newCmdEnv(f *cmdutil.Factory) cmdEnv { return cmdEnv{IO: f.IOStreams, Factory: f} }

// runE is the RunE of a verb whose options embed env: it hands the
// command's context to the options, then calls runF (a test's) or, when
// runF is nil, the verb's own run function.
func runE[O any](env *cmdEnv, opts O, runF, run func(O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		env.Ctx = cmd.Context()
		if runF != nil {
			return runF(opts)
		}
		return untilStopped(env.Ctx, stopGrace, func() error { return run(opts) })
	}
}

// stopGrace is how long a command may take to stop once interrupted
// before it is abandoned: longer than Terraform's own grace (after which
// the tf package kills Terraform), so that Terraform is never abandoned
// while it can still stop by itself.
const stopGrace = tf.InterruptGrace + 10*time.Second

// untilStopped runs a verb's run function. Every wait of the verbs
// watches the context, so an interrupt ends them promptly; should one
// still be blocked grace after the interrupt, the command ends without it
// rather than never.
func untilStopped(ctx context.Context, grace time.Duration, run func() error) error {
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return cmdutil.Interrupted(ctx, "", fmt.Errorf("the command did not stop within %s; exiting without waiting for it", grace))
	}
}
