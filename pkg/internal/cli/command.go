package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/invokerctl/invokerctl/pkg/internal/cmdutil"
	"github.com/invokerctl/invokerctl/pkg/internal/iostreams"
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
		return run(opts)
	}
}
